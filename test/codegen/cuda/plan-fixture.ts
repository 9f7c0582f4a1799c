/**
 * Plans of the built-in patterns on layouts chosen so that every key walk of the CUDA kernel is generated:
 * `dense` (full attention), `units` (frames padded to the block size, or a block size dividing the frame) and
 * CSR tables (frames cut by blocks: partial blocks), with and without padding keys and short last tiles.
 * Built through the real front end and plan builder (see test/device/builtin-plans.ts).
 */
import type { BlockPlan } from '../../../compiler/plan/plan.js';
import { builtinPlan } from '../../device/builtin-plans.js';

/** A plan with the key walk it is meant to force. */
export interface WalkPlan {
  readonly walk: 'dense' | 'units' | 'csr';
  readonly plan: BlockPlan;
}

/** Small plans covering each walk; `large` adds the 720p shapes (8 frames of 45 x 80) of the benchmark. */
export function walkPlans(large = false): WalkPlan[] {
  const small = { t: 4, h: 8, w: 16 }; // 128-token frames
  const odd = { t: 3, h: 5, w: 7 }; // 35-token frames: short last tile, partial blocks
  const plans: WalkPlan[] = [
    { walk: 'dense', plan: builtinPlan('full', { sizes: odd }, 64) },
    { walk: 'dense', plan: builtinPlan('full', { sizes: small }, 128) },
    { walk: 'units', plan: builtinPlan('attention_tile', { sizes: small, params: { a: 2 } }, 64, 128) },
    { walk: 'units', plan: builtinPlan('causal', { sizes: small, params: { token: false } }, 128) },
    { walk: 'units', plan: builtinPlan('frame_window', { sizes: odd, params: { r: 1 }, padUnit: 64 }, 64) },
    { walk: 'csr', plan: builtinPlan('attention_tile', { sizes: odd, params: { a: 1 } }, 64) },
    {
      walk: 'csr',
      plan: builtinPlan('text_video', { sizes: { t: 4, h: 5, w: 7, l: 13 }, params: { a: 1 } }, 64, 128),
    },
    { walk: 'csr', plan: builtinPlan('causal', { sizes: small, params: { token: true } }, 128) },
  ];
  if (large) {
    plans.push(
      { walk: 'units', plan: builtinPlan('attention_tile', { padUnit: 128 }, 128) },
      { walk: 'csr', plan: builtinPlan('attention_tile', {}, 128) },
    );
  }
  return plans;
}
