/**
 * Export a block plan in PyTorch FlexAttention's BlockMask layout, so the same sparsity can be run (and
 * benchmarked) with `flex_attention`.
 *
 * Four int32 tensors, broadcast over batch and heads (leading dims 1, 1), Qb query blocks and Kb key blocks:
 *   kv_num_blocks [1,1,Qb], kv_indices [1,1,Qb,Kb]            partial blocks: mask_mod is evaluated inside
 *   full_kv_num_blocks [1,1,Qb], full_kv_indices [1,1,Qb,Kb]  full blocks: mask_mod is skipped
 * Row qb lists its valid key blocks first, ascending; the rest of the row is 0. The loop that defines the
 * format (what FlexAttention computes):
 *
 *   allowed(q, k) = kb in full_kv_indices[qb, :full_kv_num_blocks[qb]]
 *                   or (kb in kv_indices[qb, :kv_num_blocks[qb]] and mask_mod(q, k))
 *   with qb = q // q_block_size, kb = k // kv_block_size.
 *
 * FlexAttention knows nothing of tessera's padding tokens, so a plan's full block is exported as partial when
 * its key block or its query block holds padding: there `mask_mod` (which returns False on padding) must run.
 */

import { fullBlockHasPadding } from '../../compiler/plan/coverage.js';
import type { BlockCsr, BlockPlan } from '../../compiler/plan/plan.js';
import { encodeSafetensors, writeSafetensors } from '../../core/safetensors.js';
import { type Tensor, zeros } from '../../core/tensor.js';

/** A plan in FlexAttention's layout. */
export interface FlexBlockMask {
  /** [1, 1, Qb]: partial key blocks per query block. */
  readonly kvNumBlocks: Tensor<'int32'>;
  /** [1, 1, Qb, Kb]: partial key block indices, valid entries first, then 0. */
  readonly kvIndices: Tensor<'int32'>;
  /** [1, 1, Qb]: full key blocks per query block. */
  readonly fullKvNumBlocks: Tensor<'int32'>;
  /** [1, 1, Qb, Kb]: full key block indices, valid entries first, then 0. */
  readonly fullKvIndices: Tensor<'int32'>;
  readonly qBlockSize: number;
  readonly kvBlockSize: number;
  /** Sequence length, padding included (what FlexAttention sees as Q_LEN = KV_LEN). */
  readonly seqLen: number;
  /** The plan's key (pattern identity plus block sizes). */
  readonly planKey: string;
  /** The pattern's key. */
  readonly patternKey: string;
  /** Full blocks of the plan exported as partial because they touch padding. */
  readonly demotedBlocks: number;
}

function row(csr: BlockCsr, qb: number): Int32Array {
  return csr.indices.subarray(csr.offsets[qb]!, csr.offsets[qb + 1]!);
}

/** Convert a plan to FlexAttention's BlockMask tensors (see the module comment for the format). */
export function toFlexBlockMask(plan: BlockPlan): FlexBlockMask {
  const qb = plan.numQBlocks;
  const kb = plan.numKBlocks;
  const kvNumBlocks = zeros('int32', [1, 1, qb], 'kv_num_blocks');
  const kvIndices = zeros('int32', [1, 1, qb, kb], 'kv_indices');
  const fullKvNumBlocks = zeros('int32', [1, 1, qb], 'full_kv_num_blocks');
  const fullKvIndices = zeros('int32', [1, 1, qb, kb], 'full_kv_indices');
  let demotedBlocks = 0;
  for (let q = 0; q < qb; q++) {
    const full: number[] = [];
    const partial = Array.from(row(plan.partial, q));
    for (const k of row(plan.full, q)) {
      if (fullBlockHasPadding(plan, q, k)) {
        partial.push(k);
        demotedBlocks++;
      } else {
        full.push(k);
      }
    }
    partial.sort((a, b) => a - b);
    kvNumBlocks.data[q] = partial.length;
    kvIndices.data.set(partial, q * kb);
    fullKvNumBlocks.data[q] = full.length;
    fullKvIndices.data.set(full, q * kb);
  }
  return {
    kvNumBlocks,
    kvIndices,
    fullKvNumBlocks,
    fullKvIndices,
    qBlockSize: plan.blockQ,
    kvBlockSize: plan.blockK,
    seqLen: plan.seqLen,
    planKey: plan.key,
    patternKey: plan.pattern.key,
    demotedBlocks,
  };
}

/** An exported plan ready for safetensors: the mask, its four tensors under FlexAttention's names, and metadata. */
export interface FlexBlockMaskFile {
  readonly mask: FlexBlockMask;
  readonly tensors: [string, Tensor][];
  readonly metadata: Record<string, string>;
}

/** Export `plan` as the content of a FlexAttention block-mask safetensors file. */
export function flexBlockMask(plan: BlockPlan): FlexBlockMaskFile {
  const mask = toFlexBlockMask(plan);
  return {
    mask,
    tensors: [
      ['kv_num_blocks', mask.kvNumBlocks],
      ['kv_indices', mask.kvIndices],
      ['full_kv_num_blocks', mask.fullKvNumBlocks],
      ['full_kv_indices', mask.fullKvIndices],
    ],
    metadata: {
      format: 'pt',
      tessera_export: 'flex_block_mask',
      pattern: mask.patternKey,
      plan: mask.planKey,
      q_block_size: String(mask.qBlockSize),
      kv_block_size: String(mask.kvBlockSize),
      seq_len: String(mask.seqLen),
    },
  };
}

/** The exported mask as a safetensors file image. */
export function encodeFlexBlockMask(plan: BlockPlan): Uint8Array {
  const { tensors, metadata } = flexBlockMask(plan);
  return encodeSafetensors(tensors, metadata);
}

/** Write the exported mask to `path` (safetensors) and return it. */
export async function writeFlexBlockMask(path: string, plan: BlockPlan): Promise<FlexBlockMask> {
  const { mask, tensors, metadata } = flexBlockMask(plan);
  await writeSafetensors(path, tensors, metadata);
  return mask;
}
