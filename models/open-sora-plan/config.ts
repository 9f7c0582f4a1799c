/**
 * The sizes of an OpenSoraT2V network (SPEC §2), validated once when built. The real model is
 * OpenSoraT2V-ROPE-L/122 (models/open-sora-plan/configs/open-sora-plan-1.2-720p.json and -480p.json); tests use
 * scaled-down configs with the same structure. tessera's config files are JSON with the fields of
 * {@link OpenSoraConfig} (and an optional `sources` object saying where each value comes from); a checkpoint's
 * diffusers `config.json` is read by `diffusers-config.ts` (`config-file.ts` picks the reader).
 */

import { UserError } from '../../core/errors.js';

/** An OpenSoraT2V network's sizes. */
export interface OpenSoraConfig {
  /** A label for messages and reports. */
  readonly name: string;
  /** Transformer blocks. */
  readonly layers: number;
  /** Attention heads per layer. */
  readonly heads: number;
  /** Channels per head; the 3D RoPE splits it in three even parts (t, h, w), so it must be a multiple of 6. */
  readonly headDim: number;
  /** Inner width of the feed-forward network (4 x hidden for Open-Sora-Plan). */
  readonly ffnDim: number;
  /** Latent channels read (4 for the CausalVAE D4 4x8x8). */
  readonly inChannels: number;
  /**
   * Channels `proj_out` produces per latent pixel. Open-Sora-Plan 1.2 trains with out_channels = in_channels (it
   * predicts epsilon only, no learned variance); a larger value means the first `inChannels` are epsilon.
   */
  readonly outChannels: number;
  /** Patch size [t, h, w]; only a temporal patch of 1 exists in Open-Sora-Plan 1.2 (a 2D conv per frame). */
  readonly patch: readonly [number, number, number];
  /** Width of one text-encoder embedding (mT5-XXL: 4096). */
  readonly captionChannels: number;
  /** Width of the sinusoidal timestep features fed to the timestep MLP (diffusers: 256). */
  readonly timestepChannels: number;
  /** LayerNorm epsilon (no affine parameters anywhere in the network). */
  readonly normEps: number;
  /** RoPE frequency base. */
  readonly ropeBase: number;
  /** RoPE position interpolation per axis [t, h, w]: positions are divided by these (1 = none). */
  readonly ropeInterpolation: readonly [number, number, number];
  /** The latent size [frames, height, width] the checkpoint was trained at (upstream's sample_size), if known. */
  readonly sampleSize?: readonly [number, number, number];
}

/** Derived sizes. */
export function hiddenSize(config: OpenSoraConfig): number {
  return config.heads * config.headDim;
}

/** A config that is malformed; the message names the file and the field. */
export class ModelConfigError extends UserError {
  constructor(
    readonly file: string,
    readonly field: string,
    detail: string,
  ) {
    super(`${file}: ${field}: ${detail}`);
  }
}

const POSITIVE_INTEGERS = [
  'layers',
  'heads',
  'headDim',
  'ffnDim',
  'inChannels',
  'outChannels',
  'captionChannels',
  'timestepChannels',
] as const;

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function positiveTriple(value: unknown, integer: boolean): value is [number, number, number] {
  return (
    Array.isArray(value) &&
    value.length === 3 &&
    value.every(
      (v) => typeof v === 'number' && v > 0 && Number.isFinite(v) && (!integer || Number.isInteger(v)),
    )
  );
}

/**
 * Validate a config (parsed JSON or an object literal). `file` names the source in messages. Checks the
 * constraints the graph relies on, so nothing deeper has to: RoPE needs headDim % 6 == 0, epsilon needs
 * outChannels >= inChannels, the timestep features come in sin/cos pairs.
 */
export function parseModelConfig(json: unknown, file = '<config>'): OpenSoraConfig {
  const fail = (field: string, detail: string): never => {
    throw new ModelConfigError(file, field, detail);
  };
  if (!isRecord(json)) return fail('$', 'expected a JSON object');
  const known = new Set<string>([
    'name',
    ...POSITIVE_INTEGERS,
    'patch',
    'normEps',
    'ropeBase',
    'ropeInterpolation',
    'sampleSize',
    'sources',
  ]);
  for (const key of Object.keys(json)) {
    if (!known.has(key)) fail(key, `unknown field; known fields: ${[...known].join(', ')}`);
  }
  if (typeof json.name !== 'string' || json.name === '') fail('name', 'expected a non-empty string');
  for (const key of POSITIVE_INTEGERS) {
    const v = json[key];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1)
      fail(key, `expected a positive integer, found ${JSON.stringify(v)}`);
  }
  if (!positiveTriple(json.patch, true))
    fail('patch', 'expected [t, h, w] positive integers, e.g. [1, 2, 2]');
  if ((json.patch as number[])[0] !== 1)
    fail(
      'patch',
      'only a temporal patch of 1 is supported (Open-Sora-Plan 1.2 patches each frame with a 2D conv)',
    );
  if (typeof json.normEps !== 'number' || !(json.normEps > 0)) fail('normEps', 'expected a positive number');
  if (typeof json.ropeBase !== 'number' || !(json.ropeBase > 1))
    fail('ropeBase', 'expected a number above 1');
  if (!positiveTriple(json.ropeInterpolation, false))
    fail('ropeInterpolation', 'expected [t, h, w] positive numbers, e.g. [1, 1, 1]');
  if (json.sampleSize !== undefined && !positiveTriple(json.sampleSize, true))
    fail('sampleSize', 'expected [frames, height, width] positive integers (the latent size trained at)');
  if (json.sources !== undefined) {
    if (!isRecord(json.sources)) fail('sources', 'expected an object of field: where its value comes from');
    for (const [field, text] of Object.entries(json.sources as Record<string, unknown>)) {
      if (!known.has(field) || field === 'sources') fail(`sources.${field}`, 'names no field of the config');
      if (typeof text !== 'string') fail(`sources.${field}`, 'expected a string');
    }
  }
  const config = json as unknown as OpenSoraConfig;
  if (config.headDim % 6 !== 0)
    fail(
      'headDim',
      `3D RoPE splits the head in three even parts, so it must be a multiple of 6, got ${config.headDim}`,
    );
  if (config.outChannels < config.inChannels)
    fail('outChannels', `must be at least inChannels (${config.inChannels}): the first channels are epsilon`);
  if (config.timestepChannels % 2 !== 0) fail('timestepChannels', 'must be even (cosine and sine halves)');
  return {
    name: config.name,
    layers: config.layers,
    heads: config.heads,
    headDim: config.headDim,
    ffnDim: config.ffnDim,
    inChannels: config.inChannels,
    outChannels: config.outChannels,
    patch: [config.patch[0], config.patch[1], config.patch[2]],
    captionChannels: config.captionChannels,
    timestepChannels: config.timestepChannels,
    normEps: config.normEps,
    ropeBase: config.ropeBase,
    ropeInterpolation: [...config.ropeInterpolation] as [number, number, number],
    ...(config.sampleSize === undefined
      ? {}
      : { sampleSize: [...config.sampleSize] as [number, number, number] }),
  };
}
