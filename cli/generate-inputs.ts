/**
 * Inputs of `tessera generate`: option values checked once (with messages naming the option), the video size
 * turned into a latent shape, and the text-embeddings file read and validated.
 *
 * Text embeddings (safetensors) use the argument names of the Open-Sora-Plan / PixArt pipeline:
 *   prompt_embeds                   [L, D] or [1, L, D]   F32, F16, BF16 or F64 (D = the config's caption width)
 *   prompt_attention_mask           [L] or [1, L]         U8, BOOL, I32, I64 or a float type; values 0 or 1
 *   negative_prompt_embeds          [L', D] ...           optional: the unconditional branch of guidance
 *   negative_prompt_attention_mask  [L'] ...              required with negative_prompt_embeds
 * Open-Sora-Plan's unconditional branch is the encoded negative prompt (the pipeline's default negative prompt
 * is "", which mT5 encodes as one end-of-sequence token), so guidance (a scale other than 1) requires it: tessera
 * does not invent an unconditional branch.
 *
 * The model is a diffusers checkpoint folder (`config.json` beside `diffusion_pytorch_model.safetensors`), or a
 * safetensors file with `--config` (a built-in name or a JSON file) or a `config.json` beside it.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { OptionError } from '../core/errors.js';
import {
  blobToTensor,
  SafetensorsError,
  SafetensorsFile,
  type SafetensorsTensor,
} from '../core/safetensors.js';
import { decodeValues } from '../core/tensor.js';
import { ModelConfigError, type OpenSoraConfig } from '../models/open-sora-plan/config.js';
import { readModelConfig } from '../models/open-sora-plan/config-file.js';
import { BUILTIN_CONFIG_NAMES, configFile } from '../models/open-sora-plan/configs/index.js';
import type { LatentShape } from '../models/open-sora-plan/denoiser.js';
import type { TextCondition } from '../models/samplers/guidance.js';
import {
  SAMPLER_NAMES,
  type SamplerName,
  TIMESTEP_SPACINGS,
  type TimestepSpacing,
} from '../models/samplers/index.js';

/** Backends a model can be built on. */
export type GenerateBackend = 'cpu' | 'cuda';

/** The options of `tessera generate` as commander hands them over (strings until checked). */
export interface GenerateCliOptions {
  config?: string;
  weights: string;
  textEmbeddings: string;
  frames: string;
  /** Absent: the size the checkpoint was trained at (its config's sample size), else 720p. */
  size?: string;
  sampler: string;
  steps: string;
  guidance: string;
  spacing?: string;
  plan?: string;
  seed: string;
  out: string;
  backend?: string;
  execution?: string;
  json?: boolean;
  /** One process per GPU on this machine (tessera's launcher); implies --backend cuda. */
  gpus?: string;
  /** Processes on this machine with any backend (the cpu backend: the host communicator, a reference). */
  ranks?: string;
  /** Ulysses degree U. */
  spDegree?: string;
  /** Guidance's two rows on two rank groups. */
  cfgParallel?: boolean;
}

/** Checked options. */
export interface GenerateOptions {
  /** `--config`: needed only for a bare weights file without a `config.json` beside it. */
  readonly configName?: string;
  readonly weights: string;
  readonly textEmbeddings: string;
  readonly frames: number;
  /** `--size` in pixels; absent: the checkpoint's trained size ({@link videoSize}). */
  readonly size?: { readonly width: number; readonly height: number };
  readonly sampler: SamplerName;
  readonly steps: number;
  readonly guidance: number;
  readonly spacing?: TimestepSpacing;
  readonly plan?: string;
  readonly seed: number;
  readonly out: string;
  readonly backend: GenerateBackend;
  /** How the CUDA network runs its steps (runtime/cuda/step-graph.ts); absent: the backend's default. */
  readonly execution?: GenerateExecution;
  readonly json: boolean;
  /** Processes to launch on this machine (--gpus / --ranks); absent: this process is the run (or one rank). */
  readonly launch?: { readonly processes: number; readonly option: '--gpus' | '--ranks' };
  /** --sp-degree, when given. */
  readonly spDegree?: number;
  /** --cfg-parallel. */
  readonly cfgParallel: boolean;
}

/** `--execution` values: the CUDA network's step execution (eager pool, planned memory, CUDA graph). */
export const GENERATE_EXECUTIONS = ['eager', 'planned', 'graph'] as const;
export type GenerateExecution = (typeof GENERATE_EXECUTIONS)[number];

/** Named video sizes: Open-Sora-Plan 1.2's 720p (1280 x 720) and 480p (640 x 480). */
export const NAMED_SIZES: Readonly<Record<string, { width: number; height: number }>> = {
  '720p': { width: 1280, height: 720 },
  '480p': { width: 640, height: 480 },
};

/** The CausalVAE's compression (time x height x width): 4 x 8 x 8. */
export const VAE_STRIDE = { frames: 4, height: 8, width: 8 } as const;

/** An integer option from `min` to `max`; the message names the option. */
export function integer(option: string, text: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new OptionError(`${option}: expected an integer from ${min} to ${max}, found "${text}"`);
  }
  return value;
}

/** One of `choices`; the message lists them. */
export function choice<T extends string>(option: string, text: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(text)) {
    throw new OptionError(`${option}: unknown value "${text}"; choose from ${choices.join(', ')}`);
  }
  return text as T;
}

/** `720p`, `480p` or `WxH` in pixels. */
export function parseSize(text: string): { width: number; height: number } {
  const named = NAMED_SIZES[text];
  if (named) return named;
  const match = /^(\d+)x(\d+)$/.exec(text);
  if (!match) {
    throw new OptionError(
      `--size: expected ${Object.keys(NAMED_SIZES).join(', ')} or WxH (e.g. 1280x720), found "${text}"`,
    );
  }
  return {
    width: integer('--size', match[1] as string, 1),
    height: integer('--size', match[2] as string, 1),
  };
}

/** Check every option value; files are checked when read. */
export function parseGenerateOptions(cli: GenerateCliOptions): GenerateOptions {
  const guidance = Number(cli.guidance);
  if (cli.guidance.trim() === '' || !Number.isFinite(guidance) || guidance < 0) {
    throw new OptionError(
      `--guidance: expected a non-negative number (1 = no guidance), found "${cli.guidance}"`,
    );
  }
  if (cli.gpus !== undefined && cli.ranks !== undefined)
    throw new OptionError('--gpus and --ranks both start processes; give one of them');
  const gpus = cli.gpus === undefined ? undefined : integer('--gpus', cli.gpus, 1, 4096);
  const ranks = cli.ranks === undefined ? undefined : integer('--ranks', cli.ranks, 1, 4096);
  const backend = choice('--backend', cli.backend ?? (gpus !== undefined ? 'cuda' : 'cpu'), [
    'cpu',
    'cuda',
  ] as const);
  if (gpus !== undefined && backend !== 'cuda')
    throw new OptionError(
      `--gpus starts one process per GPU (--backend cuda); to run ${gpus} CPU ranks (the host communicator, a reference for tests) use --ranks ${gpus} --backend cpu`,
    );
  const processes = gpus ?? ranks;
  const options: GenerateOptions = {
    ...(cli.config === undefined ? {} : { configName: cli.config }),
    weights: cli.weights,
    textEmbeddings: cli.textEmbeddings,
    frames: integer('--frames', cli.frames, 1),
    ...(cli.size === undefined ? {} : { size: parseSize(cli.size) }),
    sampler: choice('--sampler', cli.sampler, SAMPLER_NAMES),
    steps: integer('--steps', cli.steps, 1, 1000),
    guidance,
    seed: integer('--seed', cli.seed, 0),
    out: cli.out,
    backend,
    json: cli.json === true,
    cfgParallel: cli.cfgParallel === true,
    ...(processes === undefined
      ? {}
      : { launch: { processes, option: gpus !== undefined ? ('--gpus' as const) : ('--ranks' as const) } }),
    ...(cli.spDegree === undefined ? {} : { spDegree: integer('--sp-degree', cli.spDegree, 1, 4096) }),
    ...(cli.spacing === undefined ? {} : { spacing: choice('--spacing', cli.spacing, TIMESTEP_SPACINGS) }),
    ...(cli.plan === undefined ? {} : { plan: cli.plan }),
    ...(cli.execution === undefined
      ? {}
      : { execution: choice('--execution', cli.execution, GENERATE_EXECUTIONS) }),
  };
  if (options.execution !== undefined && options.backend !== 'cuda') {
    throw new OptionError(
      `--execution: planned memory and CUDA graphs belong to --backend cuda; the ${options.backend} backend runs each step as it comes`,
    );
  }
  if ((options.frames - 1) % VAE_STRIDE.frames !== 0) {
    throw new OptionError(
      `--frames: the VAE compresses time 4x after the first frame, so frames must be 4k + 1 (e.g. 29, 93), found ${options.frames}`,
    );
  }
  return options;
}

/** A config name (a file in models/open-sora-plan/configs, without `.json`) or a path to a config JSON file. */
export async function resolveConfig(nameOrPath: string): Promise<OpenSoraConfig> {
  const path = existsSync(nameOrPath) ? nameOrPath : configFile(`${nameOrPath}.json`);
  if (!existsSync(path)) {
    throw new OptionError(
      `--config: "${nameOrPath}" is neither a file nor a built-in config (${BUILTIN_CONFIG_NAMES.join(', ')})`,
    );
  }
  return readConfig(path, '--config');
}

async function readConfig(path: string, option: string): Promise<OpenSoraConfig> {
  try {
    return await readModelConfig(path);
  } catch (e) {
    if (e instanceof ModelConfigError) throw new OptionError(`${option}: ${e.message}`);
    throw e;
  }
}

/** The file name of a diffusers checkpoint's weights inside its folder. */
export const CHECKPOINT_WEIGHTS = 'diffusion_pytorch_model.safetensors';

/** A model to build: its config and the safetensors file holding its weights. */
export interface Checkpoint {
  readonly config: OpenSoraConfig;
  readonly weightsFile: string;
}

/**
 * `--weights` and `--config` to a config and a weights file: a checkpoint folder brings its `config.json`
 * (then `--config` is refused, since two configs could disagree); a bare file takes `--config`, or the
 * `config.json` beside it.
 */
export async function resolveCheckpoint(weights: string, configName?: string): Promise<Checkpoint> {
  if (!existsSync(weights))
    throw new OptionError(
      `--weights: ${weights} does not exist (a checkpoint folder or a .safetensors file)`,
    );
  if (statSync(weights).isDirectory()) {
    const configPath = join(weights, 'config.json');
    const weightsFile = join(weights, CHECKPOINT_WEIGHTS);
    if (configName !== undefined)
      throw new OptionError(
        `--config: ${weights} is a checkpoint folder whose config.json describes the model; leave --config out (it is for bare weight files)`,
      );
    if (!existsSync(configPath))
      throw new OptionError(
        `--weights: the folder ${weights} has no config.json (a diffusers checkpoint folder has both)`,
      );
    if (!existsSync(weightsFile)) {
      const sharded = existsSync(`${weightsFile}.index.json`);
      throw new OptionError(
        `--weights: the folder ${weights} has no ${CHECKPOINT_WEIGHTS}${sharded ? ' (it is sharded: tessera reads one file; merge the shards)' : ''}`,
      );
    }
    return { config: await readConfig(configPath, '--weights'), weightsFile };
  }
  if (configName !== undefined) return { config: await resolveConfig(configName), weightsFile: weights };
  const beside = join(dirname(weights), 'config.json');
  if (existsSync(beside)) return { config: await readConfig(beside, '--weights'), weightsFile: weights };
  throw new OptionError(
    `--config: needed for a bare weights file (no config.json beside ${weights}); give a built-in (${BUILTIN_CONFIG_NAMES.join(', ')}) or a JSON file`,
  );
}

/**
 * The video size in pixels: `--size`, else the size the checkpoint was trained at (its config's sample size
 * times the VAE stride: 1280 x 720 for the 720p releases, 640 x 480 for the 480p ones), else 720p for a config
 * that does not say.
 */
export function videoSize(
  config: OpenSoraConfig,
  options: Pick<GenerateOptions, 'size'>,
): { width: number; height: number } {
  if (options.size !== undefined) return options.size;
  if (config.sampleSize !== undefined) {
    const [, height, width] = config.sampleSize;
    return { width: width * VAE_STRIDE.width, height: height * VAE_STRIDE.height };
  }
  return NAMED_SIZES['720p'] as { width: number; height: number };
}

/** The latent shape of a video: frames (F - 1) / 4 + 1, height / 8, width / 8, checked against the patch. */
export function latentShape(config: OpenSoraConfig, options: GenerateOptions): LatentShape {
  const [, patchH, patchW] = config.patch;
  const { width, height } = videoSize(config, options);
  for (const [what, pixels, patch] of [
    ['height', height, patchH],
    ['width', width, patchW],
  ] as const) {
    const unit = VAE_STRIDE.height * patch;
    if (pixels % unit !== 0) {
      throw new OptionError(
        `--size: ${what} ${pixels} must be a multiple of ${unit} (VAE stride ${VAE_STRIDE.height} x patch ${patch})`,
      );
    }
  }
  return {
    channels: config.inChannels,
    frames: (options.frames - 1) / VAE_STRIDE.frames + 1,
    height: height / VAE_STRIDE.height,
    width: width / VAE_STRIDE.width,
  };
}

/** Prompt and (optional) negative prompt, read from a text-embeddings file. */
export interface TextEmbeddings {
  readonly cond: TextCondition;
  readonly uncond?: TextCondition;
}

/** Rows (prompts) and the shape of one row: [L, D] / [L] is one row, [P, L, D] / [P, L] is P rows. */
function rowsOf(
  file: string,
  t: SafetensorsTensor,
  rank: number,
): { rows: number; shape: readonly number[] } {
  if (t.shape.length === rank + 1) return { rows: t.shape[0]!, shape: t.shape.slice(1) };
  if (t.shape.length === rank) return { rows: 1, shape: t.shape };
  throw new SafetensorsError(
    file,
    t.name,
    `expected ${rank === 2 ? '[L, D] or [P, L, D]' : '[L] or [P, L]'}, got [${t.shape.join(', ')}]`,
  );
}

function maskValues(file: string, t: SafetensorsTensor): Float64Array {
  if (t.dtype === 'BOOL') return Float64Array.from(t.bytes);
  if (t.dtype === 'I64') {
    // Tokenizers emit int64 masks; only 0 and 1 are valid, so the high words must be zero.
    const words = new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength);
    return Float64Array.from({ length: t.bytes.byteLength / 8 }, (_, i) =>
      words.getUint32(8 * i + 4, true) === 0 ? words.getUint32(8 * i, true) : Number.NaN,
    );
  }
  return decodeValues(blobToTensor(file, t.name, t));
}

/** Every row (prompt) of an embeddings tensor and its mask. */
async function readConditions(
  file: SafetensorsFile,
  embedName: string,
  maskName: string,
  width: number,
): Promise<TextCondition[]> {
  const embed = await file.read(embedName);
  if (!['F32', 'F16', 'BF16', 'F64'].includes(embed.dtype)) {
    throw new SafetensorsError(
      file.path,
      embedName,
      `expected a float dtype (F32, F16, BF16, F64), got ${embed.dtype}`,
    );
  }
  const { rows, shape } = rowsOf(file.path, embed, 2);
  const [length, channels] = shape as [number, number];
  if (channels !== width) {
    throw new SafetensorsError(
      file.path,
      embedName,
      `embeddings are ${channels} wide, the model's caption projection takes ${width}`,
    );
  }
  if (length === 0 || rows === 0) throw new SafetensorsError(file.path, embedName, 'holds no tokens');
  const embeddings = Float32Array.from(decodeValues(blobToTensor(file.path, embedName, embed)));
  if (!embeddings.every(Number.isFinite))
    throw new SafetensorsError(file.path, embedName, 'holds NaN or infinite values');
  const maskTensor = await file.read(maskName).catch((e: unknown) => {
    if (e instanceof SafetensorsError && e.tensor === maskName) {
      throw new SafetensorsError(
        file.path,
        maskName,
        `missing: ${embedName} needs its attention mask (1 = token, 0 = padding)`,
      );
    }
    throw e;
  });
  const mask = rowsOf(file.path, maskTensor, 1);
  if (mask.shape[0] !== length || mask.rows !== rows) {
    throw new SafetensorsError(
      file.path,
      maskName,
      `has ${mask.rows} x ${mask.shape[0]} entries for ${rows} x ${length} tokens of ${embedName}`,
    );
  }
  const values = maskValues(file.path, maskTensor);
  if (!values.every((v) => v === 0 || v === 1))
    throw new SafetensorsError(file.path, maskName, 'values must be 0 or 1');
  return Array.from({ length: rows }, (_, r) => ({
    embeddings: embeddings.slice(r * length * width, (r + 1) * length * width),
    mask: Uint8Array.from(values.subarray(r * length, (r + 1) * length)),
  }));
}

/**
 * Every prompt of a text-embeddings file: `prompt_embeds` [P, L, D] (or [L, D] for one) with its mask, and the
 * negative prompt when present, either one for all ([L', D] or [1, L', D]) or one per prompt ([P, L', D]).
 */
export async function readTextEmbeddingSet(path: string, width: number): Promise<TextEmbeddings[]> {
  const file = await SafetensorsFile.open(path);
  try {
    const conds = await readConditions(file, 'prompt_embeds', 'prompt_attention_mask', width);
    const hasNegative = file.entries.some((e) => e.name === 'negative_prompt_embeds');
    if (!hasNegative) return conds.map((cond) => ({ cond }));
    const negative = 'negative_prompt_embeds';
    const unconds = await readConditions(file, negative, 'negative_prompt_attention_mask', width);
    if (unconds.length !== 1 && unconds.length !== conds.length)
      throw new SafetensorsError(
        path,
        negative,
        `holds ${unconds.length} prompts for ${conds.length} prompts of prompt_embeds (give 1 or ${conds.length})`,
      );
    return conds.map((cond, p) => ({ cond, uncond: unconds[unconds.length === 1 ? 0 : p]! }));
  } finally {
    await file.close();
  }
}

/** Read the prompt (and negative prompt, when present) from a text-embeddings safetensors file. */
export async function readTextEmbeddings(path: string, width: number): Promise<TextEmbeddings> {
  const set = await readTextEmbeddingSet(path, width);
  if (set.length !== 1)
    throw new SafetensorsError(
      path,
      'prompt_embeds',
      `holds ${set.length} prompts; generate samples one (give [L, D] or [1, L, D])`,
    );
  return set[0]!;
}

/** Guidance without negative-prompt embeddings: refused, since upstream always encodes a negative prompt. */
export function missingNegativePrompt(guidance: number): OptionError {
  return new OptionError(
    `--guidance ${guidance}: guidance needs the unconditional branch, the encoded negative prompt: add ` +
      'negative_prompt_embeds and negative_prompt_attention_mask to the text embeddings (Open-Sora-Plan encodes "" ' +
      'by default, one end-of-sequence token), or pass --guidance 1',
  );
}
