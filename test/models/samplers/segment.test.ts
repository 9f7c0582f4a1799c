import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gaussianNoise, NOISE_STREAM } from '../../../core/random.js';
import {
  inferenceTimesteps,
  linearDdpmSchedule,
  sample,
  sampleTimesteps,
  segmentBoundaries,
  segmentSample,
} from '../../../models/samplers/index.js';
import { testRuns } from '../../runtime/cpu/support.js';
import { ALPHA_BAR, gaussianDataPredictor, maxAbsDiff } from './support.js';

const RUNS = testRuns(12);
const schedule = linearDdpmSchedule();

/** DDIM over explicit timesteps, written directly from Song et al. eq. 12 in float64 (the oracle). */
function naiveDdim(xT: Float32Array, timesteps: number[], eps: (x: number, a: number) => number): number[] {
  let x = Array.from(xT);
  timesteps.forEach((t, k) => {
    const a = ALPHA_BAR[t] as number;
    const next = timesteps[k + 1];
    const aNext = next === undefined ? 1 : (ALPHA_BAR[next] as number);
    // The network sees a float32 latent and returns float32, as in the sampler.
    x = x.map((v) => {
      const e = Math.fround(eps(Math.fround(v), a));
      return Math.fround(
        Math.sqrt(aNext) * ((v - Math.sqrt(1 - a) * e) / Math.sqrt(a)) + Math.sqrt(1 - aNext) * e,
      );
    });
  });
  return x;
}

describe('segment sampler', () => {
  it('uses the trailing K-point boundaries, a subset of the 100-step teacher grid when K divides 100', () => {
    expect(segmentBoundaries(schedule, 20)).toEqual(Array.from({ length: 20 }, (_, k) => 999 - 50 * k));
    for (const k of [1, 2, 4, 5, 10, 20, 25, 50, 100]) {
      const teacher = inferenceTimesteps(1000, 100, 'trailing');
      const boundaries = segmentBoundaries(schedule, k);
      expect(boundaries).toEqual(teacher.filter((_, i) => i % (100 / k) === 0));
    }
  });

  it('makes exactly K model calls and equals DDIM over its boundaries', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 40 }), fc.nat(1000), async (segments, seed) => {
        const n = 64;
        const model = gaussianDataPredictor(n, 0.4, 0.8);
        const xT = gaussianNoise(seed, 0, n);
        const boundaries = segmentBoundaries(schedule, segments);
        const out = await segmentSample(model, xT, schedule, boundaries);
        expect(model.calls).toEqual(boundaries);
        const eps = (x: number, a: number) =>
          (Math.sqrt(1 - a) * (x - Math.sqrt(a) * 0.4)) / (a * 0.64 + 1 - a);
        expect(maxAbsDiff(out, naiveDdim(xT, boundaries, eps))).toBeLessThan(1e-5);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('sample', () => {
  it('draws x_T from stream 0 of the seed and reports every step', async () => {
    const n = 16;
    const model = gaussianDataPredictor(n, 0, 1);
    const firstInputs: Float32Array[] = [];
    const recording = {
      ...model,
      predict: (x: Float32Array, t: number) => {
        firstInputs.push(Float32Array.from(x));
        return model.predict(x, t);
      },
    };
    const reports: number[] = [];
    await sample(recording, schedule, {
      sampler: 'ddim',
      steps: 4,
      seed: 11,
      onStep: (r) => reports.push(r.index * 1000 + r.timestep),
    });
    expect(firstInputs[0]).toEqual(gaussianNoise(11, NOISE_STREAM.initial, n));
    expect(reports).toEqual([0 + 750, 1000 + 500, 2000 + 250, 3000 + 0]);
    expect(sampleTimesteps(schedule, { sampler: 'segment', steps: 4, seed: 0 })).toEqual([
      999, 749, 499, 249,
    ]);
    expect(sampleTimesteps(schedule, { sampler: 'euler-a', steps: 4, seed: 0 })).toEqual([999, 666, 333, 0]);
    expect(sampleTimesteps(schedule, { sampler: 'ddim', steps: 4, seed: 0, spacing: 'trailing' })).toEqual([
      999, 749, 499, 249,
    ]);
  });
});
