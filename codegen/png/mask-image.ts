/**
 * Draw a block (or frame) classification grid as an RGB PNG, for reports: one colour per class (empty /
 * partial / full), cells scaled up by an integer factor (nearest neighbour, so every cell is a crisp square),
 * thin lines at unit (frame) boundaries, and a small labelled legend strip under the grid.
 */
import { PNG } from 'pngjs';
import { TensorError } from '../../core/tensor.js';
import { drawText, GLYPH_HEIGHT, textWidth } from './tiny-font.js';

/** Cell classes of a grid, as stored in its Uint8Array. */
export const CELL_CLASS = { empty: 0, partial: 1, full: 2 } as const;

/** An RGB colour. */
export type Rgb = readonly [number, number, number];

/** The palette: classes are told apart by lightness as well as hue, so they survive grayscale printing. */
export const MASK_COLORS: {
  readonly empty: Rgb;
  readonly partial: Rgb;
  readonly full: Rgb;
  readonly grid: Rgb;
  readonly background: Rgb;
  readonly text: Rgb;
} = {
  empty: [246, 246, 246],
  partial: [244, 165, 50],
  full: [32, 84, 170],
  grid: [110, 110, 110],
  background: [255, 255, 255],
  text: [20, 20, 20],
};

/** Options of {@link renderClassGridPng}. */
export interface ClassGridImageOptions {
  /** Target length in pixels of the grid's longer side (default 1024); cells never get smaller than 1 px. */
  readonly maxSize?: number;
  /** Cells per unit down the rows (may be fractional, e.g. 3600 / 128 blocks per frame): draws unit lines. */
  readonly unitRows?: number;
  /** Cells per unit across the columns. */
  readonly unitCols?: number;
  /** Draw the legend strip (default true). */
  readonly legend?: boolean;
}

/** Where things go in the image. */
export interface ClassGridImageLayout {
  /** Pixels per cell side. */
  readonly scale: number;
  readonly gridWidth: number;
  readonly gridHeight: number;
  /** Whole image, legend included. */
  readonly width: number;
  readonly height: number;
  /** First row of the legend strip (= gridHeight), or null without a legend. */
  readonly legendTop: number | null;
}

const LEGEND: readonly (keyof typeof CELL_CLASS)[] = ['full', 'partial', 'empty'];
const SWATCH = 9;
const LEGEND_HEIGHT = GLYPH_HEIGHT + 8;
/** Unit lines are drawn only when units are at least this many pixels apart, so they never hide the cells. */
const MIN_LINE_SPACING = 4;

function legendWidth(): number {
  return LEGEND.reduce((w, label) => w + SWATCH + 3 + textWidth(label) + 8, 2);
}

/** Image geometry for a `rows x cols` grid. */
export function classGridImageLayout(
  rows: number,
  cols: number,
  options: ClassGridImageOptions = {},
): ClassGridImageLayout {
  const maxSize = options.maxSize ?? 1024;
  const scale = Math.max(1, Math.floor(maxSize / Math.max(rows, cols)));
  const gridWidth = cols * scale;
  const gridHeight = rows * scale;
  const legend = options.legend ?? true;
  return {
    scale,
    gridWidth,
    gridHeight,
    width: legend ? Math.max(gridWidth, legendWidth()) : gridWidth,
    height: legend ? gridHeight + LEGEND_HEIGHT : gridHeight,
    legendTop: legend ? gridHeight : null,
  };
}

/** Pixel offsets of the unit boundaries inside a grid side, or none when units would be too close. */
function unitLines(cellsPerUnit: number | undefined, scale: number, extent: number): number[] {
  if (cellsPerUnit === undefined || !(cellsPerUnit > 0) || cellsPerUnit * scale < MIN_LINE_SPACING) return [];
  const lines: number[] = [];
  for (let j = 1; Math.round(j * cellsPerUnit * scale) < extent; j++)
    lines.push(Math.round(j * cellsPerUnit * scale));
  return lines;
}

/**
 * Render a class grid (`rows x cols` bytes, row-major, 0 empty / 1 partial / 2 full) as an RGB PNG image.
 * Rows run down the image (query blocks), columns across (key blocks).
 */
export function renderClassGridPng(
  grid: Uint8Array,
  rows: number,
  cols: number,
  options: ClassGridImageOptions = {},
): Buffer {
  if (!Number.isSafeInteger(rows) || !Number.isSafeInteger(cols) || rows < 1 || cols < 1) {
    throw new TensorError('grid', `rows and cols must be positive integers, got ${rows} x ${cols}`);
  }
  if (grid.length !== rows * cols)
    throw new TensorError(
      'grid',
      `expected shape [${rows}, ${cols}] (${rows * cols} cells), got ${grid.length}`,
    );
  const bad = grid.findIndex((c) => c > 2);
  if (bad >= 0)
    throw new TensorError(
      'grid',
      `cell ${bad} has class ${grid[bad]}; classes are 0 empty, 1 partial, 2 full`,
    );

  const layout = classGridImageLayout(rows, cols, options);
  const { scale, width, height } = layout;
  const png = new PNG({ width, height });
  const put = (x: number, y: number, [r, g, b]: Rgb) => {
    const o = (y * width + x) * 4;
    png.data[o] = r;
    png.data[o + 1] = g;
    png.data[o + 2] = b;
    png.data[o + 3] = 255;
  };
  const colours: Rgb[] = [MASK_COLORS.empty, MASK_COLORS.partial, MASK_COLORS.full];
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) put(x, y, MASK_COLORS.background);
  for (let y = 0; y < layout.gridHeight; y++) {
    const rowBase = Math.floor(y / scale) * cols;
    for (let x = 0; x < layout.gridWidth; x++) put(x, y, colours[grid[rowBase + Math.floor(x / scale)]!]!);
  }
  for (const x of unitLines(options.unitCols, scale, layout.gridWidth)) {
    for (let y = 0; y < layout.gridHeight; y++) put(x, y, MASK_COLORS.grid);
  }
  for (const y of unitLines(options.unitRows, scale, layout.gridHeight)) {
    for (let x = 0; x < layout.gridWidth; x++) put(x, y, MASK_COLORS.grid);
  }
  if (layout.legendTop !== null) {
    const top = layout.legendTop + 3;
    let x = 2;
    for (const label of LEGEND) {
      for (let dy = 0; dy < SWATCH; dy++) {
        for (let dx = 0; dx < SWATCH; dx++) {
          const edge = dx === 0 || dy === 0 || dx === SWATCH - 1 || dy === SWATCH - 1;
          put(x + dx, top + dy, edge ? MASK_COLORS.grid : MASK_COLORS[label]);
        }
      }
      drawText(label, x + SWATCH + 3, top + 1, (px, py) => put(px, py, MASK_COLORS.text));
      x += SWATCH + 3 + textWidth(label) + 8;
    }
  }
  return PNG.sync.write(png, { colorType: 2 });
}
