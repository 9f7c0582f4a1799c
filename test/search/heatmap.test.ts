import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { luminance } from '../../codegen/png/colormap.js';
import { renderScenePng, renderSceneSvg, type SceneItem } from '../../codegen/png/scene.js';
import { errorHeatmapScene, THRESHOLD_COLORS } from '../../search/heatmap.js';

const input = {
  title: 'Layer-wise mask search: test',
  subtitle: 'noise-prediction error',
  columns: [
    { label: '1:3', detail: '10 blocks' },
    { label: '2:2', detail: '14 blocks' },
    { label: 'full', detail: '16 blocks' },
  ],
  rows: [
    [0.3, 0.05, 0],
    [0.01, 0.002, 0],
    [0.04, 0.001, 0],
  ],
  thresholds: [
    { r: 0.02, choices: [2, 0, 1] },
    { r: 0.5, choices: [0, 0, 0] },
  ],
};

const same = (a: readonly number[], b: readonly number[]) => a.every((v, i) => v === b[i]);

describe('the error heatmap', () => {
  const scene = errorHeatmapScene(input);
  const rects = scene.items.filter(
    (i): i is Extract<SceneItem, { kind: 'rect' }> => i.kind === 'rect' && !!i.fill,
  );
  // The cells are the first rects drawn, row by row.
  const cells = rects.slice(0, 9);

  it('colours cells by error on a log scale, zero errors grey', () => {
    const fill = (layer: number, c: number) => cells[layer * 3 + c]!.fill!;
    // Larger errors are lighter in viridis (luminance grows along the map).
    expect(luminance(fill(0, 0))).toBeGreaterThan(luminance(fill(0, 1)));
    expect(luminance(fill(0, 1))).toBeGreaterThan(luminance(fill(1, 0)));
    expect(luminance(fill(1, 0))).toBeGreaterThan(luminance(fill(2, 1)));
    expect(fill(0, 2)).toEqual(fill(1, 2));
    expect(fill(0, 2)[0]).toBe(fill(0, 2)[1]);
    // Every cell shows its value.
    const texts = scene.items.filter((i) => i.kind === 'text').map((i) => (i as { text: string }).text);
    for (const v of ['0.3000', '0.0500', '0.0100', '0.0020']) expect(texts).toContain(v);
  });

  it('draws each threshold as a contour along the cell edges where "error <= r" changes', () => {
    const stripes = (k: number) =>
      scene.items.filter((i) => i.kind === 'line' && i.width === 2 && same(i.stroke, THRESHOLD_COLORS[k]!));
    // r = 0.02: inside = [no, no, yes], [yes, yes, yes], [no, yes, yes] -> 1 + 0 + 1 vertical edges,
    // 2 horizontal between rows 0 and 1, 1 between rows 1 and 2; plus the legend's stripe and the colour-bar tick.
    expect(stripes(0)).toHaveLength(5 + 2);
    // r = 0.5: everything inside, no contour; only the legend's stripe (and the colour-bar tick).
    expect(stripes(1)).toHaveLength(1 + 1);
  });

  it('marks the cell each threshold chose in every layer', () => {
    const dots = (k: number) =>
      scene.items.filter(
        (i): i is Extract<SceneItem, { kind: 'circle' }> =>
          i.kind === 'circle' && same(i.fill, THRESHOLD_COLORS[k]!),
      );
    for (const [k, t] of input.thresholds.entries()) {
      const marks = dots(k).slice(0, 3); // then the legend's
      marks.forEach((dot, layer) => {
        const cell = cells[layer * 3 + t.choices[layer]!]!;
        expect(dot.cx).toBeGreaterThan(cell.x);
        expect(dot.cx).toBeLessThan(cell.x + cell.w);
        expect(dot.cy).toBeGreaterThan(cell.y);
        expect(dot.cy).toBeLessThan(cell.y + cell.h);
      });
    }
  });

  it('renders the same scene as PNG and as SVG', () => {
    const png = PNG.sync.read(renderScenePng(scene));
    expect([png.width, png.height]).toEqual([scene.width, scene.height]);
    // The first cell's centre has its fill colour.
    const c = cells[0]!;
    const o = 4 * (Math.round(c.y + 3) * png.width + Math.round(c.x + c.w / 2));
    expect([png.data[o], png.data[o + 1], png.data[o + 2]]).toEqual([...c.fill!]);
    const svg = renderSceneSvg(scene);
    expect(svg).toMatch(/^<svg [^>]*width="\d+" height="\d+"/);
    expect(svg).toContain('<title>Layer-wise mask search: test</title>');
    expect(svg).toContain('>layer</text>');
    expect(svg).toContain('>r = 0.02: 1 x 1:3, 1 x 2:2, 1 x full</text>');
  });
});
