/**
 * The fused CPU op `layerNormModulate` (LayerNorm without affine, then adaLN modulation) against a float64
 * reference written here from the definitions, swept over shapes, rows and eps; its shape and row checks.
 * Intensity: TESSERA_TEST_RUNS (default 40).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TensorError } from '../../../core/tensor.js';
import { createCpuOps } from '../../../runtime/cpu/model-ops.js';
import { maxAbsDiff, randomArray, relativeError } from '../../models/open-sora-plan/support.js';
import { testRuns } from './support.js';

const ops = createCpuOps('float64');
const up = (data: Float32Array, shape: number[]) => ops.upload(data, shape);

/**
 * The reference, element by element: each token row normalised with its own mean and biased variance, then
 * scaled and shifted by the rows `shiftRow` / `scaleRow` of its batch element's [K, D] block of `mod`.
 */
function reference(
  x: Float32Array,
  [B, N, D]: [number, number, number],
  eps: number,
  mod: Float32Array,
  K: number,
  shiftRow: number,
  scaleRow: number,
): Float64Array {
  const out = new Float64Array(B * N * D);
  for (let b = 0; b < B; b++)
    for (let n = 0; n < N; n++) {
      const row = Array.from(x.subarray((b * N + n) * D, (b * N + n + 1) * D));
      const mean = row.reduce((a, v) => a + v, 0) / D;
      const variance = row.reduce((a, v) => a + (v - mean) ** 2, 0) / D;
      row.forEach((v, d) => {
        const shift = mod[b * K * D + shiftRow * D + d]!;
        const scale = mod[b * K * D + scaleRow * D + d]!;
        out[(b * N + n) * D + d] = ((v - mean) / Math.sqrt(variance + eps)) * (1 + scale) + shift;
      });
    }
  return out;
}

/** A shape, distinct shift and scale rows among K, an eps, and seeds for x and mod. */
const cases = fc
  .record({
    B: fc.integer({ min: 1, max: 3 }),
    N: fc.integer({ min: 1, max: 5 }),
    D: fc.integer({ min: 2, max: 24 }),
    K: fc.integer({ min: 2, max: 6 }),
    eps: fc.constantFrom(1e-6, 1e-3, 0.25),
    seed: fc.integer({ min: 1, max: 1_000_000 }),
  })
  .chain((c) =>
    fc
      .tuple(fc.integer({ min: 0, max: c.K - 1 }), fc.integer({ min: 1, max: c.K - 1 }))
      .map(([shiftRow, step]) => ({ ...c, shiftRow, scaleRow: (shiftRow + step) % c.K })),
  );

describe('layerNormModulate (CPU)', () => {
  it('matches the float64 reference for random shapes, batch elements, rows and eps', () => {
    fc.assert(
      fc.property(cases, ({ B, N, D, K, eps, seed, shiftRow, scaleRow }) => {
        // Offset so rows have a mean far from 0 (the subtraction matters).
        const x = randomArray(seed, B * N * D, 3).map((v) => v + 1.5);
        const mod = randomArray(seed + 1, B * K * D, 0.75);
        const y = ops.layerNormModulate(up(x, [B, N, D]), eps, up(mod, [B, K, D]), shiftRow, scaleRow);
        expect(y.shape).toEqual([B, N, D]);
        const ref = reference(x, [B, N, D], eps, mod, K, shiftRow, scaleRow);
        expect(maxAbsDiff(y.data, ref)).toBeLessThan(1e-12);
      }),
      { numRuns: testRuns(40) },
    );
  });

  it('uses each batch element its own rows of mod (B = 3, rows 4 and 2 of 6)', () => {
    const [B, N, D, K] = [3, 4, 5, 6];
    const x = randomArray(31, B * N * D, 2);
    const mod = randomArray(32, B * K * D);
    const y = ops.layerNormModulate(up(x, [B, N, D]), 1e-6, up(mod, [B, K, D]), 4, 2);
    expect(maxAbsDiff(y.data, reference(x, [B, N, D], 1e-6, mod, K, 4, 2))).toBeLessThan(1e-12);
    // Batch element 1 modulated with element 0's rows would differ well beyond rounding.
    const wrong = mod.slice();
    wrong.copyWithin(K * D, 0, K * D);
    const misread = reference(x, [B, N, D], 1e-6, wrong, K, 4, 2);
    expect(maxAbsDiff(y.data.subarray(N * D, 2 * N * D), misread.subarray(N * D, 2 * N * D))).toBeGreaterThan(
      1e-3,
    );
  });

  it('keeps the values of modulate(layerNorm(x)) in float64 (the graph output does not move) and float32 within its rounding', () => {
    const [B, N, D, K] = [2, 6, 24, 6];
    const x = randomArray(33, B * N * D, 4);
    const mod = randomArray(34, B * K * D, 0.5);
    const fused = ops.layerNormModulate(up(x, [B, N, D]), 1e-6, up(mod, [B, K, D]), 3, 4);
    const split = ops.modulate(ops.layerNorm(up(x, [B, N, D]), 1e-6), up(mod, [B, K, D]), 3, 4);
    expect(maxAbsDiff(fused.data, split.data)).toBeLessThan(1e-12);

    const f32 = createCpuOps('float32');
    const lo = f32.layerNormModulate(f32.upload(x, [B, N, D]), 1e-6, f32.upload(mod, [B, K, D]), 3, 4);
    expect(lo.data).toBeInstanceOf(Float32Array);
    expect(relativeError(lo.data, reference(x, [B, N, D], 1e-6, mod, K, 3, 4))).toBeLessThan(1e-6);
  });

  describe('rejects bad inputs with the same messages as modulate', () => {
    const [B, N, D, K] = [2, 3, 4, 6];
    const x = up(randomArray(35, B * N * D), [B, N, D]);
    const mod = up(randomArray(36, B * K * D), [B, K, D]);
    /** The error `f` throws (the test fails if it throws none). */
    const thrown = (f: () => unknown): Error => {
      try {
        f();
      } catch (e) {
        return e as Error;
      }
      throw new Error('expected a throw');
    };

    it.each([
      ['channels', [B, K, D + 1], "tensor 'modulation': expected shape [2, 6, 4], got [2, 6, 5]"],
      ['batch', [B + 1, K, D], "tensor 'modulation': expected shape [2, 6, 4], got [3, 6, 4]"],
      ['rank', [B * K, D], "tensor 'modulation': expected shape [2, 4, 4], got [12, 4]"],
    ])('a mod with the wrong %s', (_, shape, message) => {
      const bad = up(
        randomArray(
          37,
          shape.reduce((a, b) => a * b, 1),
        ),
        shape,
      );
      const error = thrown(() => ops.layerNormModulate(x, 1e-6, bad, 0, 1));
      expect(error).toBeInstanceOf(TensorError);
      expect(error.message).toBe(message);
      expect(error.message).toBe(thrown(() => ops.modulate(x, bad, 0, 1)).message);
    });

    it.each([
      ['past the last row', 0, K, "tensor 'modulation': row 6 is outside [0, 6)"],
      ['negative', -1, 1, "tensor 'modulation': row -1 is outside [0, 6)"],
      ['not an integer', 0, 1.5, "tensor 'modulation': row 1.5 is outside [0, 6)"],
    ])('a row index %s', (_, shiftRow, scaleRow, message) => {
      const error = thrown(() => ops.layerNormModulate(x, 1e-6, mod, shiftRow, scaleRow));
      expect(error).toBeInstanceOf(TensorError);
      expect(error.message).toBe(message);
      expect(error.message).toBe(thrown(() => ops.modulate(x, mod, shiftRow, scaleRow)).message);
    });

    it('x that is not [B, N, D]', () => {
      const flat = up(randomArray(38, B * N * D), [B * N, D]);
      const error = thrown(() => ops.layerNormModulate(flat, 1e-6, mod, 0, 1));
      expect(error).toBeInstanceOf(TensorError);
      expect(error.message).toBe("tensor 'x': expected [B, N, D], got [6, 4]");
    });
  });
});
