/**
 * The drawing layer: one scene, the same geometry in the PNG and the SVG (cells, hairlines, strokes, text).
 */
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import {
  cellColors,
  type Rgb,
  renderScenePng,
  renderSceneSvg,
  type Scene,
} from '../../../codegen/png/scene.js';

const RED: Rgb = [200, 0, 0];
const BLUE: Rgb = [0, 0, 200];
const WHITE: Rgb = [255, 255, 255];

const pixel = (png: PNG, x: number, y: number) => {
  const o = (y * png.width + x) * 4;
  return [png.data[o]!, png.data[o + 1]!, png.data[o + 2]!];
};

const scene = (items: Scene['items']): Scene => ({
  width: 40,
  height: 30,
  background: WHITE,
  items,
  title: 't',
});

describe('the scene', () => {
  it('draws cells as scaled squares, and embeds them in the SVG as one pixel-exact image', () => {
    const colors = cellColors(6, (i) => (i % 2 === 0 ? RED : BLUE));
    const s = scene([{ kind: 'cells', x: 4, y: 2, cols: 3, rows: 2, scale: 5, colors }]);
    const png = PNG.sync.read(renderScenePng(s));
    expect(pixel(png, 4, 2)).toEqual([...RED]);
    expect(pixel(png, 9, 6)).toEqual([...BLUE]);
    expect(pixel(png, 18, 11)).toEqual([...BLUE]);
    expect(pixel(png, 19, 12)).toEqual([...WHITE]);
    const svg = renderSceneSvg(s);
    expect(svg.match(/<image /g)).toHaveLength(1);
    expect(svg).toContain('<image x="4" y="2" width="15" height="10"');
    const embedded = svg.match(/href="data:image\/png;base64,([^"]+)"/)![1]!;
    const image = PNG.sync.read(Buffer.from(embedded, 'base64'));
    expect([image.width, image.height]).toEqual([3, 2]);
    expect(pixel(image, 1, 0)).toEqual([...BLUE]);
  });

  it('puts a 1-pixel line at x + 0.5 on pixel column x, and a stroke inside its rectangle, in both renderings', () => {
    const s = scene([
      { kind: 'line', x1: 10.5, y1: 3.5, x2: 10.5, y2: 8.5, stroke: RED, width: 1 },
      { kind: 'rect', x: 20, y: 10, w: 10, h: 8, stroke: BLUE, strokeWidth: 2 },
    ]);
    const png = PNG.sync.read(renderScenePng(s));
    for (let y = 3; y <= 8; y++) expect(pixel(png, 10, y)).toEqual([...RED]);
    expect(pixel(png, 9, 5)).toEqual([...WHITE]);
    expect(pixel(png, 11, 5)).toEqual([...WHITE]);
    expect(pixel(png, 10, 9)).toEqual([...WHITE]);
    expect(pixel(png, 20, 10)).toEqual([...BLUE]);
    expect(pixel(png, 21, 14)).toEqual([...BLUE]);
    expect(pixel(png, 22, 14)).toEqual([...WHITE]);
    expect(pixel(png, 19, 14)).toEqual([...WHITE]);
    const svg = renderSceneSvg(s);
    expect(svg).toContain('<line x1="10.5" y1="3.5" x2="10.5" y2="8.5" stroke="#c80000" stroke-width="1"');
    expect(svg).toContain(
      '<rect x="21" y="11" width="8" height="6" fill="none" stroke="#0000c8" stroke-width="2"/>',
    );
  });

  it('keeps runs of spaces in SVG text, as the PNG does', () => {
    const text = (t: string) =>
      ({ kind: 'text', x: 2, y: 10, text: t, font: 'normal', color: RED, anchor: 'start' }) as const;
    const svg = renderSceneSvg(scene([text('radial  r=6'), text('one space')]));
    expect(svg).toMatch(/<text [^>]*xml:space="preserve"[^>]*>radial {2}r=6<\/text>/);
    expect(svg).toMatch(/<text (?![^>]*xml:space)[^>]*>one space<\/text>/);
  });
});
