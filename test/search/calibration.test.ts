import { describe, expect, it } from 'vitest';
import { OptionError } from '../../core/errors.js';
import { gaussianNoise } from '../../core/random.js';
import type { Denoiser } from '../../models/open-sora-plan/denoiser.js';
import { type Guidance, guidedPredictor, linearDdpmSchedule, sample } from '../../models/samplers/index.js';
import { calibrationCost, calibrationSteps, collectCalibration } from '../../search/calibration.js';

const LATENT = { channels: 2, frames: 2, height: 2, width: 2 };
const SIZE = 16;
const WIDTH = 3;

interface Call {
  x: Float32Array;
  timesteps: Float32Array;
  text: Float32Array;
  mask: Uint8Array;
  batch: number;
  out: Float32Array;
}

/** A deterministic fake network whose output depends on every input, recording its calls. */
function fakeDenoiser(): Denoiser & { calls: Call[] } {
  const calls: Call[] = [];
  return {
    latent: LATENT,
    captionChannels: WIDTH,
    calls,
    async predictNoise(x, timesteps, text, textMask, batch) {
      const textSum = text.reduce((a, b) => a + b, 0);
      const out = Float32Array.from(
        x,
        (v, i) => 0.3 * v + 0.001 * timesteps[Math.floor(i / SIZE)]! + 0.01 * textSum,
      );
      calls.push({
        x: Float32Array.from(x),
        timesteps: Float32Array.from(timesteps),
        text: Float32Array.from(text),
        mask: Uint8Array.from(textMask),
        batch,
        out,
      });
      return out;
    },
  };
}

const prompt = (seed: number): Guidance => ({
  cond: { embeddings: gaussianNoise(seed, 0, 2 * WIDTH), mask: Uint8Array.of(1, 1) },
  uncond: { embeddings: gaussianNoise(seed, 1, 1 * WIDTH), mask: Uint8Array.of(1) },
  scale: 5,
});

describe('calibration along the sampler path', () => {
  it('records the inputs the full model sees at the chosen steps, as the sampler calls it', async () => {
    const prompts = [prompt(1), prompt(2)];
    const request = {
      prompts,
      seeds: [10, 11, 12],
      sampler: 'ddim' as const,
      steps: 6,
      at: 'spread' as const,
    };
    const denoiser = fakeDenoiser();
    const seen: [number, number, number][] = [];
    const inputs = await collectCalibration(denoiser, request, (r) => seen.push([r.prompt, r.seed, r.index]));
    // Seed i of 3 at step floor(6 i / 3): 0, 2, 4; for both prompts; stopped after the last recorded step.
    expect(inputs.map((i) => [i.prompt, i.seed, i.step])).toEqual([
      [0, 10, 0],
      [0, 11, 2],
      [0, 12, 4],
      [1, 10, 0],
      [1, 11, 2],
      [1, 12, 4],
    ]);
    expect(denoiser.calls).toHaveLength(calibrationCost(request, prompts.length));
    expect(denoiser.calls).toHaveLength(2 * (1 + 3 + 5));
    // Every network call is reported as a step, the last of each trajectory included.
    expect(seen).toHaveLength(denoiser.calls.length);
    expect(seen.slice(0, 4)).toEqual([
      [0, 10, 0],
      [0, 11, 0],
      [0, 11, 1],
      [0, 11, 2],
    ]);

    // The same trajectories sampled to the end, every call recorded: the recorded inputs are those calls.
    for (const input of inputs) {
      const full = fakeDenoiser();
      await sample(guidedPredictor(full, prompts[input.prompt]!), linearDdpmSchedule(), {
        sampler: 'ddim',
        steps: 6,
        seed: input.seed,
      });
      expect(full.calls).toHaveLength(6);
      const call = full.calls[input.step]!;
      expect(input.batch).toBe(2);
      expect(input.x).toEqual(call.x);
      expect(input.timesteps).toEqual(call.timesteps);
      expect(input.timestep).toBe(call.timesteps[0]);
      expect(input.text).toEqual(call.text);
      expect(input.textMask).toEqual(call.mask);
      expect(input.reference).toEqual(call.out);
      // The guidance batch as the model sees it: [uncond, cond], padded to the longer text.
      expect(Array.from(input.textMask)).toEqual([1, 0, 1, 1]);
    }
  });

  it('records every trajectory at each listed step; rejects steps the sampler does not take', async () => {
    const denoiser = fakeDenoiser();
    const inputs = await collectCalibration(denoiser, {
      prompts: [prompt(3)],
      seeds: [1, 2],
      sampler: 'segment',
      steps: 5,
      at: [3, 1],
    });
    expect(inputs.map((i) => [i.seed, i.step])).toEqual([
      [1, 1],
      [1, 3],
      [2, 1],
      [2, 3],
    ]);
    expect(denoiser.calls).toHaveLength(8);
    expect(() => calibrationSteps([5], 0, 1, 5)).toThrow(OptionError);
    expect(calibrationSteps('spread', 3, 4, 20)).toEqual([15]);
  });
});
