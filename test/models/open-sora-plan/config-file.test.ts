/**
 * A released checkpoint's diffusers `config.json` mapped onto tessera's config (the RoPE interpolation scales
 * belong to the checkpoint), the fields tessera cannot honour refused by name, the built-in configs, and
 * non-finite weights refused as they load.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelConfigError } from '../../../models/open-sora-plan/config.js';
import { readModelConfig } from '../../../models/open-sora-plan/config-file.js';
import {
  OPEN_SORA_PLAN_1_2_480P,
  OPEN_SORA_PLAN_1_2_720P,
  TINY_CONFIG,
} from '../../../models/open-sora-plan/configs/index.js';
import {
  diffusersConfigOf,
  openSoraConfigFromDiffusers,
} from '../../../models/open-sora-plan/diffusers-config.js';
import {
  randomOpenSoraWeights,
  writeOpenSoraCheckpoint,
} from '../../../models/open-sora-plan/random-weights.js';
import { loadOpenSoraWeights, WeightsError } from '../../../models/open-sora-plan/weights.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/**
 * What upstream's save_config writes for the 93x720p model: OpenSoraT2V_ROPE_L_122's fixed arguments, the
 * arguments train_t2v_diffusers.py passes, and train_video3d_nx720p.sh's flags (Open-Sora-Plan v1.2.0).
 */
const UPSTREAM_720P = {
  _class_name: 'OpenSoraT2V',
  _diffusers_version: '0.28.0',
  activation_fn: 'gelu-approximate',
  attention_bias: true,
  attention_head_dim: 96,
  attention_mode: 'xformers',
  attention_type: 'default',
  caption_channels: 4096,
  cross_attention_dim: 2304,
  double_self_attention: false,
  downsampler: null,
  dropout: 0.0,
  in_channels: 4,
  interpolation_scale_h: 1.5,
  interpolation_scale_t: 1.0,
  interpolation_scale_w: 2.0,
  norm_elementwise_affine: false,
  norm_eps: 1e-6,
  norm_num_groups: 32,
  norm_type: 'ada_norm_single',
  num_attention_heads: 24,
  num_embeds_ada_norm: 1000,
  num_layers: 32,
  num_vector_embeds: null,
  only_cross_attention: false,
  out_channels: 4,
  patch_size: 2,
  patch_size_t: 1,
  sample_size: [90, 160],
  sample_size_t: 24,
  upcast_attention: false,
  use_additional_conditions: null,
  use_linear_projection: false,
  use_rope: true,
  use_stable_fp32: true,
};

/** The fields that decide what the network computes. */
function computed(c: typeof OPEN_SORA_PLAN_1_2_720P) {
  const { name: _name, ...rest } = c;
  return rest;
}

describe("a checkpoint's config.json", () => {
  it('maps onto the built-in config of its resolution, interpolation scales included', async () => {
    const path = join(dir, 'config.json');
    await writeFile(path, JSON.stringify(UPSTREAM_720P));
    const config = await readModelConfig(path);
    expect(config.ropeInterpolation).toEqual([1, 1.5, 2]);
    expect(config.sampleSize).toEqual([24, 90, 160]);
    expect(computed(config)).toEqual(computed(OPEN_SORA_PLAN_1_2_720P));
    const at480 = openSoraConfigFromDiffusers(
      {
        ...UPSTREAM_720P,
        interpolation_scale_h: 1,
        interpolation_scale_w: 1,
        sample_size: [60, 80],
      },
      'c.json',
    );
    expect(computed(at480)).toEqual(computed(OPEN_SORA_PLAN_1_2_480P));
  });

  it("takes upstream's defaults for null scales (sample_size / 30 and / 40, frames by 16)", () => {
    const c = openSoraConfigFromDiffusers(
      {
        ...UPSTREAM_720P,
        interpolation_scale_t: null,
        interpolation_scale_h: null,
        interpolation_scale_w: null,
        sample_size_t: 24,
      },
      'c.json',
    );
    expect(c.ropeInterpolation).toEqual([1.5, 3, 4]);
    const odd = openSoraConfigFromDiffusers(
      { ...UPSTREAM_720P, interpolation_scale_t: null, sample_size_t: 8 },
      'c',
    );
    expect(odd.ropeInterpolation[0]).toBe(0.5);
    const odd2 = openSoraConfigFromDiffusers(
      { ...UPSTREAM_720P, interpolation_scale_t: null, sample_size_t: 17 },
      'c',
    );
    expect(odd2.ropeInterpolation[0]).toBe(2);
  });

  it('refuses, by field, what tessera cannot honour', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ norm_type: 'ada_norm_zero' }, /norm_type: tessera implements "ada_norm_single" only/],
      [{ use_rope: false }, /use_rope/],
      [{ activation_fn: 'geglu' }, /activation_fn/],
      [{ downsampler: 'k333_s222' }, /downsampler/],
      [{ patch_size_t: 2 }, /patch_size_t/],
      [{ norm_elementwise_affine: true }, /norm_elementwise_affine/],
      [{ cross_attention_dim: 1152 }, /cross_attention_dim: must equal heads x head dim = 2304/],
      [{ norm_eps: 1e-5 }, /norm_eps: .*must be 1e-6/],
      [{ attention_head_dim: 100 }, /headDim: 3D RoPE/],
      [{ interpolation_scale_h: -1 }, /interpolation_scale_h: expected a positive number/],
      [{ _class_name: 'LatteT2V' }, /_class_name: tessera runs OpenSoraT2V/],
      [{ qk_norm: true }, /qk_norm: not a field of OpenSoraT2V v1.2/],
    ];
    for (const [patch, message] of cases) {
      const run = () => openSoraConfigFromDiffusers({ ...UPSTREAM_720P, ...patch }, 'ckpt/config.json');
      expect(run, JSON.stringify(patch)).toThrow(ModelConfigError);
      expect(run, JSON.stringify(patch)).toThrow(message);
    }
  });

  it('round-trips through the config.json make-checkpoint writes', () => {
    for (const config of [OPEN_SORA_PLAN_1_2_720P, OPEN_SORA_PLAN_1_2_480P, TINY_CONFIG]) {
      const back = openSoraConfigFromDiffusers(diffusersConfigOf(config), 'c.json');
      expect({ ...computed(back), sampleSize: undefined }).toEqual({
        ...computed(config),
        sampleSize: undefined,
      });
    }
  });
});

describe('the built-in configs', () => {
  it('hold one config per released resolution, each value with its source', async () => {
    expect(OPEN_SORA_PLAN_1_2_720P.ropeInterpolation).toEqual([1, 1.5, 2]);
    expect(OPEN_SORA_PLAN_1_2_480P.ropeInterpolation).toEqual([1, 1, 1]);
    const { configFile } = await import('../../../models/open-sora-plan/configs/index.js');
    const { readFile } = await import('node:fs/promises');
    for (const name of ['open-sora-plan-1.2-720p.json', 'open-sora-plan-1.2-480p.json']) {
      const json = JSON.parse(await readFile(configFile(name), 'utf8'));
      const fields = Object.keys(json).filter((k) => k !== 'name' && k !== 'sources');
      expect(Object.keys(json.sources).sort(), name).toEqual(fields.sort());
    }
  });
});

describe('non-finite weights', () => {
  it('are refused as they load, naming the tensor and the count', async () => {
    const weights = randomOpenSoraWeights(TINY_CONFIG, 3);
    const poisoned = weights.get('transformer_blocks.1.attn2.to_v.weight').data;
    poisoned[5] = Number.NaN;
    poisoned[9] = Number.POSITIVE_INFINITY;
    const path = join(dir, 'nan.safetensors');
    await writeOpenSoraCheckpoint(path, weights);
    const load = loadOpenSoraWeights(path, TINY_CONFIG);
    await expect(load).rejects.toThrow(WeightsError);
    await expect(loadOpenSoraWeights(path, TINY_CONFIG)).rejects.toThrow(
      /transformer_blocks\.1\.attn2\.to_v\.weight: 2 of 576 values are NaN or infinite/,
    );
  });
});
