/**
 * How many loop iterations one invocation of an attention kernel executes, counted the way Mesa's gallivm
 * (the shader compiler of llvmpipe and lavapipe, CI's software GPU) counts them. gallivm gives every shader
 * invocation ONE counter shared by all its loops, starting at 65,535 and decremented at the end of every pass
 * through any loop body (the exiting pass included); when it reaches 0, every loop still running exits after
 * its current pass, silently (`lp_exec_endloop`, `LP_MAX_TGSI_LOOP_ITERATIONS`). A kernel over that budget
 * therefore returns garbage: keys past the budget are skipped and the output loop writes one element per row.
 *
 * The kernel keeps its loops per key tile and per key (the head-dim loops run per key are unrolled in the
 * text; only the row's load and store loop over head dims, once), and the runtime splits a call whose count
 * exceeds the device's `maxLoopIterations` into dispatches over ranges of key blocks
 * ({@link dispatchVisitRanges}), so the budget is never overrun silently. The count models gallivm pass by
 * pass (a probe in test/runtime/webgpu/loop-budget.test.ts pins the rules) plus the passes measured but not
 * visible in the WGSL, and the same tests check it against the device on both sides of the limit.
 */
import { type BlockPlan, queryBlockWork } from '../../compiler/plan/plan.js';
import type { TesseraError } from '../../dsl/diagnostics.js';
import { planError } from '../common/diagnostics.js';
import type { WgslVisitRange } from './bindings.js';
import type { WgslKernelConfig } from './kernel-config.js';
import { closedFormKeyBlocks } from './plan-tables.js';

/** gallivm's per-invocation loop budget (`LP_MAX_TGSI_LOOP_ITERATIONS` in Mesa's lp_bld_limits.h). */
export const GALLIVM_LOOP_LIMIT = 65535;

/**
 * What the runtime lets a dispatch spend on gallivm: the limit less a margin for passes the count misses
 * (measured on Dawn + Mesa 22.3 at the limit: the count is 40 to 310 passes high with 64-invocation
 * workgroups, and would be up to ~370 low with one-invocation workgroups were it not for the workgroup
 * zeroing loop it counts twice) and for loops another compiler version might add. It costs at most one extra
 * dispatch.
 */
export const GALLIVM_LOOP_BUDGET = GALLIVM_LOOP_LIMIT - 1024;

/** Consecutive K/V elements one invocation stages per step (unrolled); every supported head dim divides it. */
export const STAGE_CHUNK = 8;

/** Passes through a loop of `trips` iterations: gallivm also counts the pass that finds the loop done. */
function passes(trips: number): number {
  return trips + 1;
}

/**
 * Passes the WGSL text does not show. gallivm runs both sides of every `if` with the untaken lanes masked off,
 * so a loop that a condition skips still costs its first pass; and, measured on Dawn + Mesa 22.3 (see
 * test/runtime/webgpu/loop-budget.test.ts), a key tile costs about one pass more than its visible loops,
 * plausibly the early `return` of tp_consume_keys lowered into a one-pass loop. (Calls of the mask helpers
 * tp_floordiv / tp_floormod, early returns too, measurably cost nothing.)
 */
const HIDDEN_PER_TILE = 1;

/** A walk nobody takes (a visit outside the dispatch's range): one pass of each of its loops, masked. */
const MASKED_WALK = 5 + HIDDEN_PER_TILE;

/** Loop passes of `tp_key_block` on key block `kb`; `decode` when the tiles' key tokens are decoded. */
function keyBlockPasses(plan: BlockPlan, config: WgslKernelConfig, kb: number, decode: boolean): number {
  const start = kb * plan.blockK;
  const keys = Math.max(0, Math.min(plan.blockK, plan.seqLen - start));
  const chunksPerKey = config.headDim / STAGE_CHUNK;
  const wg = config.workgroupSize;
  let total = 0;
  let tiles = 0;
  for (let t0 = 0; t0 < keys; t0 += config.keyTile) {
    const n = Math.min(config.keyTile, keys - t0);
    tiles++;
    total += passes(Math.ceil((n * chunksPerKey) / wg)); // staging
    total += decode ? passes(Math.ceil(n / wg)) : 1; // token decoding, or its masked pass
    total += 2 * passes(n); // scores, then the accumulator update
    total += HIDDEN_PER_TILE;
  }
  return total + passes(tiles);
}

/**
 * Loops every invocation runs once, whatever it visits: the row's two head-dim loops (loading the query,
 * storing or merging the output) and the loops the WGSL compiler adds to zero workgroup memory before the
 * entry point (Tint strides over each array with the workgroup; it may fuse arrays of equal length into one
 * loop, counted here as separate loops, so the bound holds either way).
 */
function fixedPasses(config: WgslKernelConfig): number {
  const row = config.headDim / config.lanesPerRow;
  const wg = config.workgroupSize;
  const tileElements = config.keyTile * config.headDim;
  const zeroInit = 2 * passes(Math.ceil(tileElements / wg)) + passes(Math.ceil(config.keyTile / wg)); // kTile, vTile, keyTokens
  return 2 * passes(row) + zeroInit;
}

/** Loop passes of each query block: its fixed loops (enumeration, row I/O), and each visit in order. */
interface QueryBlockPasses {
  readonly enumeration: number;
  readonly visits: number[];
}

function queryBlockPasses(plan: BlockPlan, config: WgslKernelConfig): QueryBlockPasses[] {
  const form = config.enumeration === 'closed-form' ? plan.closedForm : null;
  const padded = (kb: number) => plan.keyBlockHasPadding[kb] !== 0;
  const walk = (kb: number, decode: boolean) => keyBlockPasses(plan, config, kb, decode);
  const result: QueryBlockPasses[] = [];
  for (let qb = 0; qb < plan.numQBlocks; qb++) {
    const visits: number[] = [];
    let enumeration: number;
    if (form === null) {
      // Full blocks, then partial ones, in one loop: the order of renderCsrEnumeration.
      const { full, partial } = plan;
      enumeration = passes(queryBlockWork(plan, qb));
      for (let j = full.offsets[qb]!; j < full.offsets[qb + 1]!; j++) {
        const kb = full.indices[j]!;
        visits.push(walk(kb, padded(kb)));
      }
      for (let j = partial.offsets[qb]!; j < partial.offsets[qb + 1]!; j++) {
        visits.push(walk(partial.indices[j]!, true));
      }
    } else {
      // Dense: one loop over all key blocks. Units: a loop over units, one over each unit's blocks, and a
      // masked walk where the unit is not visible (counted for every unit: an upper bound).
      enumeration =
        form.kind === 'dense'
          ? passes(plan.numKBlocks)
          : passes(form.units) * (passes(form.unitBlocksK) + MASKED_WALK);
      for (const kb of closedFormKeyBlocks(plan, form, qb)) {
        visits.push(walk(kb, padded(kb)));
      }
    }
    result.push({ enumeration: enumeration + fixedPasses(config), visits });
  }
  return result;
}

/**
 * Upper bound of the loop passes any invocation executes when one dispatch walks every key block: the
 * largest over query blocks of the enumeration loops plus every key block they visit.
 */
export function kernelLoopPasses(plan: BlockPlan, config: WgslKernelConfig): number {
  let worst = 0;
  for (const q of queryBlockPasses(plan, config)) {
    worst = Math.max(
      worst,
      q.visits.reduce((a, b) => a + b, q.enumeration),
    );
  }
  return worst;
}

/**
 * The dispatches of one call on a device that ends loops after `limit` passes per invocation: consecutive
 * ranges of visits (the i-th key block each query block walks) such that no invocation of any dispatch
 * exceeds the limit. Greedy, so as few dispatches as this split allows; one range of every visit when
 * `limit` is undefined. Throws `TesseraError` TP408 when a single key block alone does not fit.
 */
export function dispatchVisitRanges(
  plan: BlockPlan,
  config: WgslKernelConfig,
  limit: number | undefined,
): WgslVisitRange[] {
  const blocks = queryBlockPasses(plan, config);
  const visits = blocks.reduce((most, q) => Math.max(most, q.visits.length), 0);
  if (limit === undefined) return [{ begin: 0, end: visits }];
  const ranges: WgslVisitRange[] = [];
  // A dispatch pays the fixed loops, a full walk for each visit in its range and a masked walk for the others.
  const fresh = () => blocks.map((q) => q.enumeration + q.visits.length * MASKED_WALK);
  let used = fresh();
  let begin = 0;
  for (let v = 0; v < visits; v++) {
    const extra = (q: QueryBlockPasses) => (v < q.visits.length ? q.visits[v]! - MASKED_WALK : 0);
    const fits = () => blocks.every((q, qb) => used[qb]! + extra(q) <= limit);
    if (!fits()) {
      if (v > begin) {
        ranges.push({ begin, end: v });
        begin = v;
        used = fresh();
      }
      // Checked again in the fresh dispatch: a visit that does not fit alone cannot be split further.
      if (!fits()) throw overBudget(plan, config, v, limit);
    }
    blocks.forEach((q, qb) => {
      used[qb]! += extra(q);
    });
  }
  ranges.push({ begin, end: visits });
  return ranges;
}

function overBudget(plan: BlockPlan, config: WgslKernelConfig, visit: number, limit: number): TesseraError {
  return planError(
    plan,
    'TP408',
    `one key block of ${plan.blockK} keys (visit ${visit}) needs more loop iterations per ` +
      `invocation than the budget of ${limit} allows (Mesa llvmpipe/lavapipe end every loop of an ` +
      `invocation after ${GALLIVM_LOOP_LIMIT}; the call cannot be split finer than one key block)`,
    `compile with a smaller key block, or a larger query block (head dim ${config.headDim} stages ${config.headDim / STAGE_CHUNK} chunks per key over ${config.workgroupSize} invocations)`,
  );
}
