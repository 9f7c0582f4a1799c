/**
 * What every sampler shares: the per-step report, the step loop's timing, and the options common to all.
 */
import type { NoisePredictor } from './guidance.js';

/** One finished sampling step (one network evaluation). */
export interface StepReport {
  /** 0-based step index. */
  readonly index: number;
  /** Number of steps of the run. */
  readonly of: number;
  /** The training timestep the network saw (fractional for Euler-ancestral's linspace grid). */
  readonly timestep: number;
  /** Wall time of the step, network call included. */
  readonly ms: number;
  /** Time the network spent in attention, when it reports it. */
  readonly attentionMs?: number;
}

/** Called after every step (progress bars, timing reports). */
export type StepListener = (report: StepReport) => void;

/** Run `body` as step `index` of `of` at `timestep`, and report it with the predictor's timing. */
export async function timedStep<T>(
  model: NoisePredictor,
  index: number,
  of: number,
  timestep: number,
  onStep: StepListener | undefined,
  body: () => Promise<T>,
): Promise<T> {
  const start = performance.now();
  const result = await body();
  const ms = performance.now() - start;
  const attentionMs = model.lastTiming?.attentionMs;
  onStep?.(
    attentionMs === undefined ? { index, of, timestep, ms } : { index, of, timestep, ms, attentionMs },
  );
  return result;
}

/** Check that a latent has the predictor's size (a mismatch would silently read garbage). */
export function checkLatent(model: NoisePredictor, x: Float32Array, what: string): void {
  if (x.length !== model.size)
    throw new RangeError(`${what} holds ${x.length} values, expected ${model.size}`);
}
