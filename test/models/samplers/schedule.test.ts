import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  alphaBar,
  CLEAN,
  ddimTimesteps,
  inferenceTimesteps,
  interpolatedSigma,
  linearDdpmSchedule,
  roundHalfEven,
  sigmaAt,
} from '../../../models/samplers/index.js';
import { testRuns } from '../../runtime/cpu/support.js';
import { ALPHA_BAR } from './support.js';

const RUNS = testRuns(30);

describe('linear DDPM schedule', () => {
  const schedule = linearDdpmSchedule();

  it('has 1000 betas from 1e-4 to 0.02 in equal increments', () => {
    expect(schedule.trainSteps).toBe(1000);
    expect(schedule.betas[0]).toBeCloseTo(1e-4, 15);
    expect(schedule.betas[999]).toBeCloseTo(0.02, 15);
    for (let t = 1; t < 1000; t++) {
      expect((schedule.betas[t] as number) - (schedule.betas[t - 1] as number)).toBeCloseTo(0.0199 / 999, 15);
    }
  });

  it('has alpha_bar equal to the product of (1 - beta) computed in log space', () => {
    for (let t = 0; t < 1000; t++) {
      expect(alphaBar(schedule, t) / (ALPHA_BAR[t] as number)).toBeCloseTo(1, 12);
    }
    expect(alphaBar(schedule, CLEAN)).toBe(1);
    expect(() => alphaBar(schedule, 1000)).toThrow(RangeError);
    expect(() => alphaBar(schedule, 2.5)).toThrow(RangeError);
  });

  it('interpolates sigma linearly between integer timesteps', () => {
    expect(interpolatedSigma(schedule, 500)).toBe(sigmaAt(schedule, 500));
    const mid = (sigmaAt(schedule, 500) + sigmaAt(schedule, 501)) / 2;
    expect(interpolatedSigma(schedule, 500.5)).toBeCloseTo(mid, 12);
    expect(() => interpolatedSigma(schedule, 999.5)).toThrow(RangeError);
  });
});

describe('inference timesteps', () => {
  it("equal diffusers' grids worked out by hand", () => {
    const range = (from: number, step: number, n: number) =>
      Array.from({ length: n }, (_, i) => from - i * step);
    expect(inferenceTimesteps(1000, 100, 'leading')).toEqual(range(990, 10, 100));
    expect(inferenceTimesteps(1000, 100, 'trailing')).toEqual(range(999, 10, 100));
    expect(inferenceTimesteps(1000, 20, 'trailing')).toEqual(range(999, 50, 20));
    // arange(1000, 0, -333.33) = 1000, 666.67, 333.33 -> rounded, minus 1.
    expect(inferenceTimesteps(1000, 3, 'trailing')).toEqual([999, 666, 332]);
    expect(inferenceTimesteps(1000, 3, 'leading')).toEqual([666, 333, 0]);
    expect(inferenceTimesteps(1000, 3, 'linspace')).toEqual([999, 499.5, 0]);
    // numpy rounds 499.5 to 500 (half to even).
    expect(ddimTimesteps(linearDdpmSchedule(), 3, 'linspace')).toEqual([999, 500, 0]);
    expect(inferenceTimesteps(1000, 1, 'linspace')).toEqual([999]);
    expect(inferenceTimesteps(1000, 1, 'trailing')).toEqual([999]);
  });

  it('are strictly decreasing, in range, and as many as asked for any step count', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1000 }),
        fc.constantFrom('leading', 'trailing', 'linspace' as const),
        (steps, spacing) => {
          const ts = inferenceTimesteps(1000, steps, spacing);
          expect(ts).toHaveLength(steps);
          ts.forEach((t, i) => {
            expect(t).toBeGreaterThanOrEqual(0);
            expect(t).toBeLessThanOrEqual(999);
            if (i > 0) expect(t).toBeLessThan(ts[i - 1] as number);
          });
          if (spacing !== 'leading') expect(ts[0]).toBe(999);
        },
      ),
      { numRuns: RUNS * 2 },
    );
    expect(() => inferenceTimesteps(1000, 0, 'leading')).toThrow(RangeError);
    expect(() => inferenceTimesteps(1000, 1001, 'leading')).toThrow(RangeError);
  });

  it('round half to even like numpy', () => {
    expect([0.5, 1.5, 2.5, -0.5, 2.4, 2.6].map(roundHalfEven)).toEqual([0, 2, 2, -0, 2, 3]);
  });
});
