/**
 * What a plan leaves out that a speedup figure hides: padding slots (and the full blocks that touch them, which
 * a kernel masks like partial blocks and FlexAttention, which has no padding, computes as partial), and real
 * queries that no key is allowed to reach (their output is 0). One definition for the report, the JSON
 * report, the Flex export, the pictures and `--verify`, so they all count the same way.
 */
import { planElementMask } from './element-mask.js';
import type { BlockCsr, BlockPlan } from './plan.js';

/** Padding in a plan. */
export interface PaddingCounts {
  /** Padding slots in the sequence (layout length minus real tokens). */
  readonly slots: number;
  /** Padding slots as a share of the sequence. */
  readonly share: number;
  /** Full blocks whose query block or key block holds padding. */
  readonly fullBlocksWithPadding: number;
}

function row(csr: BlockCsr, qb: number): Int32Array {
  return csr.indices.subarray(csr.offsets[qb]!, csr.offsets[qb + 1]!);
}

/** Whether the full block (qb, kb) holds padding, so that padding must be masked inside it. */
export function fullBlockHasPadding(plan: BlockPlan, qb: number, kb: number): boolean {
  return plan.queryBlockHasPadding[qb] === 1 || plan.keyBlockHasPadding[kb] === 1;
}

/** Count the padding of `plan`. */
export function paddingCounts(plan: BlockPlan): PaddingCounts {
  const slots = plan.seqLen - plan.stats.realTokens;
  let fullBlocksWithPadding = 0;
  if (slots > 0) {
    for (let qb = 0; qb < plan.numQBlocks; qb++)
      for (const kb of row(plan.full, qb)) if (fullBlockHasPadding(plan, qb, kb)) fullBlocksWithPadding++;
  }
  return { slots, share: plan.seqLen === 0 ? 0 : slots / plan.seqLen, fullBlocksWithPadding };
}

/**
 * Real queries with no allowed key, counted exactly: a query block with a full block has a key for every
 * real query (a full block holds a real key, or it would be empty); one without computed blocks has none;
 * only the rows of query blocks with partial blocks alone are evaluated, the query's own key first (most patterns
 * allow it), then the partial blocks in order, stopping at the row's first key.
 */
export function queriesWithoutKeys(plan: BlockPlan): number {
  const mask = planElementMask(plan);
  let missing = 0;
  for (let qb = 0; qb < plan.numQBlocks; qb++) {
    if (plan.full.offsets[qb + 1]! > plan.full.offsets[qb]!) continue;
    const start = qb * plan.blockQ;
    const end = Math.min(plan.seqLen, start + plan.blockQ);
    const partial = row(plan.partial, qb);
    for (let q = start; q < end; q++) {
      if (!mask.isReal(q)) continue;
      // Most patterns let a token see itself: one evaluation settles the row before any scan.
      if (mask.allowed(q, q)) continue;
      if (!rowHasKey(plan, mask.allowed, q, partial)) missing++;
    }
  }
  return missing;
}

function rowHasKey(
  plan: BlockPlan,
  allowed: (q: number, k: number) => boolean,
  q: number,
  keyBlocks: Int32Array,
): boolean {
  for (const kb of keyBlocks) {
    const end = Math.min(plan.seqLen, (kb + 1) * plan.blockK);
    for (let k = kb * plan.blockK; k < end; k++) if (allowed(q, k)) return true;
  }
  return false;
}
