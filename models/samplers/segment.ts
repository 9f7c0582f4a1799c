/**
 * The segment sampler of a multistep consistency model (MLCD; Heek, Hoogeboom & Salimans 2024, "Multistep
 * Consistency Models"; SPEC §1.3): the teacher's trajectory is cut into K segments, and the distilled student
 * maps a point at a segment's start straight to the segment's end. Sampling is one student evaluation per
 * segment followed by a DDIM jump to the next boundary:
 *
 *   for k = 0 .. K-1:  eps = student(x_{b_k}, b_k)
 *                      x_{b_{k+1}} = sqrt(a_{b_{k+1}}) x0_hat + sqrt(1 - a_{b_{k+1}}) eps,
 *                      x0_hat = (x_{b_k} - sqrt(1 - a_{b_k}) eps) / sqrt(a_{b_k})
 *
 * with b_K the clean end (a = 1), so the last jump returns x0_hat.
 *
 * Boundaries: the K-point "trailing" grid b_k = round(T - k T / K) - 1 (999, 949, ..., 49 for K = 20). It starts
 * at T - 1, the level pure noise stands for, and it is a subset of the teacher's N-step trailing grid whenever K
 * divides N (100 teacher steps -> 20 segments of 5 teacher steps each), so each segment ends exactly where the
 * teacher's trajectory that the student was distilled on has a point.
 */
import { ddimSample, ddimTimesteps } from './ddim.js';
import type { NoisePredictor } from './guidance.js';
import type { DiffusionSchedule, TimestepSpacing } from './schedule.js';
import type { StepListener } from './steps.js';

/** The spacing of segment boundaries (see the module comment for why). */
export const SEGMENT_SPACING: TimestepSpacing = 'trailing';

/** The K segment start timesteps, noisiest first (the clean end follows the last). */
export function segmentBoundaries(
  schedule: DiffusionSchedule,
  segments: number,
  spacing: TimestepSpacing = SEGMENT_SPACING,
): number[] {
  return ddimTimesteps(schedule, segments, spacing);
}

/**
 * Sample with a multistep consistency student: exactly one network evaluation per boundary, each followed by
 * the DDIM jump to the next boundary. `xT` is not modified.
 */
export function segmentSample(
  model: NoisePredictor,
  xT: Float32Array,
  schedule: DiffusionSchedule,
  boundaries: readonly number[],
  onStep?: StepListener,
): Promise<Float32Array> {
  // With eta = 0 the student's segment jump is exactly a DDIM step between boundaries (Heek et al.'s sampler).
  return ddimSample(model, xT, schedule, boundaries, onStep);
}
