/**
 * The operations the DiT graph is written in: a small, backend-neutral vocabulary (linear layers, norms and
 * modulation, activations, 3D RoPE, attention, patching). The graph in models/open-sora-plan calls only these, so a
 * backend is one implementation of {@link ModelOps}: the CPU one (runtime/cpu, float32 or float64, the
 * oracle) and the CUDA one (runtime/cuda: cuBLASLt GEMMs, fused kernels, the compiled attention kernels). Tensors are opaque handles of the backend's
 * type with a row-major `shape`; activations are [B, N, D] (batch, tokens, channels) unless said otherwise.
 */
import type { PlannedAttention, TokenGrid } from '../compiler/plan/token-map.js';

export type { TokenGrid };

/** What every backend tensor exposes: its row-major shape. */
export interface OpTensor {
  readonly shape: readonly number[];
}

/** Arithmetic a backend computes in. */
export type OpPrecision = 'float64' | 'float32';

/** 3D RoPE parameters (Open-Sora-Plan 1.2's RoPE3D). */
export interface RopeSpec {
  /** Frequency base (10000). */
  readonly base: number;
  /** Positions are divided by these per axis [t, h, w] (1 = no interpolation). */
  readonly interpolation: readonly [number, number, number];
}

/**
 * How one layer's self-attention picks its keys.
 * - `dense`: every token sees every token (no plan).
 * - `masked`: dense attention restricted by an element mask over natural token indices (the oracle of a plan).
 * - `plan`: a compiled pattern's block plan with its token map (`tokenOf[i]` is the natural token at the plan
 *   layout's index i, or -1 for a padding slot: layouts may reorder tokens into tiles and pad them).
 */
export type HeadAttentionSpec =
  | { readonly kind: 'dense' }
  | { readonly kind: 'masked'; readonly allowed: (q: number, k: number) => boolean }
  | ({ readonly kind: 'plan' } & PlannedAttention);

/**
 * A layer's self-attention: one spec for every head, or (`heads`) a spec per head, index = head, for layers
 * whose heads attend through different patterns. Heads of one group share one spec object; the backends run
 * each run of adjacent heads that share one as a single call (runtime/head-specs.ts).
 */
export type SelfAttentionSpec =
  | HeadAttentionSpec
  | { readonly kind: 'heads'; readonly perHead: readonly HeadAttentionSpec[] };

/** A backend's implementation of the graph's operations. Inputs are never modified; each op returns a new tensor. */
export interface ModelOps<T extends OpTensor> {
  /** For reports, e.g. `cpu float64`. */
  readonly name: string;
  readonly precision: OpPrecision;
  /** Host float32 values to a backend tensor of `shape`. */
  upload(data: Float32Array, shape: readonly number[]): T;
  /**
   * Optional scoped memory (backends with a device pool): a position in the allocation order, and the
   * release of everything allocated after it except `keep`. The graph releases each layer's intermediates,
   * so a full-size pass holds one layer's activations at a time. Host backends leave these out.
   */
  mark?(): number;
  release?(mark: number, keep?: readonly T[]): void;
  /**
   * Optional, for asynchronous backends: wait for the work queued so far, so a wall-clock timer started after
   * it (the model's attention share) measures only what runs between two calls. Host backends leave it out.
   */
  settle?(): void;
  /** A backend tensor's values as float32 on the host. */
  download(t: T): Float32Array;
  /** The same elements under another shape with the same element count. */
  reshape(t: T, shape: readonly number[]): T;
  /** y = x W^T + b over the last axis: x [..., in], w [out, in], b [out]. */
  linear(x: T, w: T, b: T): T;
  /** LayerNorm over the last axis, no affine parameters. */
  layerNorm(x: T, eps: number): T;
  /** x * (1 + mod[b, scaleRow]) + mod[b, shiftRow]; x [B, N, D], mod [B, K, D]. */
  modulate(x: T, mod: T, shiftRow: number, scaleRow: number): T;
  /**
   * `modulate(layerNorm(x, eps), mod, shiftRow, scaleRow)`: LayerNorm over the last axis without affine
   * parameters, then x * (1 + mod[b, scaleRow]) + mod[b, shiftRow]; x [B, N, D], mod [B, K, D]. One pass on
   * backends that fuse it, so the normalised activations are never stored (nor rounded) in between.
   */
  layerNormModulate(x: T, eps: number, mod: T, shiftRow: number, scaleRow: number): T;
  /** x + mod[b, gateRow] * y (the gated residual); x, y [B, N, D], mod [B, K, D]. */
  gatedAdd(x: T, y: T, mod: T, gateRow: number): T;
  /** x + y, same shapes. */
  add(x: T, y: T): T;
  /** GELU, tanh approximation. */
  geluTanh(x: T): T;
  /** x * sigmoid(x). */
  silu(x: T): T;
  /** table [K, D] + emb viewed as [B, K, D] (emb [B, K * D]) or broadcast over K (emb [B, D]) -> [B, K, D]. */
  modulationRows(table: T, emb: T): T;
  /** Sinusoidal timestep features [B, channels]: [cos(t f_i), sin(t f_i)], f_i = 10000^(-i / (channels / 2)). */
  timestepFeatures(timesteps: Float32Array, channels: number): T;
  /** Latents [B, C, T, H, W] to per-token patch vectors [B, N, C * ph * pw] ordered (c, i, j) like a conv kernel. */
  patchify(x: T, patch: readonly [number, number, number]): T;
  /** Per-token outputs [B, N, pt * ph * pw * C] ordered (o, i, j, c) back to [B, C, T * pt, H * ph, W * pw]. */
  unpatchify(y: T, grid: TokenGrid, patch: readonly [number, number, number], channels: number): T;
  /**
   * 3D RoPE on [B, N, heads * headDim] (each head's channels split in three: t, h, w). `grid` is the tokens of
   * x (frame-major); their frame positions start at `firstFrame` (default 0): a rank of sequence parallelism
   * holds frames [firstFrame, firstFrame + grid.frames) of the video and rotates them by their global position.
   */
  rope3d(x: T, heads: number, grid: TokenGrid, rope: RopeSpec, firstFrame?: number): T;
  /** Softmax(Q K^T / sqrt(headDim)) V over video tokens, keys chosen by `spec`; q, k, v [B, N, heads * headDim]. */
  selfAttention(q: T, k: T, v: T, heads: number, spec: SelfAttentionSpec): T;
  /**
   * Attention of q [B, N, heads * headDim] to k, v [B, L, heads * headDim], skipping keys whose `keyMask[b * L + l]`
   * is 0 (text padding). A batch element with no real key attends over all L keys, as Open-Sora-Plan computes it:
   * its additive mask adds -10000 to every score of the row, and softmax does not change when every score moves
   * by the same amount.
   */
  crossAttention(q: T, k: T, v: T, heads: number, keyMask: Uint8Array): T;
}
