/**
 * The one drawing layer of tessera's pictures (the mask pictures of `--target png`, the search's error heatmap):
 * a 2D scene of rectangles, lines, circles, text and cell grids, drawn two ways from one description. As an RGB
 * PNG: text from the rasterised DejaVu Sans of font-data.ts, anti-aliased; shapes on whole pixels. As SVG: the
 * same geometry, text as text, a cell grid as one embedded pixel-exact PNG (a 200 x 200 grid stays one element,
 * not 40,000). Pictures lay themselves out with {@link textWidth} and {@link lineHeight}, so both agree.
 */
import { PNG } from 'pngjs';
import { RASTER_FONTS, type RasterFont } from './font-data.js';

/** An RGB colour, 0..255 per channel. */
export type Rgb = readonly [number, number, number];

/** Text sizes: small (cell values, ticks), normal (labels), title (bold). */
export type FontRole = keyof typeof RASTER_FONTS;

/**
 * One thing drawn. Coordinates in pixels, origin top left; a line is centred on its coordinates (a 1-pixel line
 * at x + 0.5 covers pixel column x exactly, in both renderings), a rectangle's stroke lies inside it.
 */
export type SceneItem =
  | {
      readonly kind: 'rect';
      readonly x: number;
      readonly y: number;
      readonly w: number;
      readonly h: number;
      readonly fill?: Rgb;
      readonly stroke?: Rgb;
      readonly strokeWidth?: number;
    }
  | {
      readonly kind: 'line';
      readonly x1: number;
      readonly y1: number;
      readonly x2: number;
      readonly y2: number;
      readonly stroke: Rgb;
      readonly width: number;
    }
  | {
      readonly kind: 'circle';
      readonly cx: number;
      readonly cy: number;
      readonly r: number;
      readonly fill: Rgb;
      readonly stroke?: Rgb;
    }
  | {
      readonly kind: 'text';
      readonly x: number;
      readonly y: number;
      readonly text: string;
      readonly font: FontRole;
      readonly color: Rgb;
      /** Where (x, y) sits along the text: its start, middle or end. */
      readonly anchor: 'start' | 'middle' | 'end';
      /** Rotate by -90 degrees (reads upwards), for a vertical axis label. */
      readonly vertical?: boolean;
    }
  | {
      /** `cols x rows` square cells of `scale` pixels, top left at (x, y); RGB per cell, row-major. */
      readonly kind: 'cells';
      readonly x: number;
      readonly y: number;
      readonly cols: number;
      readonly rows: number;
      readonly scale: number;
      readonly colors: Uint8Array;
    };

/** A picture: its size, background and items, drawn in order. */
export interface Scene {
  readonly width: number;
  readonly height: number;
  readonly background: Rgb;
  readonly items: readonly SceneItem[];
  /** For the SVG's <title>. */
  readonly title: string;
}

/** Advance width of `text` in pixels (characters outside printable ASCII count as `?`). */
export function textWidth(text: string, font: FontRole): number {
  const glyphs = RASTER_FONTS[font].glyphs;
  let w = 0;
  for (const ch of text) w += (glyphs[ch] ?? glyphs['?']!)[0];
  return w;
}

/** Line height (ascent + descent) of a font. */
export function lineHeight(font: FontRole): number {
  return RASTER_FONTS[font].ascent + RASTER_FONTS[font].descent;
}

/** True when the font has a glyph for every character of `text` (others are drawn as `?`). */
export function hasGlyphs(text: string, font: FontRole): boolean {
  return Array.from(text).every((ch) => ch in RASTER_FONTS[font].glyphs);
}

/** The colours of a `cells` item: `colorOf(i)` for cells 0..count-1 (row-major). */
export function cellColors(count: number, colorOf: (cell: number) => Rgb): Uint8Array {
  const out = new Uint8Array(3 * count);
  for (let i = 0; i < count; i++) out.set(colorOf(i), 3 * i);
  return out;
}

/** An RGBA buffer with blending. */
class Raster {
  readonly png: PNG;

  constructor(
    readonly width: number,
    readonly height: number,
    background: Rgb,
  ) {
    this.png = new PNG({ width, height });
    for (let i = 0; i < width * height; i++) {
      this.png.data.set(background, 4 * i);
      this.png.data[4 * i + 3] = 255;
    }
  }

  /** Blend `rgb` over pixel (x, y) with coverage `alpha` in [0, 1]. */
  blend(x: number, y: number, [r, g, b]: Rgb, alpha = 1): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height || alpha <= 0) return;
    const o = 4 * (y * this.width + x);
    const d = this.png.data;
    const a = Math.min(1, alpha);
    d[o] = Math.round(d[o]! * (1 - a) + r * a);
    d[o + 1] = Math.round(d[o + 1]! * (1 - a) + g * a);
    d[o + 2] = Math.round(d[o + 2]! * (1 - a) + b * a);
  }

  fill(x: number, y: number, w: number, h: number, rgb: Rgb): void {
    const x0 = Math.round(x);
    const y0 = Math.round(y);
    const x1 = Math.round(x + w);
    const y1 = Math.round(y + h);
    for (let py = y0; py < y1; py++) for (let px = x0; px < x1; px++) this.blend(px, py, rgb);
  }

  cells(item: Extract<SceneItem, { kind: 'cells' }>): void {
    const { cols, rows, scale, colors } = item;
    for (let r = 0; r < rows; r++)
      for (let c = 0; c < cols; c++) {
        const o = 3 * (r * cols + c);
        const rgb: Rgb = [colors[o]!, colors[o + 1]!, colors[o + 2]!];
        this.fill(item.x + c * scale, item.y + r * scale, scale, scale, rgb);
      }
  }

  circle(cx: number, cy: number, r: number, rgb: Rgb): void {
    // Coverage by 4 x 4 supersampling: a smooth edge without a rasteriser.
    for (let py = Math.floor(cy - r - 1); py <= Math.ceil(cy + r + 1); py++)
      for (let px = Math.floor(cx - r - 1); px <= Math.ceil(cx + r + 1); px++) {
        let inside = 0;
        for (let sy = 0; sy < 4; sy++)
          for (let sx = 0; sx < 4; sx++)
            if ((px + (sx + 0.5) / 4 - cx) ** 2 + (py + (sy + 0.5) / 4 - cy) ** 2 <= r * r) inside++;
        this.blend(px, py, rgb, inside / 16);
      }
  }

  text(item: Extract<SceneItem, { kind: 'text' }>): void {
    const font: RasterFont = RASTER_FONTS[item.font];
    const width = textWidth(item.text, item.font);
    const shift = item.anchor === 'start' ? 0 : item.anchor === 'middle' ? width / 2 : width;
    // Along the text: u from its start; across: v from the top of the line box, centred on (x, y).
    const u0 = -Math.round(shift);
    const v0 = -Math.round(lineHeight(item.font) / 2);
    const put = (u: number, v: number, a: number) => {
      if (item.vertical)
        this.blend(Math.round(item.x) + v0 + v, Math.round(item.y) - (u0 + u), item.color, a);
      else this.blend(Math.round(item.x) + u0 + u, Math.round(item.y) + v0 + v, item.color, a);
    };
    let pen = 0;
    for (const ch of item.text) {
      const [advance, left, top, w, h, cover] = font.glyphs[ch] ?? font.glyphs['?']!;
      for (let gy = 0; gy < h; gy++)
        for (let gx = 0; gx < w; gx++) {
          const c = Number.parseInt(cover[gy * w + gx]!, 16);
          if (c > 0) put(pen + left + gx, top + gy, c / 15);
        }
      pen += advance;
    }
  }
}

/** The scene as an RGB PNG. */
export function renderScenePng(scene: Scene): Buffer {
  const raster = new Raster(scene.width, scene.height, scene.background);
  for (const item of scene.items) {
    switch (item.kind) {
      case 'rect': {
        if (item.fill) raster.fill(item.x, item.y, item.w, item.h, item.fill);
        if (item.stroke) {
          const s = item.strokeWidth ?? 1;
          raster.fill(item.x, item.y, item.w, s, item.stroke);
          raster.fill(item.x, item.y + item.h - s, item.w, s, item.stroke);
          raster.fill(item.x, item.y, s, item.h, item.stroke);
          raster.fill(item.x + item.w - s, item.y, s, item.h, item.stroke);
        }
        break;
      }
      case 'line': {
        // Axis-aligned lines (grids, contours along cell edges), centred on the given coordinates.
        const half = item.width / 2;
        const x = Math.min(item.x1, item.x2);
        const y = Math.min(item.y1, item.y2);
        if (item.y1 === item.y2)
          raster.fill(x - half, y - half, Math.abs(item.x2 - item.x1) + item.width, item.width, item.stroke);
        else if (item.x1 === item.x2)
          raster.fill(x - half, y - half, item.width, Math.abs(item.y2 - item.y1) + item.width, item.stroke);
        else throw new RangeError('renderScenePng: only horizontal and vertical lines');
        break;
      }
      case 'circle':
        if (item.stroke) raster.circle(item.cx, item.cy, item.r + 1, item.stroke);
        raster.circle(item.cx, item.cy, item.r, item.fill);
        break;
      case 'text':
        raster.text(item);
        break;
      case 'cells':
        raster.cells(item);
        break;
    }
  }
  return PNG.sync.write(raster.png, { colorType: 2 });
}

const hex = ([r, g, b]: Rgb) => `#${[r, g, b].map((v) => v.toString(16).padStart(2, '0')).join('')}`;
const escapeXml = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A `cells` item as an SVG image: the grid at one pixel per cell, scaled up without smoothing. */
function cellsImage(item: Extract<SceneItem, { kind: 'cells' }>): string {
  const png = new PNG({ width: item.cols, height: item.rows });
  for (let i = 0; i < item.cols * item.rows; i++) {
    png.data.set(item.colors.subarray(3 * i, 3 * i + 3), 4 * i);
    png.data[4 * i + 3] = 255;
  }
  const data = PNG.sync.write(png, { colorType: 2 }).toString('base64');
  return (
    `<image x="${item.x}" y="${item.y}" width="${item.cols * item.scale}" height="${item.rows * item.scale}" ` +
    `preserveAspectRatio="none" style="image-rendering:pixelated;image-rendering:crisp-edges" ` +
    `href="data:image/png;base64,${data}"/>`
  );
}

const SVG_FONT: Readonly<Record<FontRole, string>> = {
  small: 'font-size="11"',
  normal: 'font-size="13"',
  title: 'font-size="16" font-weight="bold"',
};

/** The scene as SVG (text stays text: DejaVu Sans where installed, a sans-serif otherwise). */
export function renderSceneSvg(scene: Scene): string {
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${scene.width}" height="${scene.height}" viewBox="0 0 ${scene.width} ${scene.height}" font-family="DejaVu Sans, Verdana, sans-serif">`,
    `<title>${escapeXml(scene.title)}</title>`,
    `<rect width="${scene.width}" height="${scene.height}" fill="${hex(scene.background)}"/>`,
  ];
  for (const item of scene.items) {
    switch (item.kind) {
      case 'rect': {
        // SVG centres a stroke on the outline; inset it by half its width so it lies inside, as in the PNG.
        const s = item.stroke ? (item.strokeWidth ?? 1) : 0;
        out.push(
          `<rect x="${item.x + s / 2}" y="${item.y + s / 2}" width="${item.w - s}" height="${item.h - s}" fill="${item.fill ? hex(item.fill) : 'none'}"${item.stroke ? ` stroke="${hex(item.stroke)}" stroke-width="${s}"` : ''}/>`,
        );
        break;
      }
      case 'line':
        out.push(
          `<line x1="${item.x1}" y1="${item.y1}" x2="${item.x2}" y2="${item.y2}" stroke="${hex(item.stroke)}" stroke-width="${item.width}" stroke-linecap="square"/>`,
        );
        break;
      case 'circle':
        out.push(
          `<circle cx="${item.cx}" cy="${item.cy}" r="${item.r}" fill="${hex(item.fill)}"${item.stroke ? ` stroke="${hex(item.stroke)}"` : ''}/>`,
        );
        break;
      case 'text': {
        const rotate = item.vertical ? ` transform="rotate(-90 ${item.x} ${item.y})"` : '';
        // SVG collapses runs of spaces unless told to keep them (the PNG keeps them).
        const spaces = /\s\s|^\s|\s$/.test(item.text) ? ' xml:space="preserve"' : '';
        out.push(
          `<text x="${item.x}" y="${item.y}" ${SVG_FONT[item.font]} fill="${hex(item.color)}" text-anchor="${item.anchor}" dominant-baseline="central"${rotate}${spaces}>${escapeXml(item.text)}</text>`,
        );
        break;
      }
      case 'cells':
        out.push(cellsImage(item));
        break;
    }
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
