/**
 * How a plan's layout order maps onto a model's tokens. A DiT holds its video tokens frame-major (token =
 * (t * H + h) * W + w, SPEC §1.1); a pattern's layout may reorder them into tiles and pad frames or tiles, so a
 * block plan comes with the natural token of each of its layout indices (-1 for a padding slot). The runtimes
 * gather Q, K, V into layout order with it and scatter the output back.
 */
import { TensorError } from '../../core/tensor.js';
import type { PatternInstance } from '../ir.js';
import { decodeToken } from '../layout.js';
import type { BlockPlan } from './plan.js';

/** A latent token grid after patching: T x H x W tokens, token index (t * H + h) * W + w (SPEC §1.1). */
export interface TokenGrid {
  readonly frames: number;
  readonly height: number;
  readonly width: number;
}

/** A block plan with the natural token of each of its layout indices: what the runtime needs to run a layer. */
export interface PlannedAttention {
  readonly plan: BlockPlan;
  /** `tokenOf[i]` is the natural (frame-major) token at layout index i, or -1 for a padding slot. */
  readonly tokenOf: Int32Array;
}

/** Natural (frame-major) token of each index of the pattern's layout, -1 for padding; checks the layout fits. */
export function layoutTokenMap(pattern: PatternInstance, grid: TokenGrid): Int32Array {
  const layout = pattern.layout;
  const want = [grid.frames, grid.height, grid.width];
  if (layout.textAxis !== null) {
    throw new TensorError(
      'self-attention',
      `pattern '${pattern.key}' has a text segment, but the model's self-attention covers video tokens only`,
    );
  }
  if (layout.videoSizes.length !== 3 || layout.videoSizes.some((s, i) => s !== want[i])) {
    throw new TensorError(
      'self-attention',
      `pattern '${pattern.key}' is laid out on [${layout.videoSizes.join(', ')}] but the model's tokens are [${want.join(', ')}] (t, h, w)`,
    );
  }
  const tokenOf = new Int32Array(layout.length);
  const coords: number[] = [];
  for (let i = 0; i < layout.length; i++) {
    const token = decodeToken(layout, i, coords);
    tokenOf[i] = token === null ? -1 : (coords[0]! * grid.height + coords[1]!) * grid.width + coords[2]!;
  }
  return tokenOf;
}

/** `plan` with its token map on `grid`. */
export function plannedAttention(plan: BlockPlan, grid: TokenGrid): PlannedAttention {
  return { plan, tokenOf: layoutTokenMap(plan.pattern, grid) };
}
