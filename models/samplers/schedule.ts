/**
 * The noise schedule of Open-Sora-Plan 1.2: DDPM (Ho et al. 2020) with 1000 training steps and betas linear
 * from 1e-4 to 0.02 — diffusers' `DDPMScheduler` defaults, which Open-Sora-Plan 1.2 constructs as is
 * (`opensora/sample/sample_t2v.py`: `DDPMScheduler(clip_sample=False)`, `DDIMScheduler(clip_sample=False)`,
 * `EulerAncestralDiscreteScheduler()`).
 *
 *   beta_i = beta_start + (beta_end - beta_start) * i / (N - 1),  alpha_bar_t = prod_{i <= t} (1 - beta_i)
 *   x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps
 *
 * Computed in float64 (diffusers builds betas in float32; the difference is far below bf16 resolution).
 */

/** Which training timesteps an N-step sampler visits (diffusers' `timestep_spacing` values). */
export type TimestepSpacing = 'leading' | 'trailing' | 'linspace';

/** Names accepted for {@link TimestepSpacing}. */
export const TIMESTEP_SPACINGS: readonly TimestepSpacing[] = ['leading', 'trailing', 'linspace'];

/** A discrete-time variance-preserving schedule. */
export interface DiffusionSchedule {
  /** Training steps N; timesteps run 0 .. N - 1. */
  readonly trainSteps: number;
  /** beta_t, length N. */
  readonly betas: Float64Array;
  /** alpha_bar_t = prod_{i <= t} (1 - beta_i), length N. */
  readonly alphasCumprod: Float64Array;
}

/** Parameters of a linear-beta DDPM schedule. */
export interface LinearScheduleOptions {
  readonly trainSteps?: number;
  readonly betaStart?: number;
  readonly betaEnd?: number;
}

/** The DDPM schedule with linear betas (defaults: 1000 steps, 1e-4 .. 0.02, as Open-Sora-Plan 1.2). */
export function linearDdpmSchedule(options: LinearScheduleOptions = {}): DiffusionSchedule {
  const { trainSteps = 1000, betaStart = 1e-4, betaEnd = 0.02 } = options;
  if (!Number.isInteger(trainSteps) || trainSteps < 2) throw new RangeError(`trainSteps must be >= 2`);
  const betas = new Float64Array(trainSteps);
  const alphasCumprod = new Float64Array(trainSteps);
  let product = 1;
  for (let i = 0; i < trainSteps; i++) {
    betas[i] = betaStart + ((betaEnd - betaStart) * i) / (trainSteps - 1);
    product *= 1 - (betas[i] as number);
    alphasCumprod[i] = product;
  }
  return { trainSteps, betas, alphasCumprod };
}

/** alpha_bar at an integer timestep; `-1` means "clean" (alpha_bar = 1, diffusers' `set_alpha_to_one`). */
export function alphaBar(schedule: DiffusionSchedule, t: number): number {
  if (t === CLEAN) return 1;
  const value = schedule.alphasCumprod[t];
  if (!Number.isInteger(t) || value === undefined) {
    throw new RangeError(`timestep ${t} is outside 0..${schedule.trainSteps - 1}`);
  }
  return value;
}

/** The timestep that stands for the clean end of the trajectory (alpha_bar = 1) in timestep lists. */
export const CLEAN = -1;

/** sigma_t = sqrt((1 - alpha_bar_t) / alpha_bar_t), the noise level of the variance-exploding view. */
export function sigmaAt(schedule: DiffusionSchedule, t: number): number {
  const a = alphaBar(schedule, t);
  return Math.sqrt((1 - a) / a);
}

/**
 * sigma at a fractional timestep, linearly interpolated between the integer timesteps (numpy `interp` over the
 * sigma table, as diffusers' Euler schedulers do for `linspace` timesteps).
 */
export function interpolatedSigma(schedule: DiffusionSchedule, t: number): number {
  if (!(t >= 0 && t <= schedule.trainSteps - 1)) {
    throw new RangeError(`timestep ${t} is outside 0..${schedule.trainSteps - 1}`);
  }
  const lo = Math.floor(t);
  const hi = Math.min(lo + 1, schedule.trainSteps - 1);
  const w = t - lo;
  return (1 - w) * sigmaAt(schedule, lo) + w * sigmaAt(schedule, hi);
}

/** Round to the nearest integer, ties to even (numpy's `round`). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * The N timesteps an N-step sampler visits, from noisiest to cleanest (diffusers' three spacings):
 * - leading:  t_i = floor(T / N) * (N - 1 - i), i.e. 0, r, 2r, ... reversed (never reaches T - 1);
 * - trailing: t_i = round(T - i * T / N) - 1 (starts at T - 1; Lin et al. 2024, "Common Diffusion Noise
 *   Schedules and Sample Steps are Flawed", table 2), so the first step sees the training noise level
 *   that pure noise is closest to;
 * - linspace: t_i = (T - 1) * (N - 1 - i) / (N - 1), fractional (N = 1 gives T - 1, where numpy's
 *   linspace would give 0, a single step that never sees noise).
 * Rounding is half-to-even, as numpy's `round`, so the grids equal diffusers' for every N.
 */
export function inferenceTimesteps(trainSteps: number, steps: number, spacing: TimestepSpacing): number[] {
  if (!Number.isInteger(steps) || steps < 1 || steps > trainSteps) {
    throw new RangeError(`steps must be an integer from 1 to ${trainSteps}, found ${steps}`);
  }
  const out: number[] = [];
  for (let i = 0; i < steps; i++) {
    if (spacing === 'leading') out.push(Math.floor(trainSteps / steps) * (steps - 1 - i));
    else if (spacing === 'trailing') out.push(roundHalfEven(trainSteps - (i * trainSteps) / steps) - 1);
    else out.push(steps === 1 ? trainSteps - 1 : ((trainSteps - 1) * (steps - 1 - i)) / (steps - 1));
  }
  return out;
}
