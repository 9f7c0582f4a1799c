/**
 * Samplers for the Open-Sora-Plan 1.2 DiT: the teacher's DDIM and Euler-ancestral, the multistep-consistency
 * segment sampler, and classifier-free guidance. `sample` picks one by name and draws x_T from the seed.
 */
import { gaussianNoise, NOISE_STREAM } from '../../core/random.js';
import { ddimSample, ddimTimesteps } from './ddim.js';
import { eulerAncestralSample, eulerAncestralTimesteps } from './euler-ancestral.js';
import type { NoisePredictor } from './guidance.js';
import type { DiffusionSchedule, TimestepSpacing } from './schedule.js';
import { SEGMENT_SPACING, segmentBoundaries, segmentSample } from './segment.js';
import type { StepListener } from './steps.js';

export { checkDescending, ddimJump, ddimSample, ddimTimesteps } from './ddim.js';
export { ancestralSigmas, eulerAncestralSample, eulerAncestralTimesteps } from './euler-ancestral.js';
export {
  type Guidance,
  GuidanceError,
  guidedPredictor,
  type NoisePredictor,
  type PredictionTiming,
  type TextCondition,
  type TimedDenoiser,
} from './guidance.js';
export {
  alphaBar,
  CLEAN,
  type DiffusionSchedule,
  inferenceTimesteps,
  interpolatedSigma,
  type LinearScheduleOptions,
  linearDdpmSchedule,
  roundHalfEven,
  sigmaAt,
  TIMESTEP_SPACINGS,
  type TimestepSpacing,
} from './schedule.js';
export { SEGMENT_SPACING, segmentBoundaries, segmentSample } from './segment.js';
export type { StepListener, StepReport } from './steps.js';

/** Sampler names, as the CLI spells them. */
export type SamplerName = 'segment' | 'ddim' | 'euler-a';

/** Names accepted for {@link SamplerName}. */
export const SAMPLER_NAMES: readonly SamplerName[] = ['segment', 'ddim', 'euler-a'];

/**
 * The timestep spacing each sampler uses unless told otherwise: DDIM keeps diffusers' `DDIMScheduler`
 * default (leading) so a run matches the Open-Sora-Plan reference pipeline; Euler-ancestral keeps its
 * scheduler's default (linspace); segment boundaries are trailing (see `segment.ts`).
 */
export const DEFAULT_SPACING: Readonly<Record<SamplerName, TimestepSpacing>> = {
  segment: SEGMENT_SPACING,
  ddim: 'leading',
  'euler-a': 'linspace',
};

/** A sampling request. */
export interface SampleOptions {
  readonly sampler: SamplerName;
  /** Network evaluations: inference steps, or segments K for `segment`. */
  readonly steps: number;
  /** Seed of x_T (stream 0) and of Euler-ancestral's per-step noise. */
  readonly seed: number;
  /** Overrides {@link DEFAULT_SPACING}. */
  readonly spacing?: TimestepSpacing;
  readonly onStep?: StepListener;
}

/** The timesteps a request will visit, noisiest first. */
export function sampleTimesteps(schedule: DiffusionSchedule, options: SampleOptions): number[] {
  const spacing = options.spacing ?? DEFAULT_SPACING[options.sampler];
  switch (options.sampler) {
    case 'segment':
      return segmentBoundaries(schedule, options.steps, spacing);
    case 'ddim':
      return ddimTimesteps(schedule, options.steps, spacing);
    case 'euler-a':
      // Euler-ancestral reads sigma between integer timesteps, so only its linspace grid stays fractional.
      return spacing === 'linspace'
        ? eulerAncestralTimesteps(schedule, options.steps)
        : ddimTimesteps(schedule, options.steps, spacing);
  }
}

/** Draw x_T from the seed and run the requested sampler to the clean latent. */
export function sample(
  model: NoisePredictor,
  schedule: DiffusionSchedule,
  options: SampleOptions,
): Promise<Float32Array> {
  const xT = gaussianNoise(options.seed, NOISE_STREAM.initial, model.size);
  const timesteps = sampleTimesteps(schedule, options);
  switch (options.sampler) {
    case 'segment':
      return segmentSample(model, xT, schedule, timesteps, options.onStep);
    case 'ddim':
      return ddimSample(model, xT, schedule, timesteps, options.onStep);
    case 'euler-a':
      return eulerAncestralSample(model, xT, schedule, timesteps, options.seed, options.onStep);
  }
}
