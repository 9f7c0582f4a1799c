/**
 * Reading the `config.json` of a released Open-Sora-Plan checkpoint folder (diffusers' `save_config` of
 * OpenSoraT2V: every `__init__` argument by name, plus `_class_name` and `_diffusers_version`) into tessera's
 * {@link OpenSoraConfig}. Upstream source: opensora/models/diffusion/opensora/modeling_opensora.py and
 * modules.py at tag v1.2.0 of PKU-YuanGroup/Open-Sora-Plan.
 *
 * What the fields mean there, and what tessera does with them:
 * - sizes: num_layers, num_attention_heads, attention_head_dim, in_channels, out_channels (null = in_channels),
 *   caption_channels, patch_size (h = w), patch_size_t (only 1: PatchEmbed2D embeds each frame);
 *   cross_attention_dim must equal heads x head dim (the caption projection's width), as for every OpenSoraT2V.
 * - RoPE: `interpolation_scale_{t,h,w}`; a null scale takes upstream's default from the sample size
 *   (`_init_patched_inputs`: h = sample_size[0] / 30, w = sample_size[1] / 40, t = (sample_size_t - 1) // 16 + 1
 *   for an odd sample_size_t, else sample_size_t / 16). RoPE3D divides positions by them; its base is 10000.
 * - the block: norm_type "ada_norm_single", norm_elementwise_affine false, activation_fn "gelu-approximate",
 *   attention_bias true, use_rope true, downsampler null, attention_type "default", no only-cross or double
 *   self-attention: the network tessera implements; other values are refused with the field named.
 *   norm_eps applies to the blocks' LayerNorms; upstream's final norm is fixed at 1e-6 and tessera uses one
 *   epsilon, so norm_eps must be 1e-6 (as trained).
 * - ignored, with the reason: dropout (training only), attention_mode (which SDPA kernel), upcast_attention
 *   (tessera accumulates scores in float32 anyway), use_stable_fp32 (NPU precision switch), num_embeds_ada_norm
 *   and norm_num_groups (not used with ada_norm_single), use_linear_projection, use_additional_conditions
 *   (forced off in __init__), num_vector_embeds (must be null: continuous latents).
 */
import { hiddenSize, ModelConfigError, type OpenSoraConfig, parseModelConfig } from './config.js';

/** Fields read or checked, with the value tessera requires when it supports only one. */
const REQUIRED: Readonly<Record<string, unknown>> = {
  norm_type: 'ada_norm_single',
  norm_elementwise_affine: false,
  activation_fn: 'gelu-approximate',
  attention_bias: true,
  use_rope: true,
  downsampler: null,
  attention_type: 'default',
  only_cross_attention: false,
  double_self_attention: false,
  num_vector_embeds: null,
  patch_size_t: 1,
};

/** Fields that do not change what the network computes at inference (see the module comment). */
const IGNORED = new Set([
  'dropout',
  'attention_mode',
  'upcast_attention',
  'use_stable_fp32',
  'num_embeds_ada_norm',
  'norm_num_groups',
  'use_linear_projection',
  'use_additional_conditions',
]);

/** Fields mapped onto the config. */
const MAPPED = new Set([
  'num_layers',
  'num_attention_heads',
  'attention_head_dim',
  'in_channels',
  'out_channels',
  'caption_channels',
  'cross_attention_dim',
  'patch_size',
  'sample_size',
  'sample_size_t',
  'interpolation_scale_t',
  'interpolation_scale_h',
  'interpolation_scale_w',
  'norm_eps',
  'hidden_size',
]);

/** True when `json` looks like a diffusers `config.json` (snake_case OpenSoraT2V fields) rather than tessera's. */
export function isDiffusersConfig(json: unknown): boolean {
  return typeof json === 'object' && json !== null && ('_class_name' in json || 'num_layers' in json);
}

function pair(value: unknown): [number, number] | null {
  if (typeof value === 'number') return [value, value];
  if (Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === 'number'))
    return [value[0] as number, value[1] as number];
  return null;
}

/** Map a checkpoint's `config.json` onto an {@link OpenSoraConfig}; `file` names it in messages. */
export function openSoraConfigFromDiffusers(json: Record<string, unknown>, file: string): OpenSoraConfig {
  const fail = (field: string, detail: string): never => {
    throw new ModelConfigError(file, field, detail);
  };
  if (json._class_name !== undefined && json._class_name !== 'OpenSoraT2V')
    fail(
      '_class_name',
      `tessera runs OpenSoraT2V (Open-Sora-Plan v1.2), not ${JSON.stringify(json._class_name)}`,
    );
  for (const key of Object.keys(json)) {
    if (key.startsWith('_') || IGNORED.has(key) || MAPPED.has(key) || key in REQUIRED) continue;
    fail(key, 'not a field of OpenSoraT2V v1.2 that tessera knows; it cannot say how to honour it');
  }
  for (const [key, want] of Object.entries(REQUIRED)) {
    if (key in json && json[key] !== want)
      fail(key, `tessera implements ${JSON.stringify(want)} only, found ${JSON.stringify(json[key])}`);
  }
  const int = (key: string): number => {
    const v = json[key];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1)
      fail(key, `expected a positive integer, found ${JSON.stringify(v)}`);
    return v as number;
  };
  const layers = int('num_layers');
  const heads = int('num_attention_heads');
  const headDim = int('attention_head_dim');
  const inChannels = int('in_channels');
  const outChannels =
    json.out_channels === null || json.out_channels === undefined ? inChannels : int('out_channels');
  const captionChannels = int('caption_channels');
  const patch = int('patch_size');
  const sampleT = int('sample_size_t');
  const sample = pair(json.sample_size);
  if (!sample?.every((v) => Number.isSafeInteger(v) && v > 0))
    fail(
      'sample_size',
      `expected a positive integer or [height, width], found ${JSON.stringify(json.sample_size)}`,
    );
  const [sampleH, sampleW] = sample as [number, number];
  const scale = (key: string, fallback: number): number => {
    const v = json[key];
    if (v === null || v === undefined) return fallback;
    if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v))
      fail(key, `expected a positive number or null, found ${JSON.stringify(v)}`);
    return v as number;
  };
  // Upstream's defaults for a null scale (OpenSoraT2V._init_patched_inputs).
  const defaultT = sampleT % 2 === 1 ? Math.floor((sampleT - 1) / 16) + 1 : sampleT / 16;
  const ropeInterpolation: [number, number, number] = [
    scale('interpolation_scale_t', defaultT),
    scale('interpolation_scale_h', sampleH / 30),
    scale('interpolation_scale_w', sampleW / 40),
  ];
  const normEps = json.norm_eps === undefined ? 1e-5 : json.norm_eps;
  if (normEps !== 1e-6)
    fail(
      'norm_eps',
      `upstream's final LayerNorm uses 1e-6 whatever this says and tessera uses one epsilon, so it must be 1e-6, found ${JSON.stringify(normEps)}`,
    );
  const config = parseModelConfig(
    {
      name: typeof json._name_or_path === 'string' && json._name_or_path !== '' ? json._name_or_path : file,
      layers,
      heads,
      headDim,
      // diffusers FeedForward: inner dim = mult (4) x dim, as BasicTransformerBlock builds it.
      ffnDim: 4 * heads * headDim,
      inChannels,
      outChannels,
      patch: [1, patch, patch],
      captionChannels,
      // diffusers PixArtAlphaCombinedTimestepSizeEmbeddings: Timesteps(num_channels=256).
      timestepChannels: 256,
      normEps: 1e-6,
      // RoPE3D(freq=10000.0) in opensora/models/diffusion/opensora/rope.py.
      ropeBase: 10000,
      ropeInterpolation,
      sampleSize: [sampleT, sampleH, sampleW],
    },
    file,
  );
  const cross = json.cross_attention_dim;
  if (cross !== undefined && cross !== null && cross !== hiddenSize(config))
    fail(
      'cross_attention_dim',
      `must equal heads x head dim = ${hiddenSize(config)} (the caption projection's width), found ${JSON.stringify(cross)}`,
    );
  if (json.hidden_size !== undefined && json.hidden_size !== hiddenSize(config))
    fail(
      'hidden_size',
      `must equal heads x head dim = ${hiddenSize(config)}, found ${JSON.stringify(json.hidden_size)}`,
    );
  return config;
}

/**
 * The `config.json` upstream's `save_config` would write for `config` (every field {@link openSoraConfigFromDiffusers}
 * reads, with the values of the released checkpoints elsewhere): what `tessera make-checkpoint` puts beside its
 * random weights, so a made checkpoint folder reads like a downloaded one.
 */
export function diffusersConfigOf(config: OpenSoraConfig): Record<string, unknown> {
  const [sampleT, sampleH, sampleW] = config.sampleSize ?? [1, 8 * config.patch[1], 8 * config.patch[2]];
  const [t, h, w] = config.ropeInterpolation;
  if (
    config.ffnDim !== 4 * hiddenSize(config) ||
    config.timestepChannels !== 256 ||
    config.ropeBase !== 10000
  )
    throw new ModelConfigError(
      config.name,
      'ffnDim, timestepChannels, ropeBase',
      'OpenSoraT2V fixes these (4 x hidden, 256, 10000); this config cannot be written as a config.json',
    );
  return {
    _class_name: 'OpenSoraT2V',
    _diffusers_version: '0.28.0',
    _name_or_path: config.name,
    activation_fn: 'gelu-approximate',
    attention_bias: true,
    attention_head_dim: config.headDim,
    attention_mode: 'xformers',
    attention_type: 'default',
    caption_channels: config.captionChannels,
    cross_attention_dim: hiddenSize(config),
    double_self_attention: false,
    downsampler: null,
    dropout: 0.0,
    in_channels: config.inChannels,
    interpolation_scale_h: h,
    interpolation_scale_t: t,
    interpolation_scale_w: w,
    norm_elementwise_affine: false,
    norm_eps: config.normEps,
    norm_num_groups: 32,
    norm_type: 'ada_norm_single',
    num_attention_heads: config.heads,
    num_embeds_ada_norm: 1000,
    num_layers: config.layers,
    num_vector_embeds: null,
    only_cross_attention: false,
    out_channels: config.outChannels,
    patch_size: config.patch[1],
    patch_size_t: config.patch[0],
    sample_size: [sampleH, sampleW],
    sample_size_t: sampleT,
    upcast_attention: false,
    use_additional_conditions: null,
    use_linear_projection: false,
    use_rope: true,
    use_stable_fp32: false,
  };
}
