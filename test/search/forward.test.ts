import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { relativeError } from '../../core/error-metrics.js';
import { gaussianNoise } from '../../core/random.js';
import { createCpuOps } from '../../runtime/cpu/model-ops.js';
import { DeviceDistance } from '../../search/forward.js';
import { testRuns } from '../support/arbitraries/ast.js';

describe('distances on the backend', () => {
  it('equal the host metric for any [B, N, D] (the Gram-matrix trace is the squared norm)', () => {
    const ops = createCpuOps('float64');
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 37 }),
        fc.integer({ min: 0, max: 1000 }),
        fc.double({ min: 0, max: 2, noNaN: true }),
        (batch, tokens, width, seed, spread) => {
          const shape = [batch, tokens, width] as const;
          const n = batch * tokens * width;
          const b = gaussianNoise(seed, 0, n);
          const noise = gaussianNoise(seed, 1, n);
          const a = Float32Array.from(b, (v, i) => v + spread * noise[i]!);
          const distance = new DeviceDistance(ops, shape);
          const got = distance.relative(ops.upload(a, shape), ops.upload(b, shape));
          // The m x m Gram matrix comes back as float32: agreement to float32 rounding.
          const close = (x: number, y: number) =>
            expect(Math.abs(x - y)).toBeLessThanOrEqual(1e-6 * Math.max(1, y));
          close(got, relativeError(a, b));
          close(
            distance.squaredNorm(ops.upload(b, shape)),
            b.reduce((s, v) => s + v * v, 0),
          );
        },
      ),
      { numRuns: testRuns(40) },
    );
  });

  it('is the absolute distance against zero, and refuses another shape', () => {
    const ops = createCpuOps('float64');
    const distance = new DeviceDistance(ops, [1, 2, 2]);
    const zero = ops.upload(new Float32Array(4), [1, 2, 2]);
    expect(distance.relative(ops.upload(Float32Array.of(3, 0, 0, 4), [1, 2, 2]), zero)).toBe(5);
    expect(() => distance.squaredNorm(ops.upload(new Float32Array(6), [1, 2, 3]))).toThrow(RangeError);
  });
});
