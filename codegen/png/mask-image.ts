/**
 * The pictures of a plan a researcher reads: a title (pattern, parameters, layout, sparsity), query down and
 * key across with axis labels, frame (or tile) grid lines numbered along both axes, and a legend. Two levels:
 *   - blocks: every (query block, key block) pair in its class colour (full / partial / empty), frame
 *     boundaries drawn where they fall between blocks;
 *   - frames (tiles): every unit pair shaded by the share of its query-key pairs the pattern allows, so a
 *     pattern with partial tiles everywhere (a radial window) still shows its structure.
 * Each is a {@link Scene}, written as PNG and as SVG.
 */

import { realTokensPerBlock } from '../../compiler/classify/boxes.js';
import { allowedPairCounter } from '../../compiler/classify/classify.js';
import type { PatternInstance } from '../../compiler/ir.js';
import type { ConcreteLayout } from '../../compiler/layout.js';
import { paddingCounts } from '../../compiler/plan/coverage.js';
import type { BlockPlan } from '../../compiler/plan/plan.js';
import { TensorError } from '../../core/tensor.js';
import { classesOfPlan, unitAlignedPattern, unitLevelClasses } from './classes.js';
import { luminance, mix } from './colormap.js';
import {
  cellColors,
  type FontRole,
  lineHeight,
  type Rgb,
  type Scene,
  type SceneItem,
  textWidth,
} from './scene.js';

/** Cell classes of a grid, as stored in its Uint8Array. */
export const CELL_CLASS = { empty: 0, partial: 1, full: 2 } as const;

/** The palette: classes differ in lightness as well as hue, so they survive grayscale printing. */
export const MASK_COLORS = {
  empty: [244, 244, 244] as Rgb,
  partial: [240, 160, 48] as Rgb,
  full: [32, 84, 170] as Rgb,
  /** The frame-level shade runs from `none` (no pair allowed) to `full` (every pair). */
  none: [252, 252, 252] as Rgb,
  grid: [90, 90, 90] as Rgb,
  frame: [40, 40, 40] as Rgb,
  background: [255, 255, 255] as Rgb,
  text: [20, 20, 20] as Rgb,
  muted: [90, 90, 90] as Rgb,
};

/** A stretch of one axis (a frame, a tile, the text) in cell units, with its label. */
export interface AxisSegment {
  readonly start: number;
  readonly end: number;
  readonly label: string;
}

/** What a grid picture shows. */
export interface GridPicture {
  /** Title lines: the first is the headline. */
  readonly title: readonly string[];
  readonly rows: number;
  readonly cols: number;
  /** RGB per cell, row-major (see `cellColors`). */
  readonly colors: Uint8Array;
  /** Frames (tiles, text) down the rows and across the columns, in cells. */
  readonly rowSegments: readonly AxisSegment[];
  readonly colSegments: readonly AxisSegment[];
  readonly xLabel: string;
  readonly yLabel: string;
  /** Cell coordinates of major boundaries (a tiled layout's groups of tiles per time slab), drawn darker. */
  readonly rowGroups?: readonly number[];
  readonly colGroups?: readonly number[];
  /** A label per cell (row-major), written in cells big enough to hold it. */
  readonly cellLabels?: readonly string[];
  /** Draw segment lines across the grid only when cells are at least this big (default 1). */
  readonly minCellForLines?: number;
  readonly legend:
    | {
        readonly kind: 'classes';
        readonly entries: readonly { readonly label: string; readonly color: Rgb }[];
      }
    | { readonly kind: 'ramp'; readonly label: string; readonly from: Rgb; readonly to: Rgb };
  /** Target side of the grid in pixels (default 720); cells are whole pixels, at least 1. */
  readonly maxSize?: number;
}

const PAD = 16;
const GAP = 8;
const LINE_GAP = 4;
/** Grid lines across the cells only where segments are at least this many pixels apart. */
const MIN_LINE_SPACING = 12;
/** Boundary ticks outside the grid only where segments are at least this many pixels apart. */
const MIN_TICK_SPACING = 4;
const TICK = 5;
/** Side of a legend swatch, width of the shade ramp. */
const SWATCH = 18;
/** Headline; everything else (title lines, ticks, labels, cell values, legend). */
const HEAD: FontRole = 'title';
const TEXT: FontRole = 'normal';

const isUnit = (s: AxisSegment) => /^\d+$/.test(s.label);

/** The frames (tiles) of an axis: they are counted and numbered; the text segment is labelled by name. */
function units(segments: readonly AxisSegment[]): readonly AxisSegment[] {
  const counted = segments.filter(isUnit);
  return counted.length > 0 ? counted : segments;
}

/** Labels every k-th unit, k a round number (1, 2, 5, 10, 20, ...) that keeps neighbouring labels apart. */
function labelled(segments: readonly AxisSegment[], scale: number): Set<number> {
  const widest = Math.max(...segments.map((s) => textWidth(s.label, TEXT)), 1);
  const spans = units(segments)
    .map((s) => (s.end - s.start) * scale)
    .filter((w) => w > 0);
  const narrowest = Math.min(...spans);
  let every = 1;
  for (let k = 0; every * narrowest < widest + 8; k++) every = [1, 2, 5][k % 3]! * 10 ** Math.floor(k / 3);
  const shown = new Set<number>();
  segments.forEach((s, i) => {
    if (!isUnit(s) || Number(s.label) % every === 0) shown.add(i);
  });
  return shown;
}

/** A 1-pixel line through pixels (x0, y0) to (x1, y1), both included (pixel centres are at + 0.5). */
function pixelLine(x0: number, y0: number, x1: number, y1: number, stroke: Rgb): SceneItem {
  return { kind: 'line', x1: x0 + 0.5, y1: y0 + 0.5, x2: x1 + 0.5, y2: y1 + 0.5, stroke, width: 1 };
}

/** The scene of a grid picture. */
export function gridFigure(p: GridPicture): Scene {
  if (!Number.isSafeInteger(p.rows) || !Number.isSafeInteger(p.cols) || p.rows < 1 || p.cols < 1)
    throw new TensorError('grid', `rows and cols must be positive integers, got ${p.rows} x ${p.cols}`);
  if (p.colors.length !== 3 * p.rows * p.cols)
    throw new TensorError('grid', `expected ${p.rows * p.cols} cell colours, got ${p.colors.length / 3}`);
  const scale = Math.max(1, Math.floor((p.maxSize ?? 720) / Math.max(p.rows, p.cols)));
  const gridW = p.cols * scale;
  const gridH = p.rows * scale;
  const lh = lineHeight(TEXT);
  const headH = lineHeight(HEAD);
  const rowTicks = labelled(p.rowSegments, scale);
  const colTicks = labelled(p.colSegments, scale);
  const tickWidth = Math.max(
    0,
    ...p.rowSegments.map((s, i) => (rowTicks.has(i) ? textWidth(s.label, TEXT) : 0)),
  );
  const left = PAD + lh + GAP + tickWidth + TICK + 6;
  const titleHeight = headH + (p.title.length - 1) * (lh + LINE_GAP);
  const top = PAD + titleHeight + 2 * GAP;
  const legendX = left + gridW + 2 * PAD;
  const legendWidth =
    p.legend.kind === 'classes'
      ? SWATCH + GAP + Math.max(...p.legend.entries.map((e) => textWidth(e.label, TEXT)))
      : Math.max(SWATCH + 2 * GAP + textWidth('100%', TEXT), textWidth(p.legend.label, TEXT));
  const width = Math.max(
    legendX + legendWidth + PAD,
    PAD + Math.max(...p.title.map((t, i) => textWidth(t, i === 0 ? HEAD : TEXT))) + PAD,
  );
  const belowGrid = top + gridH + TICK + 4;
  const height = belowGrid + lh + GAP + lh + PAD;
  const items: SceneItem[] = [];
  /** Text centred vertically on y. */
  const text = (
    x: number,
    y: number,
    s: string,
    anchor: 'start' | 'middle' | 'end' = 'start',
    color: Rgb = MASK_COLORS.text,
    font: FontRole = TEXT,
  ): void => {
    items.push({ kind: 'text', x, y, text: s, font, color, anchor });
  };

  p.title.forEach((line, i) => {
    if (i === 0) text(PAD, PAD + headH / 2, line, 'start', MASK_COLORS.text, HEAD);
    else
      text(
        PAD,
        PAD + headH + LINE_GAP + (i - 1) * (lh + LINE_GAP) + lh / 2,
        line,
        'start',
        MASK_COLORS.muted,
      );
  });
  items.push({ kind: 'cells', x: left, y: top, cols: p.cols, rows: p.rows, scale, colors: p.colors });
  const labels = p.cellLabels;
  if (labels?.every((l) => textWidth(l, TEXT) + 8 <= scale) && lh + 8 <= scale) {
    labels.forEach((label, i) => {
      const fill: Rgb = [p.colors[3 * i]!, p.colors[3 * i + 1]!, p.colors[3 * i + 2]!];
      const color: Rgb = luminance(fill) > 0.35 ? MASK_COLORS.text : [255, 255, 255];
      const x = left + ((i % p.cols) + 0.5) * scale;
      const y = top + (Math.floor(i / p.cols) + 0.5) * scale;
      text(x, y, label, 'middle', color);
    });
  }

  // Segment boundaries as grid lines (when far enough apart), the outer frame, and numbered ticks.
  const boundaries = (segments: readonly AxisSegment[]) => {
    const cuts = new Set<number>();
    for (const s of segments) cuts.add(s.start).add(s.end);
    return [...cuts].sort((a, b) => a - b);
  };
  const spacing = (segments: readonly AxisSegment[]) =>
    Math.min(...units(segments).map((s) => (s.end - s.start) * scale));
  const inside = scale >= (p.minCellForLines ?? 1);
  const vertical = (c: number, color: Rgb, across: boolean) => {
    const x = left + Math.round(c * scale);
    if (x <= left || x >= left + gridW) return;
    if (across) items.push(pixelLine(x, top, x, top + gridH - 1, color));
    else items.push(pixelLine(x, top + gridH, x, top + gridH + TICK, color));
  };
  const horizontal = (r: number, color: Rgb, across: boolean) => {
    const y = top + Math.round(r * scale);
    if (y <= top || y >= top + gridH) return;
    if (across) items.push(pixelLine(left, y, left + gridW - 1, y, color));
    else items.push(pixelLine(left - 1 - TICK, y, left - 1, y, color));
  };
  for (const [segments, draw] of [
    [p.colSegments, vertical],
    [p.rowSegments, horizontal],
  ] as const) {
    const gap = spacing(segments);
    if (gap < MIN_TICK_SPACING) continue;
    const across = inside && gap >= MIN_LINE_SPACING;
    for (const c of boundaries(segments)) draw(c, across ? MASK_COLORS.grid : MASK_COLORS.frame, across);
  }
  for (const c of p.colGroups ?? []) vertical(c, MASK_COLORS.frame, true);
  for (const r of p.rowGroups ?? []) horizontal(r, MASK_COLORS.frame, true);
  items.push({
    kind: 'rect',
    x: left - 1,
    y: top - 1,
    w: gridW + 2,
    h: gridH + 2,
    stroke: MASK_COLORS.frame,
  });
  p.colSegments.forEach((s, i) => {
    if (colTicks.has(i)) text(left + ((s.start + s.end) / 2) * scale, belowGrid + lh / 2, s.label, 'middle');
  });
  p.rowSegments.forEach((s, i) => {
    if (rowTicks.has(i)) text(left - TICK - 5, top + ((s.start + s.end) / 2) * scale, s.label, 'end');
  });
  text(left + gridW / 2, belowGrid + lh + GAP + lh / 2, p.xLabel, 'middle');
  items.push({
    kind: 'text',
    x: PAD + lh / 2,
    y: top + gridH / 2,
    text: p.yLabel,
    font: TEXT,
    color: MASK_COLORS.text,
    anchor: 'middle',
    vertical: true,
  });

  // The legend: class swatches, or a shade ramp from 0% to 100% with its label.
  if (p.legend.kind === 'classes') {
    p.legend.entries.forEach((e, i) => {
      const y = top + i * (SWATCH + 2 * GAP);
      items.push({
        kind: 'rect',
        x: legendX,
        y,
        w: SWATCH,
        h: SWATCH,
        fill: e.color,
        stroke: MASK_COLORS.grid,
      });
      text(legendX + SWATCH + GAP, y + SWATCH / 2, e.label);
    });
  } else {
    const { from, to } = p.legend;
    text(legendX, top + lh / 2, p.legend.label);
    const rampTop = top + lh + GAP;
    const rampH = Math.max(100, Math.min(gridH - lh - GAP, 300));
    const steps = 64;
    // Whole-pixel steps that tile the ramp exactly, so the PNG and the SVG agree.
    const edge = (i: number) => rampTop + Math.floor((i * rampH) / steps);
    for (let i = 0; i < steps; i++)
      items.push({
        kind: 'rect',
        x: legendX,
        y: edge(i),
        w: SWATCH,
        h: edge(i + 1) - edge(i),
        fill: mix(from, to, 1 - i / (steps - 1)),
      });
    items.push({
      kind: 'rect',
      x: legendX - 1,
      y: rampTop - 1,
      w: SWATCH + 2,
      h: rampH + 2,
      stroke: MASK_COLORS.grid,
    });
    for (const share of [1, 0.75, 0.5, 0.25, 0]) {
      const y = rampTop + Math.round((1 - share) * rampH);
      items.push(pixelLine(legendX + SWATCH + 1, y, legendX + SWATCH + 4, y, MASK_COLORS.frame));
      text(legendX + SWATCH + 2 * GAP - 4, y + 0.5, `${Math.round(share * 100)}%`);
    }
  }
  return {
    width: Math.ceil(width),
    height: Math.ceil(height),
    background: MASK_COLORS.background,
    items,
    title: p.title.join(' - '),
  };
}

const count = (n: number) => n.toLocaleString('en-US');
const percent = (x: number) => `${(100 * x).toFixed(1)}%`;

/** `attention_tile  a=2`. */
function headline(pattern: PatternInstance): string {
  const params = Object.entries(pattern.params).map(([k, v]) => `${k}=${v}`);
  return [pattern.name, ...params].join('  ');
}

/** `layout video: t=8, h=45, w=80 (28,800 tokens; tiles 6x8x8; frames padded to 3,712)`. */
function layoutLine(layout: ConcreteLayout): string {
  const sizes = layout.videoAxes.map((a, i) => `${a}=${layout.videoSizes[i]}`).join(', ');
  const video = layout.videoSizes.reduce((a, b) => a * b, 1);
  const notes = [`${count(video + layout.textLength)} tokens`];
  if (layout.textLength > 0) notes.push(`${count(layout.textLength)} text ${layout.textPosition}`);
  if (layout.tiled) notes.push(`tiles ${layout.tile.join('x')}`);
  if (layout.unitSlot !== layout.unitTokens)
    notes.push(`${layout.tiled ? 'tiles' : 'frames'} padded to ${count(layout.unitSlot)}`);
  if (layout.length !== video + layout.textLength) notes.push(`${count(layout.length)} slots`);
  return `layout ${layout.name}: ${sizes} (${notes.join('; ')})`;
}

/** The unit (frame or tile) and text segments of a layout along an axis measured in `cellSize` slots. */
export function layoutSegments(layout: ConcreteLayout, cellSize: number): AxisSegment[] {
  const segments: AxisSegment[] = [];
  for (let u = 0; u < layout.unitCount; u++) {
    const start = layout.videoStart + u * layout.unitSlot;
    segments.push({ start: start / cellSize, end: (start + layout.unitSlot) / cellSize, label: String(u) });
  }
  if (layout.textSlots > 0)
    segments.push({
      start: layout.textStart / cellSize,
      end: (layout.textStart + layout.textSlots) / cellSize,
      label: 'text',
    });
  return segments.sort((a, b) => a.start - b.start);
}

function unitName(layout: ConcreteLayout): string {
  return layout.tiled ? 'tile' : 'frame';
}

/** A tiled layout's slabs of tiles that share their frames (one per tile step in time), in cells of `cellSize`. */
function tileGroups(layout: ConcreteLayout, cellSize: number): number[] {
  if (!layout.tiled) return [];
  const perSlab = layout.unitCount / layout.grid[0]!;
  return Array.from(
    { length: layout.grid[0]! - 1 },
    (_, g) => (layout.videoStart + (g + 1) * perSlab * layout.unitSlot) / cellSize,
  );
}

/** How many full blocks hold padding (counted as in the report and the Flex export), for the legend. */
function fullWithPadding(plan: BlockPlan): string {
  const n = paddingCounts(plan).fullBlocksWithPadding;
  return n > 0 ? ` (${count(n)} with padding)` : '';
}

/** The block-level picture of a plan. */
export function blockFigure(plan: BlockPlan): Scene {
  const { pattern, stats } = plan;
  const layout = pattern.layout;
  const classes = classesOfPlan(plan);
  const palette = [MASK_COLORS.empty, MASK_COLORS.partial, MASK_COLORS.full];
  const unit = unitName(layout);
  return gridFigure({
    title: [
      headline(pattern),
      layoutLine(layout),
      `blocks ${plan.blockQ} x ${plan.blockK}: ${percent(stats.sparsity)} of ${count(stats.total)} block pairs skipped`,
    ],
    rows: plan.numQBlocks,
    cols: plan.numKBlocks,
    colors: cellColors(classes.length, (i) => palette[classes[i]!]!),
    rowSegments: layoutSegments(layout, plan.blockQ),
    colSegments: layoutSegments(layout, plan.blockK),
    rowGroups: tileGroups(layout, plan.blockQ),
    colGroups: tileGroups(layout, plan.blockK),
    // Partial blocks sit on frame boundaries: lines across would cover them unless blocks are drawn big.
    minCellForLines: 8,
    xLabel: `key blocks of ${plan.blockK}, numbered by ${unit}`,
    yLabel: `query blocks of ${plan.blockQ}, numbered by ${unit}`,
    legend: {
      kind: 'classes',
      entries: [
        { label: `full ${count(stats.full)}${fullWithPadding(plan)}`, color: MASK_COLORS.full },
        { label: `partial ${count(stats.partial)}`, color: MASK_COLORS.partial },
        { label: `empty ${count(stats.empty)}`, color: MASK_COLORS.empty },
      ],
    },
  });
}

/** Share of allowed query-key pairs in every unit pair (row-major), exact. */
export function unitShares(pattern: PatternInstance): { shares: Float64Array; rows: number; cols: number } {
  const { classes, rows, cols } = unitLevelClasses(pattern);
  const aligned = unitAlignedPattern(pattern);
  const unit = aligned.layout.unitSlot;
  const real = realTokensPerBlock(aligned.layout, unit);
  const counter = allowedPairCounter(aligned, unit, unit);
  const shares = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      const cls = classes[r * cols + c]!;
      const pairs = real[r]! * real[c]!;
      shares[r * cols + c] =
        cls === CELL_CLASS.full ? 1 : cls === CELL_CLASS.empty || pairs === 0 ? 0 : counter(r, c) / pairs;
    }
  return { shares, rows, cols };
}

/** The frame-level (tile-level) picture: every unit pair shaded by its share of allowed pairs. */
export function unitFigure(plan: BlockPlan): Scene {
  const { pattern, stats } = plan;
  const aligned = unitAlignedPattern(pattern);
  const { shares, rows, cols } = unitShares(pattern);
  const unit = unitName(pattern.layout);
  const pairs = stats.realTokens * stats.realTokens;
  return gridFigure({
    title: [
      headline(pattern),
      layoutLine(pattern.layout),
      `${unit} level: ${percent(1 - stats.allowedPairs / pairs)} of ${count(pairs)} query-key pairs masked`,
    ],
    rows,
    cols,
    colors: cellColors(rows * cols, (i) => mix(MASK_COLORS.none, MASK_COLORS.full, shares[i]!)),
    cellLabels: Array.from(shares, (x) =>
      x === 0 ? '' : x === 1 ? '100%' : `${Math.min(99, Math.max(1, Math.round(100 * x)))}%`,
    ),
    rowSegments: layoutSegments(aligned.layout, aligned.layout.unitSlot),
    colSegments: layoutSegments(aligned.layout, aligned.layout.unitSlot),
    rowGroups: tileGroups(aligned.layout, aligned.layout.unitSlot),
    colGroups: tileGroups(aligned.layout, aligned.layout.unitSlot),
    xLabel: `key ${unit}`,
    yLabel: `query ${unit}`,
    legend: { kind: 'ramp', label: 'allowed pairs', from: MASK_COLORS.none, to: MASK_COLORS.full },
  });
}
