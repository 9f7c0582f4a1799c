/**
 * Calibration inputs along the sampler's own path (SPEC §1.3): for every prompt and seed, the full model samples
 * from that seed's noise, and the network's inputs at chosen steps are recorded exactly as the model saw them:
 * the latents it was given, the timesteps, and the guidance batch ([uncond, cond] text with its masks). The
 * model's output on each recorded call is kept too: it is the full-attention reference the search compares with.
 * Sampling stops after the last step it needs.
 */
import { OptionError } from '../core/errors.js';
import type { Denoiser } from '../models/open-sora-plan/denoiser.js';
import {
  type Guidance,
  guidedPredictor,
  linearDdpmSchedule,
  type SamplerName,
  type StepReport,
  sample,
  sampleTimesteps,
  type TimestepSpacing,
} from '../models/samplers/index.js';

/** One calibration input: the network's inputs of one call, and where on the path it comes from. */
export interface CalibrationInput {
  /** Seed of the trajectory's initial noise. */
  readonly seed: number;
  /** Index of the prompt in the embeddings file. */
  readonly prompt: number;
  /** 0-based sampler step. */
  readonly step: number;
  /** The training timestep of that step. */
  readonly timestep: number;
  readonly batch: number;
  /** Noisy latents [B, C, T, H, W] as the network received them. */
  readonly x: Float32Array;
  readonly timesteps: Float32Array;
  /** Text embeddings [B, L, caption] and mask [B, L] (the guidance batch: uncond first). */
  readonly text: Float32Array;
  readonly textMask: Uint8Array;
  /** The full model's epsilon on this input, when recorded; the search computes it otherwise. */
  readonly reference?: Float32Array;
}

/** Which steps of each trajectory are recorded. */
export type CalibrationSteps = 'spread' | readonly number[];

/** How to walk the sampler's path. */
export interface CalibrationRequest {
  /** One guidance setting per prompt (cond, uncond and the scale). */
  readonly prompts: readonly Guidance[];
  /** Seeds of the trajectories (each prompt is sampled from each). */
  readonly seeds: readonly number[];
  readonly sampler: SamplerName;
  /** The sampler's steps (segments for `segment`). */
  readonly steps: number;
  readonly spacing?: TimestepSpacing;
  /**
   * `spread`: trajectory i of n is recorded once, at step floor(i * steps / n), so n seeds cover the path from
   * pure noise towards the clean end; a list: every trajectory at each listed step.
   */
  readonly at: CalibrationSteps;
}

/** The steps recorded from trajectory `index` of `count`. */
export function calibrationSteps(
  at: CalibrationSteps,
  index: number,
  count: number,
  steps: number,
): number[] {
  if (at === 'spread') return [Math.floor((index * steps) / count)];
  for (const s of at)
    if (!Number.isInteger(s) || s < 0 || s >= steps)
      throw new OptionError(
        `--calibration-steps: step ${s} is not a step of the sampler (0 to ${steps - 1})`,
      );
  return [...new Set(at)].sort((a, b) => a - b);
}

/** Thrown through the sampler (from its step listener) once every wanted step is recorded. */
class PathRecorded extends Error {}

/** One network call seen on the path. */
interface SeenCall {
  readonly inputs: Omit<CalibrationInput, 'seed' | 'prompt' | 'step' | 'timestep'>;
}

/** A denoiser that passes calls through and keeps copies of the wanted ones. */
function recording(denoiser: Denoiser, wanted: readonly number[], seen: Map<number, SeenCall>): Denoiser {
  let call = 0;
  return {
    latent: denoiser.latent,
    captionChannels: denoiser.captionChannels,
    async predictNoise(x, timesteps, text, textMask, batch) {
      const index = call++;
      const eps = await denoiser.predictNoise(x, timesteps, text, textMask, batch);
      if (wanted.includes(index)) {
        seen.set(index, {
          inputs: {
            batch,
            x: Float32Array.from(x),
            timesteps: Float32Array.from(timesteps),
            text: Float32Array.from(text),
            textMask: Uint8Array.from(textMask, (m) => (m !== 0 ? 1 : 0)),
            reference: Float32Array.from(eps),
          },
        });
      }
      return eps;
    },
  };
}

/**
 * Sample with the full model along every (prompt, seed) trajectory up to the last recorded step, and return the
 * recorded inputs, ordered by prompt, then seed, then step. `onStep` sees every sampler step taken.
 */
export async function collectCalibration(
  denoiser: Denoiser,
  request: CalibrationRequest,
  onStep?: (report: StepReport & { readonly prompt: number; readonly seed: number }) => void,
): Promise<CalibrationInput[]> {
  const schedule = linearDdpmSchedule();
  const options = {
    sampler: request.sampler,
    steps: request.steps,
    ...(request.spacing === undefined ? {} : { spacing: request.spacing }),
  };
  const timesteps = sampleTimesteps(schedule, { ...options, seed: 0 });
  const inputs: CalibrationInput[] = [];
  for (const [prompt, guidance] of request.prompts.entries()) {
    for (const [index, seed] of request.seeds.entries()) {
      const wanted = calibrationSteps(request.at, index, request.seeds.length, request.steps);
      const seen = new Map<number, SeenCall>();
      const model = guidedPredictor(recording(denoiser, wanted, seen), guidance);
      try {
        await sample(model, schedule, {
          ...options,
          seed,
          onStep: (r) => {
            onStep?.({ ...r, prompt, seed });
            if (r.index >= Math.max(...wanted)) throw new PathRecorded();
          },
        });
      } catch (error) {
        if (!(error instanceof PathRecorded)) throw error;
      }
      for (const step of wanted)
        inputs.push({ seed, prompt, step, timestep: timesteps[step]!, ...seen.get(step)!.inputs });
    }
  }
  return inputs;
}

/** Network evaluations {@link collectCalibration} makes: per prompt and seed, the last recorded step + 1. */
export function calibrationCost(request: Omit<CalibrationRequest, 'prompts'>, prompts: number): number {
  let calls = 0;
  for (let i = 0; i < request.seeds.length; i++)
    calls += Math.max(...calibrationSteps(request.at, i, request.seeds.length, request.steps)) + 1;
  return calls * prompts;
}
