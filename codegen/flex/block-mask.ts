/**
 * Export a block plan in PyTorch FlexAttention's BlockMask layout, so the same sparsity can be run (and
 * benchmarked) with `flex_attention`.
 *
 * Four int32 tensors, broadcast over batch and heads (leading dims 1, 1; 1, H for per-head plans, one row set
 * per head), Qb query blocks and Kb key blocks:
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
  return toFlexHeadsBlockMask([plan], plan.key, plan.pattern.key, 1);
}

/**
 * Per-head plans (index = head; one layout and block size) as BlockMask tensors with H = their count:
 * [1, H, Qb] and [1, H, Qb, Kb], head h's rows from its own plan. `heads` = 1 is the broadcast form of one plan.
 */
export function toFlexHeadsBlockMask(
  perHead: readonly BlockPlan[],
  planKey: string,
  patternKey: string,
  heads = perHead.length,
): FlexBlockMask {
  const plan = perHead[0]!;
  const qb = plan.numQBlocks;
  const kb = plan.numKBlocks;
  const kvNumBlocks = zeros('int32', [1, heads, qb], 'kv_num_blocks');
  const kvIndices = zeros('int32', [1, heads, qb, kb], 'kv_indices');
  const fullKvNumBlocks = zeros('int32', [1, heads, qb], 'full_kv_num_blocks');
  const fullKvIndices = zeros('int32', [1, heads, qb, kb], 'full_kv_indices');
  let demotedBlocks = 0;
  perHead.forEach((headPlan, h) => {
    if (headPlan.seqLen !== plan.seqLen || headPlan.blockQ !== plan.blockQ || headPlan.blockK !== plan.blockK)
      throw new RangeError(
        `toFlexHeadsBlockMask: head ${h}'s plan ${headPlan.key} is not on head 0's layout and blocks (${plan.key})`,
      );
    demotedBlocks += exportRows(headPlan, h * qb, { kvNumBlocks, kvIndices, fullKvNumBlocks, fullKvIndices });
  });
  return {
    kvNumBlocks,
    kvIndices,
    fullKvNumBlocks,
    fullKvIndices,
    qBlockSize: plan.blockQ,
    kvBlockSize: plan.blockK,
    seqLen: plan.seqLen,
    planKey,
    patternKey,
    demotedBlocks,
  };
}

/** Write `plan`'s rows into the tensors from query-block row `row0` on; returns the full blocks demoted. */
function exportRows(
  plan: BlockPlan,
  row0: number,
  t: Pick<FlexBlockMask, 'kvNumBlocks' | 'kvIndices' | 'fullKvNumBlocks' | 'fullKvIndices'>,
): number {
  const { kvNumBlocks, kvIndices, fullKvNumBlocks, fullKvIndices } = t;
  const qb = plan.numQBlocks;
  const kb = plan.numKBlocks;
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
    kvNumBlocks.data[row0 + q] = partial.length;
    kvIndices.data.set(partial, (row0 + q) * kb);
    fullKvNumBlocks.data[row0 + q] = full.length;
    fullKvIndices.data.set(full, (row0 + q) * kb);
  }
  return demotedBlocks;
}

/** An exported plan ready for safetensors: the mask, its four tensors under FlexAttention's names, and metadata. */
export interface FlexBlockMaskFile {
  readonly mask: FlexBlockMask;
  readonly tensors: [string, Tensor][];
  readonly metadata: Record<string, string>;
}

/** Export `plan` as the content of a FlexAttention block-mask safetensors file. */
export function flexBlockMask(plan: BlockPlan): FlexBlockMaskFile {
  return flexMaskFile(toFlexBlockMask(plan));
}

/** Export per-head plans (H = their count) as the content of a block-mask file; `key` names the head set. */
export function flexHeadsBlockMask(perHead: readonly BlockPlan[], key: string): FlexBlockMaskFile {
  return flexMaskFile(toFlexHeadsBlockMask(perHead, key, key));
}

function flexMaskFile(mask: FlexBlockMask): FlexBlockMaskFile {
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
