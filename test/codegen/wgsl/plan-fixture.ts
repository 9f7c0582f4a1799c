/**
 * Block plans for the WebGPU tests, built by brute force (every element pair classified with the reference
 * mask), independently of the compiler's plan builder, so a kernel is checked against the plan's meaning
 * rather than against the code that produced it.
 */
import { bruteForceClasses, EMPTY, elementMask, FULL } from '../../../compiler/analysis/element-mask.js';
import type { PatternInstance } from '../../../compiler/ir.js';
import { isRealToken } from '../../../compiler/layout.js';
import { type BlockCsr, type BlockPlan, blockGeometry, type ClosedForm } from '../../../compiler/plan.js';

function csrOf(rows: number[][]): BlockCsr {
  const offsets = new Int32Array(rows.length + 1);
  rows.forEach((r, i) => {
    offsets[i + 1] = offsets[i]! + r.length;
  });
  return { offsets, indices: Int32Array.from(rows.flat()) };
}

/** A plan for `pattern` at `blockQ x blockK`, classified element by element. */
export function bruteForcePlan(
  pattern: PatternInstance,
  blockQ: number,
  blockK: number,
  closedForm: ClosedForm | null = null,
): BlockPlan {
  const g = blockGeometry(pattern.layout.length, blockQ, blockK);
  const classes = bruteForceClasses(pattern, blockQ, blockK);
  const full: number[][] = [];
  const partial: number[][] = [];
  let nFull = 0;
  let nPartial = 0;
  for (let qb = 0; qb < g.numQBlocks; qb++) {
    full.push([]);
    partial.push([]);
    for (let kb = 0; kb < g.numKBlocks; kb++) {
      const c = classes[qb * g.numKBlocks + kb]!;
      if (c === FULL) full[qb]!.push(kb);
      else if (c !== EMPTY) partial[qb]!.push(kb);
    }
    nFull += full[qb]!.length;
    nPartial += partial[qb]!.length;
  }
  const hasPadding = (blocks: number, size: number) =>
    Uint8Array.from({ length: blocks }, (_, b) => {
      for (let i = b * size; i < Math.min((b + 1) * size, g.seqLen); i++)
        if (!isRealToken(pattern.layout, i)) return 1;
      return 0;
    });
  const work = full.map((f, qb) => f.length + partial[qb]!.length);
  const schedule = Int32Array.from(work.map((_, qb) => qb).sort((a, b) => work[b]! - work[a]! || a - b));
  const mask = elementMask(pattern);
  let allowedPairs = 0;
  let realTokens = 0;
  for (let i = 0; i < g.seqLen; i++) {
    if (isRealToken(pattern.layout, i)) realTokens++;
    for (let j = 0; j < g.seqLen; j++) if (mask(i, j)) allowedPairs++;
  }
  const total = g.numQBlocks * g.numKBlocks;
  return {
    ...g,
    key: `${pattern.key}_b${blockQ}x${blockK}`,
    pattern,
    full: csrOf(full),
    partial: csrOf(partial),
    keyBlockHasPadding: hasPadding(g.numKBlocks, blockK),
    queryBlockHasPadding: hasPadding(g.numQBlocks, blockQ),
    schedule,
    closedForm,
    stats: {
      full: nFull,
      partial: nPartial,
      empty: total - nFull - nPartial,
      total,
      sparsity: (total - nFull - nPartial) / total,
      allowedPairs,
      realTokens,
    },
  };
}
