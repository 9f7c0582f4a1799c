/**
 * Test doubles for the samplers, written from the formulas and independent of `models/samplers`:
 * the linear DDPM schedule (log-space cumulative product), closed-form noise predictors for Gaussian data and
 * for a known x0, and a counting wrapper.
 */
import type { NoisePredictor, PredictionTiming } from '../../../models/samplers/index.js';

/** alpha_bar_t of the linear schedule (1000 steps, 1e-4 .. 0.02), via exp(sum log(1 - beta)). */
export const ALPHA_BAR: readonly number[] = (() => {
  const out: number[] = [];
  let logSum = 0;
  for (let t = 0; t < 1000; t++) {
    logSum += Math.log1p(-(0.0001 + (0.0199 * t) / 999));
    out.push(Math.exp(logSum));
  }
  return out;
})();

/** alpha_bar at a fractional timestep, as Euler-ancestral sees it: sigma interpolated linearly, a = 1 / (1 + sigma^2). */
export function alphaBarAt(t: number): number {
  const sigma = (i: number) => Math.sqrt((1 - (ALPHA_BAR[i] as number)) / (ALPHA_BAR[i] as number));
  const lo = Math.floor(t);
  const s = lo === t ? sigma(lo) : (lo + 1 - t) * sigma(lo) + (t - lo) * sigma(lo + 1);
  return 1 / (1 + s * s);
}

/** A predictor from a per-element function of (x_i, i, alpha_bar), counting its calls. */
export function closedFormPredictor(
  size: number,
  eps: (x: number, index: number, a: number) => number,
): NoisePredictor & { calls: number[] } {
  const calls: number[] = [];
  return {
    size,
    calls,
    lastTiming: undefined as PredictionTiming | undefined,
    async predict(x: Float32Array, t: number): Promise<Float32Array> {
      calls.push(t);
      const a = alphaBarAt(t);
      return Float32Array.from(x, (v, i) => eps(v, i, a));
    },
  };
}

/**
 * The optimal epsilon for data x0 ~ N(mu, s^2) (each element independent):
 * E[eps | x_t] = sqrt(1 - a) (x_t - sqrt(a) mu) / (a s^2 + 1 - a).
 */
export function gaussianDataPredictor(size: number, mu: number, s: number) {
  return closedFormPredictor(
    size,
    (x, _i, a) => (Math.sqrt(1 - a) * (x - Math.sqrt(a) * mu)) / (a * s * s + 1 - a),
  );
}

/** The epsilon that is exactly the noise of x_t around a known x0: (x_t - sqrt(a) x0) / sqrt(1 - a). */
export function oraclePredictor(x0: Float32Array) {
  return closedFormPredictor(
    x0.length,
    (x, i, a) => (x - Math.sqrt(a) * (x0[i] as number)) / Math.sqrt(1 - a),
  );
}

/** Mean and variance of an array. */
export function moments(values: ArrayLike<number>): { mean: number; variance: number } {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i] as number;
  const mean = sum / values.length;
  let sq = 0;
  for (let i = 0; i < values.length; i++) sq += ((values[i] as number) - mean) ** 2;
  return { mean, variance: sq / values.length };
}

/** Largest absolute difference. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)));
  return worst;
}
