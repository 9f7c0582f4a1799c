/**
 * Euler-ancestral with epsilon prediction (Karras et al. 2022's ancestral Euler in the variance-exploding
 * view; diffusers' `EulerAncestralDiscreteScheduler`, which Open-Sora-Plan 1.2 samples with by default).
 *
 * In the VE view z = x / sqrt(alpha_bar) has noise level sigma = sqrt((1 - alpha_bar) / alpha_bar). With
 * sigmas s_0 > ... > s_{N-1} > s_N = 0 on the linspace timestep grid (sigma interpolated linearly between
 * integer timesteps), step i does:
 *
 *   eps     = model(z / sqrt(s_i^2 + 1), t_i)                         (the VP latent the network was trained on)
 *   s_up    = sqrt(s_{i+1}^2 (s_i^2 - s_{i+1}^2) / s_i^2),   s_down = sqrt(s_{i+1}^2 - s_up^2)
 *   z       = z + eps (s_down - s_i) + s_up * noise_i
 *
 * starting from z = sqrt(s_0^2 + 1) * noise (the VP latent x_T is the plain noise). `noise_i` is stream
 * `NOISE_STREAM.ancestral + i` of the seed, so a run is reproducible. The last step has s_up = 0, and z at
 * sigma 0 is the clean latent.
 */
import { gaussianNoise, NOISE_STREAM } from '../../core/random.js';
import type { NoisePredictor } from './guidance.js';
import { type DiffusionSchedule, inferenceTimesteps, interpolatedSigma } from './schedule.js';
import { checkLatent, type StepListener, timedStep } from './steps.js';

/** The (fractional) timesteps of an N-step Euler-ancestral run: the linspace grid, as diffusers' default. */
export function eulerAncestralTimesteps(schedule: DiffusionSchedule, steps: number): number[] {
  return inferenceTimesteps(schedule.trainSteps, steps, 'linspace');
}

/** The ancestral split of a step from sigma `from` to sigma `to`: noise added (up) and the ODE target (down). */
export function ancestralSigmas(from: number, to: number): { up: number; down: number } {
  const up = Math.sqrt((to * to * (from * from - to * to)) / (from * from));
  return { up, down: Math.sqrt(to * to - up * up) };
}

/**
 * Euler-ancestral from the VP latent `xT` (plain standard noise) through `timesteps` (descending, may be
 * fractional) to the clean end; `seed` drives the fresh noise of each step. `xT` is not modified.
 */
export async function eulerAncestralSample(
  model: NoisePredictor,
  xT: Float32Array,
  schedule: DiffusionSchedule,
  timesteps: readonly number[],
  seed: number,
  onStep?: StepListener,
): Promise<Float32Array> {
  checkLatent(model, xT, 'the initial latent');
  timesteps.forEach((t, i) => {
    const previous = timesteps[i - 1];
    if (previous !== undefined && !(t < previous)) {
      throw new RangeError(`timesteps must strictly decrease, found ${previous} then ${t}`);
    }
  });
  const sigmas = [...timesteps.map((t) => interpolatedSigma(schedule, t)), 0];
  const z = new Float64Array(xT.length);
  const start = Math.sqrt((sigmas[0] as number) ** 2 + 1);
  for (let j = 0; j < z.length; j++) z[j] = (xT[j] as number) * start;
  const input = new Float32Array(xT.length);
  for (let i = 0; i < timesteps.length; i++) {
    const t = timesteps[i] as number;
    const sigma = sigmas[i] as number;
    const { up, down } = ancestralSigmas(sigma, sigmas[i + 1] as number);
    await timedStep(model, i, timesteps.length, t, onStep, async () => {
      const scale = 1 / Math.sqrt(sigma * sigma + 1);
      for (let j = 0; j < z.length; j++) input[j] = (z[j] as number) * scale;
      const eps = await model.predict(input, t);
      const noise = up > 0 ? gaussianNoise(seed, NOISE_STREAM.ancestral + i, z.length) : undefined;
      for (let j = 0; j < z.length; j++) {
        z[j] =
          (z[j] as number) + (eps[j] as number) * (down - sigma) + (noise ? (noise[j] as number) * up : 0);
      }
    });
  }
  return Float32Array.from(z);
}
