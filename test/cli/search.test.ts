import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTextEmbeddingSet, readTextEmbeddings } from '../../cli/generate-inputs.js';
import { createModelNetwork } from '../../cli/generate-model.js';
import { runSearch, type SearchCliOptions } from '../../cli/search.js';
import { readLayerPlan } from '../../compiler/layer-plan.js';
import { EXIT } from '../../core/errors.js';
import { gaussianNoise } from '../../core/random.js';
import { writeSafetensors } from '../../core/safetensors.js';
import { fromStorage, fromValues } from '../../core/tensor.js';
import { TINY_CONFIG } from '../../models/open-sora-plan/configs/index.js';
import {
  randomOpenSoraWeights,
  writeOpenSoraCheckpoint,
} from '../../models/open-sora-plan/random-weights.js';
import { tinyConfig } from '../search/support.js';
import { capture } from './capture.js';

/** The tiny config (models/open-sora-plan/configs/tiny.json): 2 layers, 2 x 12, caption width 32. */
const WIDTH = 32;
let dir: string;
let weights: string;
let text: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-search-'));
  process.env.TESSERA_CACHE_DIR = join(dir, 'cache');
  weights = join(dir, 'tiny.safetensors');
  await writeOpenSoraCheckpoint(weights, randomOpenSoraWeights(TINY_CONFIG, 7), 'float32');
  // Two prompts (one negative for both): the calibration samples each prompt from each seed.
  text = join(dir, 'text.safetensors');
  await writeSafetensors(text, {
    prompt_embeds: fromStorage('float32', [2, 5, WIDTH], gaussianNoise(1, 0, 2 * 5 * WIDTH)),
    prompt_attention_mask: fromValues('uint8', [2, 5], [1, 1, 1, 0, 0, 1, 1, 1, 1, 1]),
    negative_prompt_embeds: fromStorage('float32', [1, 2, WIDTH], gaussianNoise(2, 0, 2 * WIDTH)),
    negative_prompt_attention_mask: fromValues('uint8', [1, 2], [1, 0]),
  });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** 17 frames at 64 x 32: 5 latent frames of 4 x 8 latents, a 5 x 2 x 4 token grid (40 tokens), blocks of 8. */
function cli(overrides: Partial<SearchCliOptions>): SearchCliOptions {
  return {
    config: 'tiny',
    weights,
    textEmbeddings: text,
    frames: '17',
    size: '64x32',
    threshold: '0.01,0.1,1',
    calibration: '2',
    calibrationSteps: 'spread',
    sampler: 'ddim',
    steps: '4',
    guidance: '4',
    seed: '3',
    mode: 'independent',
    backend: 'cpu',
    block: '8',
    out: join(dir, 'out'),
    cache: true,
    ...overrides,
  };
}

const search = (overrides: Partial<SearchCliOptions>) =>
  capture(() => runSearch(cli(overrides), { createNetwork: createModelNetwork }));

describe('tessera search', () => {
  it('writes a plan per threshold with its metadata, the heatmap and the report', async () => {
    const out = join(dir, 'independent');
    const r = await search({ out, json: true });
    expect(r.err).not.toMatch(/internal error/);
    expect(r.code).toBe(EXIT.ok);
    const report = JSON.parse(r.out);
    // 5 frames: the default candidates are full and 1:4 (stride 5 divides 5); sparsest first.
    expect(report.candidates.map((c: { label: string }) => c.label)).toEqual(['1:4', 'full']);
    // 2 seeds x 2 prompts, spread over 4 steps: seed 3 at step 0, seed 4 at step 2.
    expect(report.calibration.inputs).toEqual([
      { seed: 3, prompt: 0, step: 0, timestep: 750 },
      { seed: 4, prompt: 0, step: 2, timestep: 250 },
      { seed: 3, prompt: 1, step: 0, timestep: 750 },
      { seed: 4, prompt: 1, step: 2, timestep: 250 },
    ]);
    expect(report.stats.suffixForwards).toBe(2 * 4);
    expect(report.matrix).toHaveLength(2);
    const files = await readdir(out);
    expect(files.sort()).toEqual([
      'errors.png',
      'errors.svg',
      'r0.01.json',
      'r0.1.json',
      'r1.json',
      'search.json',
    ]);

    for (const p of report.plans) {
      const plan = await readLayerPlan(p.file);
      expect(plan.assignment).toEqual(p.assignment);
      expect(plan.search?.mode).toBe('independent');
      expect(plan.search?.threshold).toBe(p.threshold);
      const layers = plan.search?.layers as { chosen: string; errors: Record<string, number> }[];
      // Each layer took the sparsest candidate under the threshold, full if none.
      layers.forEach((l, i) => {
        const sparse = l.errors.tile_1_4!;
        expect(l.chosen).toBe(sparse <= p.threshold ? 'tile_1_4' : 'full');
        expect(plan.assignment[i]).toBe(l.chosen);
      });
      expect((plan.search!.checkpoint as { sha256: string }).sha256).toMatch(/^[0-9a-f]{64}$/);
    }
    // r = 1 tolerates everything a tiny random model does; r = 0.01 hardly anything.
    expect(report.plans.at(-1).layers.tile_1_4).toBe(2);
    const png = PNG.sync.read(await readFile(join(out, 'errors.png')));
    expect(png.width).toBeGreaterThan(300);
    const svg = await readFile(join(out, 'errors.svg'), 'utf8');
    expect(svg).toContain('Layer-wise mask search');
    expect(svg).toContain('r = 0.1');
    // Progress went to stderr, the report alone to stdout.
    expect(r.err).toMatch(/Calibration/);
    expect(r.err).toMatch(/ETA/);
  });

  it('prints the report for people, and writes one heatmap per threshold in cumulative mode', async () => {
    const out = join(dir, 'cumulative');
    const r = await search({ out, mode: 'cumulative', calibration: '1', threshold: '0.05,0.5' });
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toMatch(/cumulative mode/);
    expect(r.out).toMatch(/r = 0\.05/);
    expect(r.out).toMatch(/noise-prediction error/);
    expect(r.out).toMatch(/prefix caching ran \d+ blocks instead of \d+/);
    expect((await readdir(out)).sort()).toEqual([
      'errors-r0.05.png',
      'errors-r0.05.svg',
      'errors-r0.5.png',
      'errors-r0.5.svg',
      'r0.05.json',
      'r0.5.json',
      'search.json',
    ]);
    expect((await readLayerPlan(join(out, 'r0.5.json'))).search?.mode).toBe('cumulative');
  });

  it.each([
    ['a threshold that is not a number', { threshold: '0.1,abc' }, /--threshold: "abc" is not a number/],
    [
      'a candidate that does not compile for the layout',
      { candidates: 'full,attention_tile:a=9' },
      /"attention_tile:a=9" does not compile for the 5 x 2 x 4 token grid/,
    ],
    [
      'an unknown candidate',
      { candidates: 'no_such_pattern' },
      /no built-in pattern named "no_such_pattern"/,
    ],
    ['an unknown mode', { mode: 'greedy' }, /--mode: unknown value "greedy"/],
  ])('rejects %s with a clear message, exit 1, and writes nothing', async (_what, overrides, message) => {
    const out = join(dir, `bad-${Math.random().toString(36).slice(2)}`);
    const r = await search({ ...overrides, out });
    expect(r.code).toBe(EXIT.input);
    expect(r.err).toMatch(message);
    expect(r.err).not.toMatch(/internal error|at .*\.ts:\d+/);
    expect(existsSync(out)).toBe(false);
  });

  it('rejects a checkpoint that does not match the config, and writes nothing', async () => {
    const other = join(dir, 'other.safetensors');
    await writeOpenSoraCheckpoint(other, randomOpenSoraWeights(tinyConfig(3), 1), 'float32');
    const out = join(dir, 'bad-checkpoint');
    const r = await search({ weights: other, out });
    expect(r.code).toBe(EXIT.input);
    expect(r.err).toMatch(/other\.safetensors/);
    expect(r.err).toMatch(/does not fit|expected|unexpected/);
    expect(r.err).not.toMatch(/internal error/);
    expect(existsSync(out)).toBe(false);
  });

  it('reads several prompts from one embeddings file, with one negative for all or one each', async () => {
    const set = await readTextEmbeddingSet(text, WIDTH);
    expect(set).toHaveLength(2);
    expect(Array.from(set[1]!.cond.mask)).toEqual([1, 1, 1, 1, 1]);
    expect(set[0]!.uncond).toBe(set[1]!.uncond);
    const each = join(dir, 'each.safetensors');
    await writeSafetensors(each, {
      prompt_embeds: fromStorage('float32', [2, 1, WIDTH], gaussianNoise(3, 0, 2 * WIDTH)),
      prompt_attention_mask: fromValues('uint8', [2, 1], [1, 1]),
      negative_prompt_embeds: fromStorage('float32', [2, 1, WIDTH], gaussianNoise(4, 0, 2 * WIDTH)),
      negative_prompt_attention_mask: fromValues('uint8', [2, 1], [1, 0]),
    });
    const pairs = await readTextEmbeddingSet(each, WIDTH);
    expect(pairs.map((p) => Array.from(p.uncond!.mask))).toEqual([[1], [0]]);
    // `tessera generate` samples one prompt and says so.
    await expect(readTextEmbeddings(each, WIDTH)).rejects.toThrow(/holds 2 prompts/);
    const three = join(dir, 'three.safetensors');
    await writeSafetensors(three, {
      prompt_embeds: fromStorage('float32', [2, 1, WIDTH], gaussianNoise(3, 0, 2 * WIDTH)),
      prompt_attention_mask: fromValues('uint8', [2, 1], [1, 1]),
      negative_prompt_embeds: fromStorage('float32', [3, 1, WIDTH], gaussianNoise(4, 0, 3 * WIDTH)),
      negative_prompt_attention_mask: fromValues('uint8', [3, 1], [1, 0, 1]),
    });
    await expect(readTextEmbeddingSet(three, WIDTH)).rejects.toThrow(/holds 3 prompts for 2 prompts/);
  });

  it('rejects a plain file as the output folder before running anything', async () => {
    const file = join(dir, 'a-file');
    await writeFile(file, 'x');
    const r = await search({ out: file });
    expect(r.code).toBe(EXIT.input);
    expect(r.err).toMatch(/--out: .* is not a folder/);
  });
});
