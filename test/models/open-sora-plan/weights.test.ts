/**
 * Weight names, configs and the checkpoint loader: round trips in every float dtype, every kind of bad
 * checkpoint rejected with one error naming each offending tensor, and streamed random checkpoints.
 */
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SafetensorsError, writeSafetensors } from '../../../core/safetensors.js';
import { fromValues, type Tensor } from '../../../core/tensor.js';
import { ModelConfigError, parseModelConfig } from '../../../models/open-sora-plan/config.js';
import { OPEN_SORA_PLAN_1_2_720P, TINY_CONFIG } from '../../../models/open-sora-plan/configs/index.js';
import {
  randomOpenSoraWeights,
  weightInits,
  writeOpenSoraCheckpoint,
  writeRandomOpenSoraCheckpoint,
} from '../../../models/open-sora-plan/random-weights.js';
import { openSoraWeightSpecs } from '../../../models/open-sora-plan/weight-names.js';
import { loadOpenSoraWeights, WeightsError } from '../../../models/open-sora-plan/weights.js';
import { TEST_CONFIG } from './support.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-weights-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('weight names', () => {
  it('the real config has about 2.7B parameters (SPEC: a 2.7B-parameter model)', () => {
    const params = openSoraWeightSpecs(OPEN_SORA_PLAN_1_2_720P).reduce(
      (a, s) => a + s.shape.reduce((x, y) => x * y, 1),
      0,
    );
    expect(params).toBeGreaterThan(2.6e9);
    expect(params).toBeLessThan(2.8e9);
  });

  it('holds the diffusers names with the Open-Sora-Plan 1.2 shapes', () => {
    const specs = new Map(openSoraWeightSpecs(OPEN_SORA_PLAN_1_2_720P).map((s) => [s.name, s.shape]));
    expect(specs.get('pos_embed.proj.weight')).toEqual([2304, 4, 2, 2]);
    expect(specs.get('adaln_single.emb.timestep_embedder.linear_1.weight')).toEqual([2304, 256]);
    expect(specs.get('adaln_single.linear.weight')).toEqual([6 * 2304, 2304]);
    expect(specs.get('caption_projection.linear_1.weight')).toEqual([2304, 4096]);
    expect(specs.get('transformer_blocks.31.attn1.to_q.bias')).toEqual([2304]);
    expect(specs.get('transformer_blocks.0.attn2.to_k.weight')).toEqual([2304, 2304]);
    expect(specs.get('transformer_blocks.7.ff.net.0.proj.weight')).toEqual([9216, 2304]);
    expect(specs.get('transformer_blocks.7.ff.net.2.weight')).toEqual([2304, 9216]);
    expect(specs.get('transformer_blocks.3.scale_shift_table')).toEqual([6, 2304]);
    expect(specs.get('scale_shift_table')).toEqual([2, 2304]);
    expect(specs.get('proj_out.weight')).toEqual([16, 2304]);
    expect(specs.has('transformer_blocks.32.attn1.to_q.weight')).toBe(false);
    // 7 top-level linears (x2) + conv (x2) + table + 32 blocks x (10 linears x 2 + table).
    expect(specs.size).toBe(2 + 5 * 2 + 32 * 21 + 1 + 2);
  });
});

describe('configs', () => {
  it('ships the real config and a tiny one', () => {
    expect(OPEN_SORA_PLAN_1_2_720P).toMatchObject({
      layers: 32,
      heads: 24,
      headDim: 96,
      ffnDim: 9216,
      inChannels: 4,
      outChannels: 4,
    });
    expect(TINY_CONFIG.layers).toBe(2);
  });

  it('rejects bad fields with the field named', () => {
    const good = { ...TEST_CONFIG } as Record<string, unknown>;
    const bad = (patch: Record<string, unknown>) => () => parseModelConfig({ ...good, ...patch }, 'c.json');
    expect(bad({ headDim: 16 })).toThrow(/c\.json: headDim: .*multiple of 6/);
    expect(bad({ layers: 0 })).toThrow(ModelConfigError);
    expect(bad({ patch: [2, 2, 2] })).toThrow(/patch: only a temporal patch of 1/);
    expect(bad({ outChannels: 2 })).toThrow(/outChannels/);
    expect(bad({ extra: 1 })).toThrow(/extra: unknown field/);
  });
});

describe('loading checkpoints', () => {
  const weights = randomOpenSoraWeights(TEST_CONFIG, 7);

  it('reads float32 exactly', async () => {
    const path = join(dir, 'f32.safetensors');
    await writeOpenSoraCheckpoint(path, weights, 'float32');
    const loaded = await loadOpenSoraWeights(path, TEST_CONFIG);
    for (const name of weights.names) expect(loaded.get(name).data).toEqual(weights.get(name).data);
  });

  it.each(['bfloat16', 'float16'] as const)(
    'reads %s to float32 within the format rounding',
    async (dtype) => {
      const path = join(dir, `${dtype}.safetensors`);
      await writeOpenSoraCheckpoint(path, weights, dtype);
      const loaded = await loadOpenSoraWeights(path, TEST_CONFIG);
      // Relative spacing: 2^-8 (bf16, 8 significant bits) or 2^-11 (f16); values here are far from f16 subnormals.
      const tolerance = dtype === 'bfloat16' ? 2 ** -8 : 2 ** -11;
      for (const name of weights.names) {
        const a = loaded.get(name).data;
        const b = weights.get(name).data;
        for (let i = 0; i < b.length; i++)
          expect(Math.abs(a[i]! - b[i]!)).toBeLessThanOrEqual(tolerance * Math.abs(b[i]!) + 1e-7);
        if (dtype === 'bfloat16') {
          const bits = new Uint32Array(a.buffer, a.byteOffset, a.length);
          expect(bits.every((x) => (x & 0xffff) === 0)).toBe(true);
        }
      }
    },
  );

  async function writeModified(name: string, edit: (tensors: Map<string, Tensor>) => void): Promise<string> {
    const tensors = new Map<string, Tensor>(
      weights.names.map((n) => [n, fromValues('float32', weights.get(n).shape, weights.get(n).data, n)]),
    );
    edit(tensors);
    const path = join(dir, name);
    await writeSafetensors(path, tensors);
    return path;
  }

  it('reports missing, unexpected, wrong-shape and wrong-dtype tensors together, each by name', async () => {
    const path = await writeModified('bad.safetensors', (t) => {
      t.delete('transformer_blocks.1.attn2.to_v.bias');
      t.set('transformer_blocks.2.attn1.to_q.weight', fromValues('float32', [24, 24], new Float32Array(576)));
      t.set('proj_out.weight', fromValues('float32', [32, 24], new Float32Array(768)));
      t.set('adaln_single.linear.bias', fromValues('int32', [144], new Int32Array(144)));
    });
    const error = await loadOpenSoraWeights(path, TEST_CONFIG).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WeightsError);
    expect(error).toBeInstanceOf(SafetensorsError);
    const problems = (error as WeightsError).problems.map((p) => `${p.kind} ${p.tensor}`).sort();
    expect(problems).toEqual([
      'dtype adaln_single.linear.bias',
      'missing transformer_blocks.1.attn2.to_v.bias',
      'shape proj_out.weight',
      'unexpected transformer_blocks.2.attn1.to_q.weight',
    ]);
    const message = (error as Error).message;
    expect(message).toContain('4 problems');
    expect(message).toContain('proj_out.weight: expected shape [16, 24], found [32, 24]');
    expect(message).toContain('adaln_single.linear.bias: dtype I32 is not a float type');
    expect(message).toContain('transformer_blocks.1.attn2.to_v.bias: missing (expected shape [24])');
  });

  it('rejects a checkpoint for another config (all blocks of the second layer missing)', async () => {
    const oneLayer = parseModelConfig({ ...TEST_CONFIG, layers: 1 });
    const path = join(dir, 'one-layer.safetensors');
    await writeOpenSoraCheckpoint(path, randomOpenSoraWeights(oneLayer, 1));
    const error = (await loadOpenSoraWeights(path, TEST_CONFIG).catch((e: unknown) => e)) as WeightsError;
    expect(error.problems).toHaveLength(21);
    expect(
      error.problems.every((p) => p.kind === 'missing' && p.tensor.startsWith('transformer_blocks.1.')),
    ).toBe(true);
  });

  it('rejects a truncated file without reading past its end', async () => {
    const path = join(dir, 'truncated.safetensors');
    await writeOpenSoraCheckpoint(path, weights);
    await truncate(path, 4000);
    await expect(loadOpenSoraWeights(path, TEST_CONFIG)).rejects.toThrow(SafetensorsError);
  });

  it('rejects a file that is not safetensors at all', async () => {
    const path = join(dir, 'garbage.safetensors');
    await writeFile(path, Buffer.from('\xff\xff\xff\xff\xff\xff\xff\x7fnot a header', 'latin1'));
    await expect(loadOpenSoraWeights(path, TEST_CONFIG)).rejects.toThrow(SafetensorsError);
  });
});

describe('streamed random checkpoints', () => {
  // An odd FFN width gives odd-sized biases, the generator's tail case.
  const config = parseModelConfig({ ...TEST_CONFIG, ffnDim: 47 });

  it('writes bf16 weights the loader accepts, within the scale of each layer, whatever the chunk size', async () => {
    const specs = openSoraWeightSpecs(config);
    const path = join(dir, 'random-a.safetensors');
    const bytes = await writeRandomOpenSoraCheckpoint(path, config, 7);
    expect(bytes).toBe(2 * specs.reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1), 0));
    const loaded = await loadOpenSoraWeights(path, config);
    const inits = weightInits(specs);
    for (const spec of specs) {
      const data = loaded.get(spec.name).data;
      const init = inits.get(spec.name)!;
      const bound = init.kind === 'uniform' ? init.bound : Math.sqrt(3) * init.std;
      // Within the bound up to bf16 rounding (half a unit in the last of 8 significant bits).
      expect(Math.max(...data.map(Math.abs)), spec.name).toBeLessThanOrEqual(bound * (1 + 2 ** -8));
      if (data.length >= 500) {
        const mean = data.reduce((a, v) => a + v, 0) / data.length;
        const std = Math.sqrt(data.reduce((a, v) => a + v * v, 0) / data.length);
        // Uniform: std = bound / sqrt(3); 8% is about 4 standard errors at 500 samples.
        expect(Math.abs(std / (bound / Math.sqrt(3)) - 1), spec.name).toBeLessThan(0.08);
        expect(Math.abs(mean), spec.name).toBeLessThan(0.15 * bound);
      }
    }
    // Every tensor draws from a stream of its own.
    expect(loaded.get('transformer_blocks.0.attn1.to_q.weight').data).not.toEqual(
      loaded.get('transformer_blocks.0.attn1.to_k.weight').data,
    );
    const other = join(dir, 'random-b.safetensors');
    await writeRandomOpenSoraCheckpoint(other, config, 7, { chunkElements: 10 });
    expect(await readFile(other)).toEqual(await readFile(path));
    await writeRandomOpenSoraCheckpoint(other, config, 8);
    expect(await readFile(other)).not.toEqual(await readFile(path));
    await expect(writeRandomOpenSoraCheckpoint(other, config, 7, { chunkElements: 9 })).rejects.toThrow(
      /even integer/,
    );
  });
});
