import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type DenoiserRequest, runGenerate, type TextSink } from '../../cli/generate.js';
import { CHECKPOINT_WEIGHTS, type GenerateCliOptions, videoSize } from '../../cli/generate-inputs.js';
import { createModelDenoiser } from '../../cli/generate-model.js';
import { GenerateProgress } from '../../cli/generate-progress.js';
import { makeCheckpoint, TEXT_EMBEDDINGS_FILE } from '../../cli/make-checkpoint.js';
import { EXIT } from '../../core/errors.js';
import { gaussianNoise } from '../../core/random.js';
import { readSafetensors, writeSafetensors } from '../../core/safetensors.js';
import { decodeValues, fromStorage, fromValues } from '../../core/tensor.js';
import { TINY_CONFIG } from '../../models/open-sora-plan/configs/index.js';
import type { Denoiser, LatentShape } from '../../models/open-sora-plan/denoiser.js';
import {
  randomOpenSoraWeights,
  writeOpenSoraCheckpoint,
} from '../../models/open-sora-plan/random-weights.js';
import { ALPHA_BAR, alphaBarAt, maxAbsDiff } from '../models/samplers/support.js';

/** The tiny config (models/open-sora-plan/configs/tiny.json): 4 latent channels, patch 1x2x2, caption width 32. */
const WIDTH = 32;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-generate-'));
  // Tests with a fake network still name a weights file that exists (its contents are never read).
  await writeFile(join(dir, 'unused-weights.safetensors'), '');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Call {
  batch: number;
  timesteps: number[];
  text: Float32Array;
  mask: number[];
}

/**
 * A fake network bound to a latent shape whose epsilon is exactly the noise around a fixed x0 whatever the
 * text: DDIM then returns x0 at any step count and any guidance scale (uncond + w (cond - uncond) = eps).
 */
function oracleDenoiser(
  latent: LatentShape,
  x0: Float32Array,
  attentionMs?: number,
): Denoiser & { calls: Call[] } {
  const size = latent.channels * latent.frames * latent.height * latent.width;
  const calls: Call[] = [];
  return {
    latent,
    captionChannels: WIDTH,
    calls,
    async predictNoise(x, timesteps, text, textMask, batch) {
      calls.push({ batch, timesteps: [...timesteps], text: Float32Array.from(text), mask: [...textMask] });
      return Float32Array.from(x, (v, i) => {
        const a = alphaBarAt(timesteps[Math.floor(i / size)] as number);
        return (v - Math.sqrt(a) * (x0[i % size] as number)) / Math.sqrt(1 - a);
      });
    },
    ...(attentionMs === undefined ? {} : { lastAttentionMs: () => attentionMs }),
  };
}

function buffer(isTTY = false): TextSink & { text: () => string } {
  let text = '';
  return { isTTY, write: (s: string) => (text += s), text: () => text };
}

async function writeText(
  name: string,
  tensors: Record<string, ReturnType<typeof fromValues>>,
): Promise<string> {
  const path = join(dir, name);
  await writeSafetensors(path, tensors);
  return path;
}

const prompt = gaussianNoise(1, 0, 6 * WIDTH);
const negative = gaussianNoise(2, 0, 4 * WIDTH);

async function fullText(): Promise<string> {
  return writeText('text.safetensors', {
    prompt_embeds: fromStorage('float32', [1, 6, WIDTH], prompt),
    prompt_attention_mask: fromValues('int32', [1, 6], [1, 1, 1, 1, 0, 0]),
    negative_prompt_embeds: fromValues('bfloat16', [4, WIDTH], negative),
    negative_prompt_attention_mask: fromValues('uint8', [4], [1, 0, 0, 0]),
  });
}

function cliOptions(overrides: Partial<GenerateCliOptions>): GenerateCliOptions {
  return {
    config: 'tiny',
    weights: join(dir, 'unused-weights.safetensors'),
    textEmbeddings: join(dir, 'text.safetensors'),
    frames: '9',
    size: '64x32',
    sampler: 'ddim',
    steps: '5',
    guidance: '7.5',
    seed: '3',
    out: join(dir, 'latents.safetensors'),
    backend: 'cpu',
    ...overrides,
  };
}

/** 9 frames at 64x32 -> latent 3 x 4 x 8 (VAE 4x8x8), 4 channels. */
const LATENT: LatentShape = { channels: 4, frames: 3, height: 4, width: 8 };
const X0 = gaussianNoise(77, 9, 4 * 3 * 4 * 8);

describe('tessera generate', () => {
  it('samples with guidance batched, writes the latents and their settings, and reports each step', async () => {
    const text = await fullText();
    const requests: DenoiserRequest[] = [];
    const denoiser = oracleDenoiser(LATENT, X0, 2);
    const stdout = buffer();
    const stderr = buffer();
    const out = join(dir, 'a.safetensors');
    const code = await runGenerate(cliOptions({ textEmbeddings: text, out, plan: 'plan.json' }), {
      createDenoiser: async (r) => {
        requests.push(r);
        return denoiser;
      },
      stdout,
      stderr,
    });
    expect(stderr.text()).not.toMatch(/warning/);
    expect(code).toBe(EXIT.ok);
    expect(requests).toHaveLength(1);
    expect(requests[0]?.latent).toEqual(LATENT);
    expect(requests[0]?.config.name).toBe('tiny-test');
    expect(requests[0]?.plan).toBe('plan.json');
    // One batch-2 call per step, [negative, prompt], padded to the longer text (6 tokens).
    expect(denoiser.calls.map((c) => c.batch)).toEqual([2, 2, 2, 2, 2]);
    expect(denoiser.calls.map((c) => c.timesteps[0])).toEqual([800, 600, 400, 200, 0]);
    const call = denoiser.calls[0] as Call;
    expect(call.mask).toEqual([1, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0]);
    expect(call.text.subarray(6 * WIDTH)).toEqual(prompt);
    const bf16 = decodeValues(fromValues('bfloat16', [negative.length], negative));
    expect(maxAbsDiff(call.text.subarray(0, 4 * WIDTH), bf16)).toBe(0);
    expect(call.text.subarray(4 * WIDTH, 6 * WIDTH).every((v) => v === 0)).toBe(true);

    const written = await readSafetensors(out);
    const latents = written.tensors.get('latents');
    expect(latents?.shape).toEqual([1, 4, 3, 4, 8]);
    expect(latents?.dtype).toBe('float32');
    expect(maxAbsDiff(latents?.data as Float32Array, X0)).toBeLessThan(1e-4);
    expect(written.metadata).toMatchObject({
      sampler: 'ddim',
      steps: '5',
      guidance: '7.5',
      seed: '3',
      plan: 'plan.json',
      spacing: 'leading',
      timesteps: '[800,600,400,200,0]',
      size: '64x32',
      frames: '9',
    });
    expect(stderr.text().trim().split('\n')).toHaveLength(5);
    expect(stderr.text()).toMatch(/step 5\/5 {2}t=0/);
    expect(stdout.text()).toMatch(/ddim: 5 steps/);
    expect(stdout.text()).toMatch(/network built in \d+\.\d ms/);
    expect(stdout.text()).toMatch(/attention .*% of step time/);
  });

  it('runs the segment and Euler-ancestral samplers; JSON report; one updating line on a terminal', async () => {
    const text = await fullText();
    for (const sampler of ['segment', 'euler-a']) {
      const denoiser = oracleDenoiser(LATENT, X0);
      const stdout = buffer();
      const stderr = buffer(true);
      const out = join(dir, `${sampler}.safetensors`);
      const code = await runGenerate(
        cliOptions({ textEmbeddings: text, out, sampler, steps: '3', json: true }),
        {
          createDenoiser: async () => denoiser,
          stdout,
          stderr,
        },
      );
      expect(code).toBe(EXIT.ok);
      expect(denoiser.calls).toHaveLength(3);
      const report = JSON.parse(stdout.text());
      expect(report.steps).toHaveLength(3);
      expect(report.setupMs).toBeGreaterThanOrEqual(0);
      expect(report.attentionShare).toBeUndefined();
      expect(report.timesteps).toEqual(sampler === 'segment' ? [999, 666, 332] : [999, 499.5, 0]);
      expect(stderr.text().split('\r')).toHaveLength(4);
      const latents = (await readSafetensors(out)).tensors.get('latents');
      expect(maxAbsDiff(latents?.data as Float32Array, X0)).toBeLessThan(1e-4);
    }
  });

  it('at guidance 1 runs batch 1; guidance without negative embeddings is refused before the network is built', async () => {
    const text = await writeText('prompt-only.safetensors', {
      prompt_embeds: fromStorage('float32', [6, WIDTH], prompt),
      prompt_attention_mask: fromValues('float32', [6], [1, 1, 1, 0, 0, 0]),
    });
    const unguided = oracleDenoiser(LATENT, X0);
    const stderr = buffer();
    const opts = { textEmbeddings: text, steps: '2', out: join(dir, 'b.safetensors') };
    expect(
      await runGenerate(cliOptions({ ...opts, guidance: '1' }), {
        createDenoiser: async () => unguided,
        stdout: buffer(),
        stderr,
      }),
    ).toBe(0);
    expect(unguided.calls.map((c) => c.batch)).toEqual([1, 1]);
    expect(stderr.text()).not.toMatch(/warning/);
    let created = 0;
    const printed = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const code = await runGenerate(cliOptions(opts), {
        createDenoiser: async () => {
          created++;
          return oracleDenoiser(LATENT, X0);
        },
        stdout: buffer(),
        stderr,
      });
      expect(code).toBe(EXIT.input);
      expect(String(printed.mock.calls[0]?.[0])).toMatch(/--guidance 7.5: .*negative_prompt_embeds/);
      expect(created).toBe(0);
    } finally {
      printed.mockRestore();
    }
  });

  it('rejects bad options and files with exit code 1 and a message naming the problem', async () => {
    const text = await fullText();
    const badWidth = await writeText('wide.safetensors', {
      prompt_embeds: fromStorage('float32', [2, 8], new Float32Array(16)),
      prompt_attention_mask: fromValues('uint8', [2], [1, 1]),
    });
    const noMask = await writeText('nomask.safetensors', {
      prompt_embeds: fromStorage('float32', [2, WIDTH], new Float32Array(2 * WIDTH)),
    });
    const badMask = await writeText('badmask.safetensors', {
      prompt_embeds: fromStorage('float32', [2, WIDTH], new Float32Array(2 * WIDTH)),
      prompt_attention_mask: fromValues('int32', [2], [1, 2]),
    });
    const cases: [Partial<GenerateCliOptions>, RegExp][] = [
      [{ frames: '30' }, /--frames: .*4k \+ 1/],
      [{ frames: 'x' }, /--frames: expected an integer/],
      [{ size: '1080i' }, /--size: expected 720p, 480p or WxH/],
      [{ size: '72x48' }, /--size: width 72 must be a multiple of 16/],
      [{ sampler: 'heun' }, /--sampler: unknown value "heun"; choose from segment, ddim, euler-a/],
      [{ steps: '0' }, /--steps: expected an integer from 1 to 1000/],
      [{ guidance: '-1' }, /--guidance/],
      [{ seed: '-4' }, /--seed/],
      [{ spacing: 'cosine' }, /--spacing/],
      [{ backend: 'tpu' }, /--backend/],
      [
        { backend: 'cuda', execution: 'turbo' },
        /--execution: unknown value "turbo"; choose from eager, planned, graph/,
      ],
      [{ execution: 'graph' }, /--execution: .*--backend cuda; the cpu backend/],
      [{ config: 'no-such-config' }, /--config: "no-such-config" is neither/],
      [{ weights: join(dir, 'no-such-weights') }, /--weights: .*no-such-weights does not exist/],
      [{ weights: dir }, /--config: .* is a checkpoint folder whose config.json describes the model/],
      [{ weights: dir, config: undefined }, /--weights: the folder .* has no config.json/],
      [{ config: undefined }, /--config: needed for a bare weights file/],
      [{ out: dir }, /--out: .* is a folder/],
      [{ out: join(dir, 'unused-weights.safetensors', 'x.safetensors') }, /--out: /],
      [{ textEmbeddings: join(dir, 'missing.safetensors') }, /missing.safetensors: cannot open the file/],
      [{ textEmbeddings: badWidth }, /prompt_embeds'.*8 wide.*takes 32/],
      [{ textEmbeddings: noMask }, /prompt_attention_mask'.*missing/],
      [{ textEmbeddings: badMask }, /values must be 0 or 1/],
      [{ gpus: '2', backend: 'cpu' }, /--gpus starts one process per GPU .*use --ranks 2 --backend cpu/],
      [{ gpus: '2', ranks: '2' }, /--gpus and --ranks both start processes/],
      [{ gpus: 'two' }, /--gpus: expected an integer/],
      [{ spDegree: '2' }, /--sp-degree and --cfg-parallel split a step over ranks; start them with --gpus/],
      [{ cfgParallel: true }, /--sp-degree and --cfg-parallel split a step over ranks/],
    ];
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      for (const [override, message] of cases) {
        stderr.mockClear();
        let created = 0;
        const code = await runGenerate(cliOptions({ textEmbeddings: text, ...override }), {
          createDenoiser: async () => {
            created++;
            return oracleDenoiser(LATENT, X0);
          },
          stdout: buffer(),
          stderr: buffer(),
        });
        const printed = stderr.mock.calls.map((c) => String(c[0])).join('');
        expect(printed, JSON.stringify(override)).toMatch(message);
        expect(code, JSON.stringify(override)).toBe(EXIT.input);
        expect(created).toBe(0);
      }
    } finally {
      stderr.mockRestore();
    }
  });
});

describe('tessera generate with the tiny Open-Sora-Plan model', () => {
  it('equals a hand-written guided DDIM loop over unbatched calls of the same network', async () => {
    const weights = join(dir, 'tiny.safetensors');
    await writeOpenSoraCheckpoint(weights, randomOpenSoraWeights(TINY_CONFIG, 5));
    const text = await fullText();
    const out = join(dir, 'real.safetensors');
    const stdout = buffer();
    const options = cliOptions({
      weights,
      textEmbeddings: text,
      out,
      frames: '5',
      size: '32x32',
      steps: '3',
      guidance: '4',
    });
    const code = await runGenerate(options, {
      createDenoiser: createModelDenoiser,
      stdout,
      stderr: buffer(),
    });
    expect(stdout.text()).toMatch(/ddim: 3 steps/);
    expect(code).toBe(EXIT.ok);
    const latents = (await readSafetensors(out)).tensors.get('latents');
    expect(latents?.shape).toEqual([1, 4, 2, 4, 4]);

    // The oracle: separate batch-1 calls for the prompt and the negative prompt, mixed and stepped here.
    const latent = { channels: 4, frames: 2, height: 4, width: 4 };
    const model = await createModelDenoiser({ config: TINY_CONFIG, weights, latent, backend: 'cpu' });
    const bf16Negative = Float32Array.from(decodeValues(fromValues('bfloat16', [negative.length], negative)));
    let x = Array.from(gaussianNoise(3, 0, 4 * 2 * 4 * 4));
    const timesteps = [666, 333, 0];
    for (const [k, t] of timesteps.entries()) {
      const xs = Float32Array.from(x);
      const ts = Float32Array.of(t);
      const cond = await model.predictNoise(xs, ts, prompt, Uint8Array.of(1, 1, 1, 1, 0, 0), 1);
      const uncond = await model.predictNoise(xs, ts, bf16Negative, Uint8Array.of(1, 0, 0, 0), 1);
      const a = ALPHA_BAR[t] as number;
      const next = timesteps[k + 1];
      const aNext = next === undefined ? 1 : (ALPHA_BAR[next] as number);
      x = x.map((v, i) => {
        const eps = (uncond[i] as number) + 4 * ((cond[i] as number) - (uncond[i] as number));
        const x0 = (v - Math.sqrt(1 - a) * eps) / Math.sqrt(a);
        return Math.sqrt(aNext) * x0 + Math.sqrt(1 - aNext) * eps;
      });
    }
    const scale = Math.max(...x.map(Math.abs));
    expect(maxAbsDiff(latents?.data as Float32Array, x) / scale).toBeLessThan(1e-4);
  });

  it('reports a checkpoint for another config, a missing plan and an unavailable backend as user errors', async () => {
    const text = await fullText();
    const wrong = join(dir, 'wrong.safetensors');
    await writeOpenSoraCheckpoint(wrong, randomOpenSoraWeights({ ...TINY_CONFIG, layers: 1 }, 1));
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      for (const [override, message] of [
        [{ weights: wrong }, /does not hold the weights of tiny-test/],
        [{ weights: wrong, plan: join(dir, 'no-plan.json') }, /--plan: cannot read/],
        // Without a GPU (CI) the CUDA backend is unavailable; with one, the wrong checkpoint is reported.
        [
          { weights: wrong, backend: 'cuda' },
          /CUDA backend unavailable|does not hold the weights of tiny-test/,
        ],
      ] as [Partial<GenerateCliOptions>, RegExp][]) {
        stderr.mockClear();
        const code = await runGenerate(
          cliOptions({ textEmbeddings: text, frames: '5', size: '32x32', ...override }),
          {
            createDenoiser: createModelDenoiser,
            stdout: buffer(),
            stderr: buffer(),
          },
        );
        expect(stderr.mock.calls.map((c) => String(c[0])).join('')).toMatch(message);
        expect(code).toBe(EXIT.input);
      }
    } finally {
      stderr.mockRestore();
    }
  });
});

describe('tessera make-checkpoint, then generate from the folder', () => {
  it('writes config.json, weights and embeddings that generate runs end to end on the CPU', async () => {
    const folder = join(dir, 'made');
    const written = await makeCheckpoint({
      config: 'tiny',
      out: folder,
      seed: '4',
      textTokens: '16',
      promptTokens: '5',
    });
    expect(written).toHaveLength(3);
    const stdout = buffer();
    const code = await runGenerate(
      {
        weights: folder,
        textEmbeddings: join(folder, TEXT_EMBEDDINGS_FILE),
        frames: '9',
        size: '64x64',
        sampler: 'segment',
        steps: '3',
        guidance: '7.5',
        seed: '0',
        out: join(folder, 'latents.safetensors'),
        backend: 'cpu',
      },
      { createDenoiser: createModelDenoiser, stdout, stderr: buffer() },
    );
    expect(code).toBe(EXIT.ok);
    const latents = (await readSafetensors(join(folder, 'latents.safetensors'))).tensors.get('latents');
    expect(latents?.shape).toEqual([1, 4, 3, 8, 8]);
    expect(Array.from(latents!.data as Float32Array).every(Number.isFinite)).toBe(true);
    // A bare weights file finds the config.json beside it.
    expect(
      await runGenerate(
        cliOptions({
          config: undefined,
          weights: join(folder, CHECKPOINT_WEIGHTS),
          textEmbeddings: join(folder, TEXT_EMBEDDINGS_FILE),
          size: '32x32',
          steps: '1',
        }),
        { createDenoiser: createModelDenoiser, stdout: buffer(), stderr: buffer() },
      ),
    ).toBe(EXIT.ok);
  });

  it('without --size samples at the size the checkpoint was trained at (its config.json sample size)', async () => {
    const folder = join(dir, 'trained-size');
    await makeCheckpoint({ config: 'tiny', out: folder, seed: '5', textTokens: '8', promptTokens: '3' });
    const configFile = join(folder, 'config.json');
    const json = JSON.parse(await readFile(configFile, 'utf8')) as Record<string, unknown>;
    // Trained at 48 x 32 pixels: latent 4 x 6 (upstream's sample_size is [height, width] in latent units).
    await writeFile(configFile, JSON.stringify({ ...json, sample_size: [4, 6], sample_size_t: 3 }));
    const out = join(folder, 'latents.safetensors');
    const code = await runGenerate(
      cliOptions({
        config: undefined,
        weights: folder,
        textEmbeddings: join(folder, TEXT_EMBEDDINGS_FILE),
        size: undefined,
        frames: '5',
        steps: '1',
        out,
      }),
      { createDenoiser: createModelDenoiser, stdout: buffer(), stderr: buffer() },
    );
    expect(code).toBe(EXIT.ok);
    const file = await readSafetensors(out);
    expect(file.tensors.get('latents')?.shape).toEqual([1, 4, 2, 4, 6]);
    expect(file.metadata?.size).toBe('48x32');
    expect(videoSize(TINY_CONFIG, {})).toEqual({ width: 1280, height: 720 });
    expect(videoSize(TINY_CONFIG, { size: { width: 64, height: 32 } })).toEqual({ width: 64, height: 32 });
  });
});

describe('generate progress', () => {
  it('shows the layer and an estimate inside a slow step, and an estimate after each step', () => {
    let now = 0;
    const sink = buffer(true);
    const progress = new GenerateProgress(sink, 4, () => now);
    now = 1000;
    progress.layer(8, 32); // under 2 s into the step: quiet
    expect(sink.text()).toBe('');
    now = 5000;
    progress.layer(16, 32);
    expect(sink.text()).toMatch(/step 1\/4 {2}layer 16\/32 {2}5\.0s, about 35s left/);
    now = 10_000;
    progress.step({ index: 0, of: 4, timestep: 999, ms: 10_000 });
    expect(sink.text()).toMatch(/step 1\/4 {2}t=999 {2}10000 ms {2}10s, about 30s left/);
    const plain = buffer(false);
    const lines = new GenerateProgress(plain, 2, () => now);
    now = 13_000;
    lines.layer(1, 32);
    now = 14_000;
    lines.layer(2, 32); // plain output: a layer line at most every 10 s
    expect(plain.text().trim().split('\n')).toHaveLength(1);
  });
});
