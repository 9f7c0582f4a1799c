import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gaussianNoise } from '../../../core/random.js';
import {
  ddimSample,
  ddimTimesteps,
  eulerAncestralSample,
  eulerAncestralTimesteps,
  linearDdpmSchedule,
} from '../../../models/samplers/index.js';
import { testRuns } from '../../runtime/cpu/support.js';
import { ALPHA_BAR, gaussianDataPredictor, maxAbsDiff, moments, oraclePredictor } from './support.js';

const RUNS = testRuns(12);
const schedule = linearDdpmSchedule();
const MU = 1.5;
const S = 0.5;

/**
 * Where the probability-flow ODE takes x_T for Gaussian data N(mu, s^2): the affine map between the marginal
 * at T, N(sqrt(a_T) mu, a_T s^2 + 1 - a_T), and the data distribution.
 */
function odeEndpoint(xT: number, aT: number): number {
  return MU + (S * (xT - Math.sqrt(aT) * MU)) / Math.sqrt(aT * S * S + 1 - aT);
}

describe('DDIM with the exact epsilon of Gaussian data', () => {
  const n = 20_000;
  const xT = gaussianNoise(1, 0, n);

  it('converges to the ODE endpoint as steps grow, and to the data mean and variance', async () => {
    const errors: number[] = [];
    for (const steps of [10, 100, 1000]) {
      const timesteps = ddimTimesteps(schedule, steps, 'trailing');
      const out = await ddimSample(gaussianDataPredictor(n, MU, S), xT, schedule, timesteps);
      const aT = ALPHA_BAR[999] as number;
      errors.push(
        maxAbsDiff(
          out,
          Array.from(xT, (x) => odeEndpoint(x, aT)),
        ),
      );
      if (steps === 1000) {
        // x_T is N(0, 1) rather than the exact marginal at T; that shifts the mean by s sqrt(a_T) mu / ~1.
        const { mean, variance } = moments(out);
        const bias = S * Math.sqrt(aT) * MU;
        expect(Math.abs(mean - MU)).toBeLessThan(bias + 5 * (S / Math.sqrt(n)));
        expect(Math.abs(variance - S * S)).toBeLessThan(5 * S * S * Math.sqrt(2 / n) + 1e-3);
      }
    }
    // First-order method: ten times the steps, about a tenth of the error.
    expect(errors[2]).toBeLessThan(0.01);
    expect(errors[1] as number).toBeLessThan((errors[0] as number) / 4);
    expect(errors[2] as number).toBeLessThan((errors[1] as number) / 4);
  });

  it('gives the posterior mean E[x0 | x_t] in one step from pure noise', async () => {
    const out = await ddimSample(gaussianDataPredictor(n, MU, S), xT, schedule, [999]);
    const a = ALPHA_BAR[999] as number;
    const posterior = Array.from(
      xT,
      (x) => MU + (Math.sqrt(a) * S * S * (x - Math.sqrt(a) * MU)) / (a * S * S + 1 - a),
    );
    // The network's float32 epsilon (relative error 2^-24, |eps| <~ |x_T|) is divided by sqrt(a_T) ~ 0.006.
    const largest = xT.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    expect(maxAbsDiff(out, posterior)).toBeLessThan((2 * 2 ** -24 * largest) / Math.sqrt(a) + 1e-6);
  });
});

describe('DDIM with an oracle epsilon', () => {
  it('recovers x0 at any step count and spacing', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 200 }),
        fc.constantFrom('leading', 'trailing', 'linspace' as const),
        fc.nat(1000),
        async (steps, spacing, seed) => {
          const x0 = gaussianNoise(seed, 5, 257).map((v) => 2 * v - 0.7);
          const xT = gaussianNoise(seed, 6, 257);
          const model = oraclePredictor(x0);
          const out = await ddimSample(model, xT, schedule, ddimTimesteps(schedule, steps, spacing));
          expect(model.calls).toHaveLength(steps);
          expect(maxAbsDiff(out, x0)).toBeLessThan(1e-4);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('does not modify its input and rejects bad timestep lists', async () => {
    const x0 = new Float32Array(8).fill(0.25);
    const xT = gaussianNoise(2, 0, 8);
    const copy = Float32Array.from(xT);
    await ddimSample(oraclePredictor(x0), xT, schedule, [900, 500]);
    expect(xT).toEqual(copy);
    await expect(ddimSample(oraclePredictor(x0), xT, schedule, [500, 900])).rejects.toThrow(/decrease/);
    await expect(ddimSample(oraclePredictor(x0), xT, schedule, [])).rejects.toThrow(/at least one/);
    await expect(ddimSample(oraclePredictor(x0), xT, schedule, [1000])).rejects.toThrow(/outside/);
    await expect(ddimSample(oraclePredictor(x0), new Float32Array(3), schedule, [10])).rejects.toThrow(
      /expected 8/,
    );
  });
});

describe('Euler-ancestral', () => {
  it('recovers x0 with an oracle epsilon (the added noise is re-predicted exactly)', async () => {
    for (const steps of [1, 2, 17, 100]) {
      const x0 = gaussianNoise(9, 5, 301).map((v) => v + 0.3);
      const model = oraclePredictor(x0);
      const out = await eulerAncestralSample(
        model,
        gaussianNoise(9, 0, 301),
        schedule,
        eulerAncestralTimesteps(schedule, steps),
        9,
      );
      expect(model.calls).toEqual(eulerAncestralTimesteps(schedule, steps));
      expect(maxAbsDiff(out, x0)).toBeLessThan(1e-4);
    }
  });

  it('samples the Gaussian data distribution with its exact epsilon', async () => {
    const n = 20_000;
    const out = await eulerAncestralSample(
      gaussianDataPredictor(n, MU, S),
      gaussianNoise(4, 0, n),
      schedule,
      eulerAncestralTimesteps(schedule, 200),
      4,
    );
    const { mean, variance } = moments(out);
    // Sampling error (5 standard errors) plus a small allowance for the 200-step discretisation.
    expect(Math.abs(mean - MU)).toBeLessThan(5 * (S / Math.sqrt(n)) + 0.01);
    expect(Math.abs(variance - S * S)).toBeLessThan(5 * S * S * Math.sqrt(2 / n) + 0.01);
  });

  it('is reproducible from its seed and changes with it', async () => {
    const run = (seed: number) =>
      eulerAncestralSample(
        gaussianDataPredictor(64, MU, S),
        gaussianNoise(0, 0, 64),
        schedule,
        eulerAncestralTimesteps(schedule, 5),
        seed,
      );
    expect(await run(3)).toEqual(await run(3));
    expect(maxAbsDiff(await run(3), await run(4))).toBeGreaterThan(1e-3);
  });
});
