/**
 * A figure as a list of drawing primitives, rendered twice from the same list: a PNG (pixels, text in the 5x7
 * bitmap font of font.ts) and an SVG (vector lines and real text, for papers; large cell grids embedded as a
 * pixel-exact PNG image so the file stays small). Coordinates are pixels, y down.
 */
import { PNG } from 'pngjs';
import { drawText, GLYPH_HEIGHT, textWidth } from './font.js';

/** An RGB colour. */
export type Rgb = readonly [number, number, number];

/** Text sizes: the bitmap font's scale in the PNG, and the matching font size in the SVG. */
export type TextSize = 1 | 2;

/** One thing drawn. */
export type Primitive =
  | {
      readonly kind: 'rect';
      readonly x: number;
      readonly y: number;
      readonly w: number;
      readonly h: number;
      readonly fill: Rgb;
      readonly stroke?: Rgb;
    }
  | {
      readonly kind: 'line';
      readonly x1: number;
      readonly y1: number;
      readonly x2: number;
      readonly y2: number;
      readonly color: Rgb;
    }
  | {
      readonly kind: 'text';
      readonly x: number;
      readonly y: number;
      readonly text: string;
      readonly size: TextSize;
      readonly color: Rgb;
      /** Where `x` is along the text: its start, middle or end. */
      readonly anchor: 'start' | 'middle' | 'end';
      /** Read bottom to top (an axis label); then `x, y` is the anchor point on the text's left edge. */
      readonly vertical?: boolean;
    }
  | {
      /** `cols x rows` cells of `scale` pixels, colour per cell (row-major), drawn with the top-left at x, y. */
      readonly kind: 'cells';
      readonly x: number;
      readonly y: number;
      readonly cols: number;
      readonly rows: number;
      readonly scale: number;
      readonly colors: Uint8Array;
    };

/** A figure: its size, background and primitives in drawing order. */
export interface Figure {
  readonly width: number;
  readonly height: number;
  readonly background: Rgb;
  readonly items: readonly Primitive[];
  /** A title for the SVG's <title> (accessibility and file browsers). */
  readonly title: string;
}

/** Height in pixels of a line of text at `size`. */
export function textHeight(size: TextSize): number {
  return GLYPH_HEIGHT * size;
}

/** Width in pixels of `text` at `size` (the PNG's bitmap font; the SVG's text is about as wide). */
export function textLength(text: string, size: TextSize): number {
  return textWidth(text, size);
}

/** Cell colours (RGB triples, row-major) of a grid. */
export function cellColors(count: number, colorOf: (cell: number) => Rgb): Uint8Array {
  const out = new Uint8Array(3 * count);
  for (let i = 0; i < count; i++) out.set(colorOf(i), 3 * i);
  return out;
}

/** The figure as a PNG. */
export function figurePng(figure: Figure): Buffer {
  const { width, height } = figure;
  const png = new PNG({ width, height });
  const data = png.data;
  const put = (x: number, y: number, [r, g, b]: Rgb) => {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    const o = (y * width + x) * 4;
    data[o] = r;
    data[o + 1] = g;
    data[o + 2] = b;
    data[o + 3] = 255;
  };
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) put(x, y, figure.background);
  for (const item of figure.items) {
    switch (item.kind) {
      case 'rect': {
        const x0 = Math.round(item.x);
        const y0 = Math.round(item.y);
        const x1 = Math.round(item.x + item.w);
        const y1 = Math.round(item.y + item.h);
        for (let y = y0; y < y1; y++)
          for (let x = x0; x < x1; x++) {
            const edge = item.stroke && (x === x0 || y === y0 || x === x1 - 1 || y === y1 - 1);
            put(x, y, edge ? item.stroke! : item.fill);
          }
        break;
      }
      case 'line': {
        // Axis-parallel lines only (grid lines, ticks, frames).
        const x0 = Math.round(Math.min(item.x1, item.x2));
        const x1 = Math.round(Math.max(item.x1, item.x2));
        const y0 = Math.round(Math.min(item.y1, item.y2));
        const y1 = Math.round(Math.max(item.y1, item.y2));
        for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) put(x, y, item.color);
        break;
      }
      case 'text': {
        const w = textWidth(item.text, item.size);
        const shift = item.anchor === 'start' ? 0 : item.anchor === 'middle' ? w / 2 : w;
        const plot = (x: number, y: number) => put(x, y, item.color);
        if (item.vertical)
          drawText(item.text, Math.round(item.x), Math.round(item.y + shift), plot, item.size, true);
        else drawText(item.text, Math.round(item.x - shift), Math.round(item.y), plot, item.size);
        break;
      }
      case 'cells': {
        const { cols, rows, scale, colors } = item;
        for (let r = 0; r < rows; r++)
          for (let c = 0; c < cols; c++) {
            const o = 3 * (r * cols + c);
            const rgb: Rgb = [colors[o]!, colors[o + 1]!, colors[o + 2]!];
            for (let dy = 0; dy < scale; dy++)
              for (let dx = 0; dx < scale; dx++) put(item.x + c * scale + dx, item.y + r * scale + dy, rgb);
          }
        break;
      }
    }
  }
  return PNG.sync.write(png, { colorType: 2 });
}

const hex = ([r, g, b]: Rgb) => `#${[r, g, b].map((v) => v.toString(16).padStart(2, '0')).join('')}`;

const escapeXml = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The figure as an SVG document. */
export function figureSvg(figure: Figure): string {
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${figure.width}" height="${figure.height}" viewBox="0 0 ${figure.width} ${figure.height}" font-family="Helvetica, Arial, sans-serif">`,
    `<title>${escapeXml(figure.title)}</title>`,
    `<rect width="100%" height="100%" fill="${hex(figure.background)}"/>`,
  ];
  for (const item of figure.items) {
    switch (item.kind) {
      case 'rect':
        out.push(
          `<rect x="${item.x}" y="${item.y}" width="${item.w}" height="${item.h}" fill="${hex(item.fill)}"${item.stroke ? ` stroke="${hex(item.stroke)}" stroke-width="1"` : ''}/>`,
        );
        break;
      case 'line':
        out.push(
          `<line x1="${item.x1 + 0.5}" y1="${item.y1 + 0.5}" x2="${item.x2 + 0.5}" y2="${item.y2 + 0.5}" stroke="${hex(item.color)}" stroke-width="1"/>`,
        );
        break;
      case 'text': {
        const size = item.size === 2 ? 14 : 8;
        // The bitmap text's top is at y; SVG places the baseline, about 0.8 of the size below the top.
        const anchor = `text-anchor="${item.anchor}"`;
        if (item.vertical) {
          const x = item.x + size * 0.85;
          out.push(
            `<text x="${x}" y="${item.y}" font-size="${size}" fill="${hex(item.color)}" ${anchor} transform="rotate(-90 ${x} ${item.y})">${escapeXml(item.text)}</text>`,
          );
        } else {
          out.push(
            `<text x="${item.x}" y="${item.y + size * 0.85}" font-size="${size}" fill="${hex(item.color)}" ${anchor}>${escapeXml(item.text)}</text>`,
          );
        }
        break;
      }
      case 'cells': {
        const png = new PNG({ width: item.cols, height: item.rows });
        for (let i = 0; i < item.cols * item.rows; i++) {
          png.data[4 * i] = item.colors[3 * i]!;
          png.data[4 * i + 1] = item.colors[3 * i + 1]!;
          png.data[4 * i + 2] = item.colors[3 * i + 2]!;
          png.data[4 * i + 3] = 255;
        }
        const data = PNG.sync.write(png, { colorType: 2 }).toString('base64');
        out.push(
          `<image x="${item.x}" y="${item.y}" width="${item.cols * item.scale}" height="${item.rows * item.scale}" preserveAspectRatio="none" style="image-rendering:pixelated;image-rendering:crisp-edges" href="data:image/png;base64,${data}"/>`,
        );
        break;
      }
    }
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
