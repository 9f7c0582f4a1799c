import fc from 'fast-check';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { classGridImageLayout, MASK_COLORS, renderClassGridPng } from '../../../codegen/png/mask-image.js';
import { TensorError } from '../../../core/tensor.js';
import { seededRandom, testRuns } from '../../runtime/cpu/support.js';

function pixel(png: PNG, x: number, y: number): number[] {
  const o = (y * png.width + x) * 4;
  return [png.data[o]!, png.data[o + 1]!, png.data[o + 2]!];
}

const CLASS_RGB = [MASK_COLORS.empty, MASK_COLORS.partial, MASK_COLORS.full].map((c) => [...c]);

function randomGrid(seed: number, rows: number, cols: number): Uint8Array {
  const rand = seededRandom(seed);
  return Uint8Array.from({ length: rows * cols }, () => Math.floor(rand() * 3));
}

describe('renderClassGridPng', () => {
  it('paints every cell in its class colour (sampled at cell centres and corners)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 1, max: 60 }),
        fc.integer(),
        (rows, cols, seed) => {
          const grid = randomGrid(seed, rows, cols);
          const png = PNG.sync.read(renderClassGridPng(grid, rows, cols, { maxSize: 300 }));
          const layout = classGridImageLayout(rows, cols, { maxSize: 300 });
          expect([png.width, png.height]).toEqual([layout.width, layout.height]);
          const s = layout.scale;
          for (let r = 0; r < rows; r++) {
            for (let c = 0; c < cols; c++) {
              const want = CLASS_RGB[grid[r * cols + c]!];
              expect(pixel(png, c * s + Math.floor(s / 2), r * s + Math.floor(s / 2))).toEqual(want);
              expect(pixel(png, c * s, r * s)).toEqual(want);
              expect(pixel(png, c * s + s - 1, r * s + s - 1)).toEqual(want);
            }
          }
        },
      ),
      { numRuns: testRuns(40) },
    );
  });

  it('scales cells to the target size, never below 1 px, and keeps the grid at most ~1024 px', () => {
    const small = classGridImageLayout(8, 8);
    expect(small.scale).toBe(128);
    expect(small.gridWidth).toBe(1024);
    const odd = classGridImageLayout(225, 100);
    expect(odd.scale).toBe(4);
    expect(odd.gridHeight).toBeLessThanOrEqual(1024);
    const huge = classGridImageLayout(3000, 10, { legend: false });
    expect(huge.scale).toBe(1);
    expect([huge.width, huge.height]).toEqual([10, 3000]);
  });

  it('draws unit lines at fractional unit boundaries and not inside units', () => {
    // 10 x 10 cells at 20 px; units of 2.5 cells put lines at 50, 100, 150 px.
    const grid = new Uint8Array(100).fill(2);
    const png = PNG.sync.read(
      renderClassGridPng(grid, 10, 10, { maxSize: 200, unitRows: 2.5, unitCols: 2.5, legend: false }),
    );
    const gridRgb = [...MASK_COLORS.grid];
    const fullRgb = CLASS_RGB[2];
    for (const at of [50, 100, 150]) {
      expect(pixel(png, at, 7)).toEqual(gridRgb);
      expect(pixel(png, 7, at)).toEqual(gridRgb);
    }
    for (const off of [0, 25, 49, 51, 199]) expect(pixel(png, off, 7)).toEqual(fullRgb);
  });

  it('leaves out unit lines that would be closer than a few pixels', () => {
    const grid = new Uint8Array(400 * 400).fill(1);
    const png = PNG.sync.read(
      renderClassGridPng(grid, 400, 400, { unitRows: 1, unitCols: 1, legend: false }),
    );
    for (let x = 0; x < png.width; x++) expect(pixel(png, x, 3)).toEqual(CLASS_RGB[1]);
  });

  it('adds a legend strip with the three class swatches under the grid', () => {
    const png = PNG.sync.read(renderClassGridPng(new Uint8Array([0, 1, 2, 0]), 2, 2, { maxSize: 40 }));
    const layout = classGridImageLayout(2, 2, { maxSize: 40 });
    expect(layout.width).toBeGreaterThan(layout.gridWidth); // widened to fit the labels
    const strip: number[][] = [];
    for (let y = layout.gridHeight; y < png.height; y++)
      for (let x = 0; x < png.width; x++) strip.push(pixel(png, x, y));
    const has = (rgb: readonly number[]) => strip.some((p) => p.every((v, i) => v === rgb[i]));
    expect(has(MASK_COLORS.full)).toBe(true);
    expect(has(MASK_COLORS.partial)).toBe(true);
    expect(has(MASK_COLORS.empty)).toBe(true);
    expect(has(MASK_COLORS.text)).toBe(true);
    // Beside the 40 px grid the image is background.
    expect(pixel(png, layout.width - 1, 0)).toEqual([...MASK_COLORS.background]);
  });

  it('rejects grids that do not match their shape or hold unknown classes', () => {
    expect(() => renderClassGridPng(new Uint8Array(5), 2, 3)).toThrow(TensorError);
    expect(() => renderClassGridPng(new Uint8Array(5), 2, 3)).toThrow(
      'expected shape [2, 3] (6 cells), got 5',
    );
    expect(() => renderClassGridPng(new Uint8Array([0, 3]), 1, 2)).toThrow(/cell 1 has class 3/);
    expect(() => renderClassGridPng(new Uint8Array(0), 0, 0)).toThrow(/positive integers/);
  });
});
