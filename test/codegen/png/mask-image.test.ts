/**
 * The mask pictures: cells in their class colours (blocks) or shaded by the exact share of allowed pairs
 * (frames), a title, axis labels, numbered ticks and a legend around them, and the same figure as SVG.
 */
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { renderArtifacts } from '../../../codegen/index.js';
import { RASTER_FONTS } from '../../../codegen/png/font-data.js';
import {
  blockFigure,
  gridFigure,
  layoutSegments,
  MASK_COLORS,
  unitFigure,
  unitShares,
} from '../../../codegen/png/mask-image.js';
import { hasGlyphs, renderScenePng, renderSceneSvg, textWidth } from '../../../codegen/png/scene.js';
import { compileSource } from '../../../compiler/frontend.js';
import { buildPlan } from '../../../compiler/plan/build.js';
import { planElementMask } from '../../../compiler/plan/element-mask.js';
import { TensorError } from '../../../core/tensor.js';

const pixel = (png: PNG, x: number, y: number) => {
  const o = (y * png.width + x) * 4;
  return [png.data[o]!, png.data[o + 1]!, png.data[o + 2]!];
};

const RADIAL = `layout video(t, h, w)
pattern radial(r: int = 6) on video {
  let dt = abs(q.t - k.t)
  attend abs(q.h - k.h) * (dt + 1) <= r && abs(q.w - k.w) * (dt + 1) <= r
}
`;

function plan(text: string, sizes: Record<string, number>, block = 16) {
  const pattern = compileSource({ name: 'p.tile', text }, { sizes });
  return buildPlan(pattern, block, block);
}

describe('the block picture', () => {
  it('paints each block pair in its class colour inside a titled, labelled frame', () => {
    const p = plan(RADIAL, { t: 4, h: 6, w: 8 });
    const figure = blockFigure(p);
    const cells = figure.items.find((i) => i.kind === 'cells')!;
    if (cells.kind !== 'cells') throw new Error('no cells');
    expect([cells.rows, cells.cols]).toEqual([p.numQBlocks, p.numKBlocks]);
    const png = PNG.sync.read(renderScenePng(figure));
    expect([png.width, png.height]).toEqual([figure.width, figure.height]);
    // Room around the grid for the title, the tick labels and the legend.
    expect(cells.x).toBeGreaterThan(30);
    expect(cells.y).toBeGreaterThan(50);
    expect(figure.width).toBeGreaterThan(cells.x + cells.cols * cells.scale + 100);
    const palette = [MASK_COLORS.empty, MASK_COLORS.partial, MASK_COLORS.full];
    const full = new Set<string>();
    for (let qb = 0; qb < p.numQBlocks; qb++)
      for (let kb = 0; kb < p.numKBlocks; kb++) {
        const isFull = Array.from(
          p.full.indices.subarray(p.full.offsets[qb]!, p.full.offsets[qb + 1]!),
        ).includes(kb);
        const isPartial = Array.from(
          p.partial.indices.subarray(p.partial.offsets[qb]!, p.partial.offsets[qb + 1]!),
        ).includes(kb);
        const want = palette[isFull ? 2 : isPartial ? 1 : 0]!;
        if (isFull) full.add(`${qb},${kb}`);
        const at = (d: number) => Math.floor(d * cells.scale + cells.scale / 2);
        expect(pixel(png, cells.x + at(kb), cells.y + at(qb)), `${qb},${kb}`).toEqual([...want]);
      }
    // Title and axis text are drawn in the text colours above and beside the grid.
    const inked = (x0: number, y0: number, x1: number, y1: number) => {
      for (let y = y0; y < y1; y++)
        for (let x = x0; x < x1; x++)
          if (pixel(png, x, y).every((v, i) => v === MASK_COLORS.text[i])) return true;
      return false;
    };
    expect(inked(0, 0, png.width, cells.y - 10)).toBe(true);
    expect(inked(0, cells.y, cells.x, cells.y + cells.rows * cells.scale)).toBe(true);
    const texts = figure.items.filter((i) => i.kind === 'text').map((i) => (i.kind === 'text' ? i.text : ''));
    expect(texts[0]).toBe('radial  r=6');
    expect(texts).toContain('layout video: t=4, h=6, w=8 (192 tokens)');
    expect(texts.some((t) => /^blocks 16 x 16: \d+\.\d% of 144 block pairs skipped$/.test(t))).toBe(true);
    expect(texts).toContain('key blocks of 16, numbered by frame');
    expect(
      texts.filter((t) => t.startsWith('full ') || t.startsWith('partial ') || t.startsWith('empty ')),
    ).toHaveLength(3);
    for (const t of texts) expect(hasGlyphs(t, 'normal'), t).toBe(true);
  });

  it('numbers frames where they fall between blocks, and the text segment by name', () => {
    const layout = compileSource(
      {
        name: 'tv.tile',
        text: 'layout vt(t, h, w) { text(l) after }\npattern p() on vt {\n  attend true\n}\n',
      },
      { sizes: { t: 3, h: 5, w: 5, l: 7 } },
    ).layout;
    expect(layoutSegments(layout, 10)).toEqual([
      { start: 0, end: 2.5, label: '0' },
      { start: 2.5, end: 5, label: '1' },
      { start: 5, end: 7.5, label: '2' },
      { start: 7.5, end: 8.2, label: 'text' },
    ]);
  });

  it('numbers every frame even when the text segment is much narrower than a frame', () => {
    const text = 'layout vt(t, h, w) { text(l) after }\npattern p() on vt {\n  attend q.t >= k.t\n}\n';
    const p = plan(text, { t: 3, h: 5, w: 5, l: 2 }, 4);
    const texts = blockFigure(p).items.map((i) => (i.kind === 'text' ? i.text : ''));
    // Down and across: frames 0, 1, 2 and the text.
    for (const label of ['0', '1', '2', 'text']) expect(texts.filter((t) => t === label)).toHaveLength(2);
  });
});

describe('the frame picture', () => {
  it('shades each frame pair by the exact share of allowed pairs, and writes it in big cells', () => {
    const p = plan(RADIAL, { t: 4, h: 6, w: 8 });
    const { shares, rows, cols } = unitShares(p.pattern);
    expect([rows, cols]).toEqual([4, 4]);
    const mask = planElementMask(p);
    const perFrame = 48;
    for (let a = 0; a < 4; a++)
      for (let b = 0; b < 4; b++) {
        let allowed = 0;
        for (let i = 0; i < perFrame; i++)
          for (let j = 0; j < perFrame; j++) if (mask.allowed(a * perFrame + i, b * perFrame + j)) allowed++;
        expect(shares[a * 4 + b]).toBeCloseTo(allowed / (perFrame * perFrame), 12);
      }
    const figure = unitFigure(p);
    const texts = figure.items.filter((i) => i.kind === 'text').map((i) => (i.kind === 'text' ? i.text : ''));
    expect(texts).toContain('allowed pairs');
    expect(texts).toContain(`${Math.round(100 * shares[1]!)}%`);
    expect(texts).toContain('query frame');
  });

  it('is written as PNG and SVG by the png target', () => {
    const p = plan(RADIAL, { t: 4, h: 6, w: 8 });
    const files = renderArtifacts(p, 'p.tile', ['png']).map((f) => f.path.slice(p.key.length));
    expect(files).toEqual(['.blocks.png', '.blocks.svg', '.frames.png', '.frames.svg']);
    const svg = renderSceneSvg(unitFigure(p));
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg" width="\d+" height="\d+"/);
    expect(svg).toContain('<text');
    expect(svg).toContain('>radial  r=6</text>');
    expect(svg).toContain('href="data:image/png;base64,');
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(svg.match(/<text[^>]*>/g)!.length).toBe(svg.match(/<\/text>/g)!.length);
  });
});

describe('gridFigure', () => {
  it('rejects a grid whose colours do not match its shape', () => {
    const base = {
      title: ['t'],
      rowSegments: [],
      colSegments: [],
      xLabel: 'x',
      yLabel: 'y',
      legend: { kind: 'classes' as const, entries: [] },
    };
    expect(() => gridFigure({ ...base, rows: 2, cols: 3, colors: new Uint8Array(5) })).toThrow(TensorError);
    expect(() => gridFigure({ ...base, rows: 0, cols: 0, colors: new Uint8Array(0) })).toThrow(/positive/);
  });

  it('measures text in the raster font', () => {
    const advance = (ch: string) => RASTER_FONTS.normal.glyphs[ch]![0];
    expect(textWidth('abc', 'normal')).toBe(advance('a') + advance('b') + advance('c'));
  });
});
