/**
 * How many loop iterations one invocation of an attention kernel executes, counted the way Mesa's gallivm
 * (the shader compiler of llvmpipe and lavapipe, CI's software GPU) counts them. gallivm gives every shader
 * invocation ONE counter shared by all its loops, starting at 65,535 and decremented at the end of every pass
 * through any loop body (the exiting pass included); when it reaches 0, every loop still running exits after
 * its current pass, silently (`lp_exec_endloop`, `LP_MAX_TGSI_LOOP_ITERATIONS`). A kernel over that budget
 * therefore returns garbage: keys past the budget are skipped and the output loop writes one element per row.
 *
 * The kernel keeps its loops per key tile and per key (head-dim loops are unrolled in the text), and the
 * runtime splits a call whose bound exceeds the device's `maxLoopIterations` into dispatches over ranges of
 * key blocks ({@link dispatchVisitRanges}), so the budget is never overrun silently. The bound counts every
 * pass gallivm can count (the probe in test/runtime/webgpu/loop-budget.test.ts checks the counting), so a
 * dispatch under it is never cut short.
 */
import type { BlockPlan } from '../../compiler/plan.js';
import { TesseraError } from '../../dsl/diagnostics.js';
import { START_OF_FILE } from '../../dsl/source.js';
import type { WgslVisitRange } from './bindings.js';
import type { WgslKernelConfig } from './kernel-config.js';
import { closedFormKeyBlocks } from './plan-tables.js';

/** gallivm's per-invocation loop budget (`LP_MAX_TGSI_LOOP_ITERATIONS` in Mesa's lp_bld_limits.h). */
export const GALLIVM_LOOP_LIMIT = 65535;

/**
 * What the runtime lets a dispatch spend on gallivm: the limit less a margin for loops a future WGSL or GLSL
 * compiler might add around the kernel (the count below matches Dawn + Mesa 22 to within 100 passes: see
 * test/runtime/webgpu/loop-budget.test.ts). A margin costs at most one extra dispatch.
 */
export const GALLIVM_LOOP_BUDGET = GALLIVM_LOOP_LIMIT - 1024;

/** Consecutive K/V elements one invocation stages per step (unrolled); every supported head dim divides it. */
export const STAGE_CHUNK = 8;

/** Passes through a loop of `trips` iterations: gallivm also counts the pass that finds the loop done. */
function passes(trips: number): number {
  return trips + 1;
}

/** Loop passes of `tp_key_block` on key block `kb`; `decode` when the tiles' key tokens are decoded. */
function keyBlockPasses(plan: BlockPlan, config: WgslKernelConfig, kb: number, decode: boolean): number {
  const start = kb * plan.blockK;
  const keys = Math.max(0, Math.min(plan.blockK, plan.seqLen - start));
  const chunksPerKey = config.headDim / STAGE_CHUNK;
  let total = 0;
  let tiles = 0;
  for (let t0 = 0; t0 < keys; t0 += config.keyTile) {
    const n = Math.min(config.keyTile, keys - t0);
    tiles++;
    total += passes(Math.ceil((n * chunksPerKey) / config.workgroupSize)); // staging
    if (decode) total += passes(Math.ceil(n / config.workgroupSize)); // token decoding
    total += 2 * passes(n); // scores, then the accumulator update
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
  const result: QueryBlockPasses[] = [];
  for (let qb = 0; qb < plan.numQBlocks; qb++) {
    const visits: number[] = [];
    let enumeration: number;
    if (form === null) {
      // Full blocks, then partial ones, in one loop: the order of renderCsrEnumeration.
      const { full, partial } = plan;
      enumeration = passes(
        full.offsets[qb + 1]! - full.offsets[qb]! + partial.offsets[qb + 1]! - partial.offsets[qb]!,
      );
      for (let j = full.offsets[qb]!; j < full.offsets[qb + 1]!; j++) {
        const kb = full.indices[j]!;
        visits.push(keyBlockPasses(plan, config, kb, padded(kb)));
      }
      for (let j = partial.offsets[qb]!; j < partial.offsets[qb + 1]!; j++) {
        visits.push(keyBlockPasses(plan, config, partial.indices[j]!, true));
      }
    } else {
      // Dense: one loop over all key blocks. Units: a loop over units, one over each visible unit's blocks.
      enumeration =
        form.kind === 'dense' ? passes(plan.numKBlocks) : passes(form.units) * passes(form.unitBlocksK);
      for (const kb of closedFormKeyBlocks(plan, form, qb)) {
        visits.push(keyBlockPasses(plan, config, kb, padded(kb)));
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
  let begin = 0;
  const used = blocks.map((q) => q.enumeration);
  for (let v = 0; v < visits; v++) {
    const fits = blocks.every((q, qb) => used[qb]! + (q.visits[v] ?? 0) <= limit);
    if (!fits) {
      if (v === begin) throw overBudget(plan, config, v, limit);
      ranges.push({ begin, end: v });
      begin = v;
      blocks.forEach((q, qb) => {
        used[qb] = q.enumeration;
      });
    }
    blocks.forEach((q, qb) => {
      used[qb]! += q.visits[v] ?? 0;
    });
  }
  ranges.push({ begin, end: visits });
  return ranges;
}

function overBudget(plan: BlockPlan, config: WgslKernelConfig, visit: number, limit: number): TesseraError {
  return new TesseraError([
    {
      code: 'TP408',
      severity: 'error',
      message:
        `${plan.key}: one key block of ${plan.blockK} keys (visit ${visit}) needs more loop iterations per ` +
        `invocation than the budget of ${limit} allows (Mesa llvmpipe/lavapipe end every loop of an ` +
        `invocation after ${GALLIVM_LOOP_LIMIT}; the call cannot be split finer than one key block)`,
      range: START_OF_FILE,
      file: `${plan.key}.wgsl`,
      hint: `compile with a smaller key block, or a larger query block (head dim ${config.headDim} stages ${config.headDim / STAGE_CHUNK} chunks per key over ${config.workgroupSize} invocations)`,
    },
  ]);
}
