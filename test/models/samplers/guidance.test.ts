import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gaussianNoise } from '../../../core/random.js';
import type { Denoiser } from '../../../models/open-sora-plan/denoiser.js';
import {
  ddimSample,
  GuidanceError,
  guidedPredictor,
  linearDdpmSchedule,
  type TextCondition,
} from '../../../models/samplers/index.js';
import { testRuns } from '../../runtime/cpu/support.js';
import { maxAbsDiff } from './support.js';

const RUNS = testRuns(20);
const LATENT = { channels: 2, frames: 2, height: 3, width: 2 };
const SIZE = 24;
const WIDTH = 5;

interface Call {
  batch: number;
  timesteps: number[];
  masks: number[][];
}

/**
 * A fake network whose epsilon depends on x, t and the text the mask lets through: for batch element b,
 * eps_i = 0.3 x_i + t / 1000 + (mean of visible embedding values) * (i + 1) / 10.
 */
function fakeDenoiser(): Denoiser & { calls: Call[] } {
  const calls: Call[] = [];
  return {
    latent: LATENT,
    captionChannels: WIDTH,
    calls,
    async predictNoise(x, timesteps, text, textMask, batch) {
      const length = textMask.length / batch;
      calls.push({
        batch,
        timesteps: [...timesteps],
        masks: Array.from({ length: batch }, (_, b) => [...textMask.subarray(b * length, (b + 1) * length)]),
      });
      const out = new Float32Array(batch * SIZE);
      for (let b = 0; b < batch; b++) {
        let sum = 0;
        let count = 0;
        for (let l = 0; l < length; l++) {
          if (!textMask[b * length + l]) continue;
          for (let d = 0; d < WIDTH; d++) sum += text[(b * length + l) * WIDTH + d] as number;
          count += WIDTH;
        }
        const textTerm = count ? sum / count : 0;
        for (let i = 0; i < SIZE; i++) {
          out[b * SIZE + i] =
            0.3 * (x[b * SIZE + i] as number) + (timesteps[b] as number) / 1000 + (textTerm * (i + 1)) / 10;
        }
      }
      return out;
    },
  };
}

function text(seed: number, length: number, real: number): TextCondition {
  return {
    embeddings: gaussianNoise(seed, 0, length * WIDTH),
    mask: Uint8Array.from({ length }, (_, i) => (i < real ? 1 : 0)),
  };
}

describe('classifier-free guidance', () => {
  it('at scale 1 calls the network with batch 1 and returns the conditional epsilon', async () => {
    const cond = text(1, 4, 3);
    const denoiser = fakeDenoiser();
    const guided = guidedPredictor(denoiser, { cond, uncond: text(2, 4, 1), scale: 1 });
    const x = gaussianNoise(3, 0, SIZE);
    const eps = await guided.predict(x, 420);
    expect(denoiser.calls).toEqual([{ batch: 1, timesteps: [420], masks: [[1, 1, 1, 0]] }]);
    const alone = fakeDenoiser();
    expect(eps).toEqual(await alone.predictNoise(x, Float32Array.of(420), cond.embeddings, cond.mask, 1));
  });

  it('batches [uncond, cond] into one call and mixes them as uncond + w (cond - uncond)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.double({ min: -2, max: 12, noNaN: true }).filter((w) => w !== 1),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 6 }),
        fc.nat(1000),
        async (scale, condLength, uncondLength, seed) => {
          const cond = text(seed, condLength, condLength);
          const uncond = text(seed + 1, uncondLength, Math.max(1, uncondLength - 1));
          const denoiser = fakeDenoiser();
          const x = gaussianNoise(seed, 1, SIZE);
          const eps = await guidedPredictor(denoiser, { cond, uncond, scale }).predict(x, 77.5);
          expect(denoiser.calls).toHaveLength(1);
          const call = denoiser.calls[0] as Call;
          expect(call.batch).toBe(2);
          expect(call.timesteps).toEqual([77.5, 77.5]);
          const length = Math.max(condLength, uncondLength);
          const padded = (m: Uint8Array) => [...m, ...new Array(length - m.length).fill(0)];
          expect(call.masks).toEqual([padded(uncond.mask), padded(cond.mask)]);
          // The oracle: two separate unbatched calls, mixed here.
          const single = fakeDenoiser();
          const t = Float32Array.of(77.5);
          const c = await single.predictNoise(x, t, cond.embeddings, cond.mask, 1);
          const u = await single.predictNoise(x, t, uncond.embeddings, uncond.mask, 1);
          const expected = Array.from(c, (cv, i) => (u[i] as number) + scale * (cv - (u[i] as number)));
          expect(maxAbsDiff(eps, expected)).toBeLessThan(1e-5 * (1 + Math.abs(scale)));
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('drives a whole DDIM run with one network call per step', async () => {
    const denoiser = fakeDenoiser();
    const guided = guidedPredictor(denoiser, { cond: text(1, 3, 3), uncond: text(2, 3, 1), scale: 7.5 });
    await ddimSample(guided, gaussianNoise(0, 0, SIZE), linearDdpmSchedule(), [999, 500, 20]);
    expect(denoiser.calls.map((c) => [c.batch, c.timesteps[0]])).toEqual([
      [2, 999],
      [2, 500],
      [2, 20],
    ]);
  });

  it('rejects bad inputs with GuidanceError', async () => {
    const denoiser = fakeDenoiser();
    expect(() => guidedPredictor(denoiser, { cond: text(1, 3, 3), scale: 2 })).toThrow(GuidanceError);
    expect(() => guidedPredictor(denoiser, { cond: text(1, 3, 3), scale: Number.NaN })).toThrow(/finite/);
    const ragged = { embeddings: new Float32Array(7), mask: new Uint8Array(2) };
    expect(() => guidedPredictor(denoiser, { cond: ragged, scale: 1 })).toThrow(/mask length 2 x 5/);
    const guided = guidedPredictor(denoiser, { cond: text(1, 3, 3), scale: 1 });
    await expect(guided.predict(new Float32Array(5), 1)).rejects.toThrow(GuidanceError);
  });
});
