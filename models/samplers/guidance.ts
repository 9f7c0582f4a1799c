/**
 * Classifier-free guidance (Ho & Salimans 2022) around a {@link Denoiser}: one network call per step with the
 * unconditional and conditional halves batched together (Open-Sora-Plan / PixArt order: [uncond, cond]), then
 *   eps = eps_uncond + scale * (eps_cond - eps_uncond).
 * Scale 1 is exactly the conditional prediction, so the unconditional half is skipped (batch 1).
 */
import { UserError } from '../../core/errors.js';
import type { Denoiser } from '../open-sora-plan/denoiser.js';

/** Text-encoder output for one prompt: embeddings [L, D] and padding mask [L] (1 = token, 0 = padding). */
export interface TextCondition {
  /** [L, D] float32, row-major. */
  readonly embeddings: Float32Array;
  /** Shape [L]: 1 for real tokens, 0 for padding. */
  readonly mask: Uint8Array;
}

/** What the network is conditioned on, and how strongly to guide. */
export interface Guidance {
  readonly cond: TextCondition;
  /** The unconditional (negative-prompt) branch; required when `scale !== 1`. */
  readonly uncond?: TextCondition;
  /** Guidance scale w; 1 disables guidance. */
  readonly scale: number;
}

/** Wall time of one noise prediction, and the part the network spent in attention when it reports it. */
export interface PredictionTiming {
  readonly ms: number;
  readonly attentionMs?: number;
}

/** Per-call timings a network may report (optional: samplers never require it). */
export interface TimedDenoiser {
  /** Milliseconds of the last `predictNoise` call spent in attention (self and cross), if measured. */
  lastAttentionMs(): number | undefined;
}

/**
 * The noise prediction a sampler sees: one latent [1, C, T, H, W] at one (possibly fractional) training
 * timestep in, guided epsilon of the same shape out.
 */
export interface NoisePredictor {
  /** Elements of one latent, C * T * H * W. */
  readonly size: number;
  predict(x: Float32Array, timestep: number): Promise<Float32Array>;
  /** Timing of the last `predict` call. */
  readonly lastTiming: PredictionTiming | undefined;
}

/** A bad guidance input (shapes, missing unconditional branch, bad scale). */
export class GuidanceError extends UserError {
  constructor(message: string) {
    super(message);
  }
}

function tokens(text: TextCondition, width: number, what: string): number {
  const length = text.mask.length;
  if (text.embeddings.length !== length * width) {
    throw new GuidanceError(
      `${what}: embeddings hold ${text.embeddings.length} values, expected mask length ${length} x ${width}`,
    );
  }
  return length;
}

/** Write `text` into row `row` of a [B, L, D] / [B, L] pair, zero-padding tokens past its own length. */
function place(
  text: TextCondition,
  row: number,
  length: number,
  width: number,
  embed: Float32Array,
  mask: Uint8Array,
) {
  embed.set(text.embeddings, row * length * width);
  mask.set(text.mask, row * length);
}

function hasAttentionTimer(d: Denoiser): d is Denoiser & TimedDenoiser {
  return typeof (d as Partial<TimedDenoiser>).lastAttentionMs === 'function';
}

/**
 * A guided noise predictor over `denoiser`. Text of different lengths is padded to the longer one with zero
 * embeddings and mask 0 (padding is invisible to cross-attention, so the result does not change).
 */
export function guidedPredictor(denoiser: Denoiser, guidance: Guidance): NoisePredictor {
  const { scale, cond, uncond } = guidance;
  if (!Number.isFinite(scale))
    throw new GuidanceError(`guidance scale must be a finite number, found ${scale}`);
  const width = denoiser.captionChannels;
  const condLength = tokens(cond, width, 'prompt');
  const guided = scale !== 1;
  if (guided && !uncond) throw new GuidanceError(`guidance scale ${scale} needs an unconditional branch`);
  const length =
    guided && uncond ? Math.max(condLength, tokens(uncond, width, 'negative prompt')) : condLength;
  const batch = guided ? 2 : 1;
  const embed = new Float32Array(batch * length * width);
  const mask = new Uint8Array(batch * length);
  if (guided && uncond) place(uncond, 0, length, width, embed, mask);
  place(cond, batch - 1, length, width, embed, mask);
  const { channels, frames, height, width: latentWidth } = denoiser.latent;
  const size = channels * frames * height * latentWidth;
  const input = new Float32Array(batch * size);
  const timesteps = new Float32Array(batch);
  let lastTiming: PredictionTiming | undefined;

  return {
    size,
    get lastTiming() {
      return lastTiming;
    },
    async predict(x: Float32Array, timestep: number): Promise<Float32Array> {
      if (x.length !== size) throw new GuidanceError(`latent holds ${x.length} values, expected ${size}`);
      for (let b = 0; b < batch; b++) input.set(x, b * size);
      timesteps.fill(timestep);
      const start = performance.now();
      const eps = await denoiser.predictNoise(input, timesteps, embed, mask, batch);
      const ms = performance.now() - start;
      const attentionMs = hasAttentionTimer(denoiser) ? denoiser.lastAttentionMs() : undefined;
      lastTiming = attentionMs === undefined ? { ms } : { ms, attentionMs };
      if (eps.length !== batch * size) {
        throw new GuidanceError(`the network returned ${eps.length} values, expected ${batch * size}`);
      }
      if (!guided) return eps.slice(0, size);
      const out = new Float32Array(size);
      for (let i = 0; i < size; i++) {
        const u = eps[i] as number;
        out[i] = u + scale * ((eps[size + i] as number) - u);
      }
      return out;
    },
  };
}
