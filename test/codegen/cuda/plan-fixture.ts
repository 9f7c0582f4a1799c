/**
 * Block plans for the CUDA backend's tests and benchmarks, built from the analysis' exact classification
 * (`classifyBlocks`, itself property-tested against brute force). Independent of the plan builder so the
 * kernel can be tested against a plan assembled the obvious way.
 */
import { classifyBlocks } from '../../../compiler/analysis/classify.js';
import { FULL, PARTIAL } from '../../../compiler/analysis/element-mask.js';
import type { PatternInstance } from '../../../compiler/ir.js';
import { isRealToken } from '../../../compiler/layout.js';
import { type BlockCsr, type BlockPlan, blockGeometry, type ClosedForm } from '../../../compiler/plan.js';

function csrOf(classes: Uint8Array, nq: number, nk: number, wanted: number): BlockCsr {
  const offsets = new Int32Array(nq + 1);
  const indices: number[] = [];
  for (let qb = 0; qb < nq; qb++) {
    for (let kb = 0; kb < nk; kb++) if (classes[qb * nk + kb] === wanted) indices.push(kb);
    offsets[qb + 1] = indices.length;
  }
  return { offsets, indices: Int32Array.from(indices) };
}

function paddingFlags(pattern: PatternInstance, block: number, count: number): Uint8Array {
  const flags = new Uint8Array(count);
  for (let b = 0; b < count; b++) {
    for (let i = b * block; i < Math.min((b + 1) * block, pattern.layout.length); i++) {
      if (!isRealToken(pattern.layout, i)) {
        flags[b] = 1;
        break;
      }
    }
  }
  return flags;
}

/**
 * A plan from exact classes. `closedForm` may be passed for patterns whose closed form the caller knows
 * (e.g. `dense` for full attention); the CSR tables are always filled.
 */
export function planFromClasses(
  pattern: PatternInstance,
  blockQ: number,
  blockK: number,
  closedForm: ClosedForm | null = null,
): BlockPlan {
  const g = blockGeometry(pattern.layout.length, blockQ, blockK);
  const classes = classifyBlocks(pattern, blockQ, blockK);
  const full = csrOf(classes, g.numQBlocks, g.numKBlocks, FULL);
  const partial = csrOf(classes, g.numQBlocks, g.numKBlocks, PARTIAL);
  const work = (qb: number) =>
    full.offsets[qb + 1]! - full.offsets[qb]! + partial.offsets[qb + 1]! - partial.offsets[qb]!;
  const schedule = Int32Array.from({ length: g.numQBlocks }, (_, i) => i).sort(
    (a, b) => work(b) - work(a) || a - b,
  );
  let realTokens = 0;
  for (let i = 0; i < pattern.layout.length; i++) if (isRealToken(pattern.layout, i)) realTokens++;
  const empty = g.numQBlocks * g.numKBlocks - full.indices.length - partial.indices.length;
  return {
    ...g,
    key: `${pattern.key}_b${blockQ}x${blockK}`,
    pattern,
    full,
    partial,
    keyBlockHasPadding: paddingFlags(pattern, blockK, g.numKBlocks),
    queryBlockHasPadding: paddingFlags(pattern, blockQ, g.numQBlocks),
    schedule,
    closedForm,
    stats: {
      full: full.indices.length,
      partial: partial.indices.length,
      empty,
      total: g.numQBlocks * g.numKBlocks,
      sparsity: empty / (g.numQBlocks * g.numKBlocks),
      allowedPairs: Number.NaN,
      realTokens,
    },
  };
}
