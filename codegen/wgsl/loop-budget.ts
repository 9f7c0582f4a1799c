/**
 * How many loop iterations one invocation of an attention kernel executes, counted the way Mesa's gallivm
 * (the shader compiler of llvmpipe and lavapipe, CI's software GPU) counts them. gallivm gives every shader
 * invocation ONE counter shared by all its loops, starting at 65,535 and decremented at the end of every pass
 * through any loop body (the exiting pass included); when it reaches 0, every loop still running exits after
 * its current pass, silently (`lp_exec_endloop`, `LP_MAX_TGSI_LOOP_ITERATIONS`). A kernel over that budget
 * therefore returns garbage: keys past the budget are skipped and the output loop writes one element per row.
 *
 * The kernel keeps its loops per key tile and per key (head-dim loops are unrolled in the text), and the
 * renderer refuses a plan whose bound exceeds the device's `maxLoopIterations`, so the budget is never
 * overrun silently. The bound counts every pass gallivm can count, so it is an upper bound: a kernel under
 * it is never cut short.
 */
import type { BlockPlan } from '../../compiler/plan.js';
import type { WgslKernelConfig } from './kernel-config.js';
import { closedFormKeyBlocks } from './plan-tables.js';

/** gallivm's per-invocation loop budget (`LP_MAX_TGSI_LOOP_ITERATIONS` in Mesa's lp_bld_limits.h). */
export const GALLIVM_LOOP_LIMIT = 65535;

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
 * Upper bound of the loop passes any invocation of the kernel of `plan` with `config` executes: the largest
 * over query blocks of the enumeration loops plus every key block they visit.
 */
export function kernelLoopPasses(plan: BlockPlan, config: WgslKernelConfig): number {
  const form = config.enumeration === 'closed-form' ? plan.closedForm : null;
  const padded = (kb: number) => plan.keyBlockHasPadding[kb] !== 0;
  let worst = 0;
  for (let qb = 0; qb < plan.numQBlocks; qb++) {
    let total = 0;
    if (form === null) {
      const full = plan.full;
      const partial = plan.partial;
      total += passes(full.offsets[qb + 1]! - full.offsets[qb]!);
      total += passes(partial.offsets[qb + 1]! - partial.offsets[qb]!);
      for (let j = full.offsets[qb]!; j < full.offsets[qb + 1]!; j++) {
        const kb = full.indices[j]!;
        total += keyBlockPasses(plan, config, kb, padded(kb));
      }
      for (let j = partial.offsets[qb]!; j < partial.offsets[qb + 1]!; j++) {
        total += keyBlockPasses(plan, config, partial.indices[j]!, true);
      }
    } else {
      // Dense: one loop over all key blocks. Units: a loop over units, one over each visible unit's blocks.
      total +=
        form.kind === 'dense' ? passes(plan.numKBlocks) : passes(form.units) * passes(form.unitBlocksK);
      for (const kb of closedFormKeyBlocks(plan, form, qb)) {
        total += keyBlockPasses(plan, config, kb, padded(kb));
      }
    }
    worst = Math.max(worst, total);
  }
  return worst;
}
