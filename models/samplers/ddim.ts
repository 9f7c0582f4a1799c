/**
 * DDIM (Song, Meng & Ermon 2021, eq. 12) with eta = 0 and epsilon prediction: a deterministic jump from
 * timestep t to an earlier timestep s given the network's epsilon at t,
 *
 *   x0_hat = (x_t - sqrt(1 - a_t) eps) / sqrt(a_t)
 *   x_s    = sqrt(a_s) x0_hat + sqrt(1 - a_s) eps          (a = alpha_bar; a_s = 1 at the clean end)
 *
 * A run visits a descending list of timesteps and jumps from each to the next, the last one to the clean end
 * (diffusers' `set_alpha_to_one`, which Open-Sora-Plan keeps). Jumping to the next listed timestep equals
 * diffusers' `t - T // N` whenever N divides T, and stays correct when it does not.
 */
import type { NoisePredictor } from './guidance.js';
import {
  alphaBar,
  CLEAN,
  type DiffusionSchedule,
  inferenceTimesteps,
  roundHalfEven,
  type TimestepSpacing,
} from './schedule.js';
import { checkLatent, type StepListener, timedStep } from './steps.js';

/**
 * One DDIM jump from alpha_bar `aFrom` to alpha_bar `aTo` (computed in float64, stored as float32); `x` is
 * overwritten with the result and returned.
 */
export function ddimJump(x: Float32Array, eps: Float32Array, aFrom: number, aTo: number): Float32Array {
  const sqrtFrom = Math.sqrt(aFrom);
  const noiseFrom = Math.sqrt(1 - aFrom);
  const sqrtTo = Math.sqrt(aTo);
  const noiseTo = Math.sqrt(1 - aTo);
  for (let i = 0; i < x.length; i++) {
    const e = eps[i] as number;
    const x0 = ((x[i] as number) - noiseFrom * e) / sqrtFrom;
    x[i] = sqrtTo * x0 + noiseTo * e;
  }
  return x;
}

/**
 * The integer timesteps of an N-step DDIM run (diffusers rounds the linspace grid for DDIM, half to even).
 */
export function ddimTimesteps(
  schedule: DiffusionSchedule,
  steps: number,
  spacing: TimestepSpacing,
): number[] {
  return inferenceTimesteps(schedule.trainSteps, steps, spacing).map(roundHalfEven);
}

/** Check a descending list of distinct integer training timesteps. */
export function checkDescending(schedule: DiffusionSchedule, timesteps: readonly number[]): void {
  if (timesteps.length === 0) throw new RangeError('a sampler needs at least one timestep');
  timesteps.forEach((t, i) => {
    alphaBar(schedule, t);
    if (t === CLEAN) throw new RangeError('the clean end is implied after the last timestep; do not list it');
    const previous = timesteps[i - 1];
    if (previous !== undefined && !(t < previous)) {
      throw new RangeError(`timesteps must strictly decrease, found ${previous} then ${t}`);
    }
  });
}

/**
 * Deterministic DDIM from `xT` through `timesteps` (descending integer training timesteps) to the clean end:
 * one network evaluation per listed timestep. `xT` is not modified.
 */
export async function ddimSample(
  model: NoisePredictor,
  xT: Float32Array,
  schedule: DiffusionSchedule,
  timesteps: readonly number[],
  onStep?: StepListener,
): Promise<Float32Array> {
  checkLatent(model, xT, 'the initial latent');
  checkDescending(schedule, timesteps);
  const x = Float32Array.from(xT);
  for (let i = 0; i < timesteps.length; i++) {
    const t = timesteps[i] as number;
    const next = timesteps[i + 1] ?? CLEAN;
    await timedStep(model, i, timesteps.length, t, onStep, async () => {
      const eps = await model.predict(x, t);
      ddimJump(x, eps, alphaBar(schedule, t), alphaBar(schedule, next));
    });
  }
  return x;
}
