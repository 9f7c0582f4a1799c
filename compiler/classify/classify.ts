/**
 * Exact block classification: full / partial / empty for every (query block, key block) pair, on real
 * tokens only, without evaluating the N x N element mask. Three exact methods, tried cheapest first:
 * the frame table (predicate reads only the frame axis), the unit table (interval evaluation decides every
 * pair of whole units), and hierarchical bisection (any predicate). All are property-tested against
 * `bruteForceClasses`.
 */
import type { PatternInstance } from '../ir.js';
import type { ProgressCallback } from '../progress.js';
import { classifyByBisection, countAllowedInBoxes, countBoxPair, decidedOrMemoised } from './bisect.js';
import { blockPairMemo } from './block-memo.js';
import { blockRangeBoxes, boxVolume } from './boxes.js';
import { classifyByFrameTable, classifyByUnitTable, frameTablePairCounter } from './class-table.js';
import { TRUE } from './interval.js';
import { compileBoxPredicate } from './interval-compile.js';

/** Which method classified a pattern (reported by benchmarks and `--dump classify`). */
export type ClassifyMethod = 'frame-table' | 'unit-table' | 'bisection';

/** Block classes with the method that produced them. */
export interface Classification {
  /** Row-major numQBlocks x numKBlocks: 0 empty, 1 partial, 2 full. */
  readonly classes: Uint8Array;
  readonly method: ClassifyMethod;
}

/**
 * Classify every block pair, reporting the method used. `onProgress` hears the block pairs decided (the table
 * methods are quick and report nothing; bisection, the slow one, reports as it goes).
 */
export function classifyBlocksWithMethod(
  pattern: PatternInstance,
  blockQ: number,
  blockK: number,
  onProgress?: ProgressCallback,
): Classification {
  const byFrame = classifyByFrameTable(pattern, blockQ, blockK);
  if (byFrame) return { classes: byFrame, method: 'frame-table' };
  const byUnit = classifyByUnitTable(pattern, blockQ, blockK);
  if (byUnit) return { classes: byUnit, method: 'unit-table' };
  return { classes: classifyByBisection(pattern, blockQ, blockK, onProgress), method: 'bisection' };
}

/**
 * An exact counter of allowed real token pairs in one block pair (meant for partial blocks; full and empty
 * ones follow from real-token counts): frame-table sums for frame-axis predicates, box bisection otherwise
 * (once per block shape pair where the predicate allows, block-memo.ts).
 */
export function allowedPairCounter(
  pattern: PatternInstance,
  blockQ: number,
  blockK: number,
): (qb: number, kb: number) => number {
  const byFrame = frameTablePairCounter(pattern, blockQ, blockK);
  if (byFrame) return byFrame;
  const tri = compileBoxPredicate(pattern.predicate);
  const pairCount = decidedOrMemoised(
    tri,
    pattern.predicate,
    'count',
    (t, q, k) => (t === TRUE ? boxVolume(q) * boxVolume(k) : 0),
    countBoxPair,
  );
  const { layout } = pattern;
  const boxesQ = blockRangeBoxes(layout, blockQ);
  const boxesK = blockK === blockQ ? boxesQ : blockRangeBoxes(layout, blockK);
  const count = (qb: number, kb: number): number =>
    countAllowedInBoxes(pairCount, boxesQ(qb, qb + 1), boxesK(kb, kb + 1));
  const sameShape = blockPairMemo(pattern.predicate, layout, blockQ, blockK);
  return sameShape ? (qb, kb) => sameShape(qb, kb, () => count(qb, kb)) : count;
}

/** Classify every block pair: row-major numQBlocks x numKBlocks, 0 empty / 1 partial / 2 full. Exact. */
export function classifyBlocks(
  pattern: PatternInstance,
  blockQ: number,
  blockK: number,
  onProgress?: ProgressCallback,
): Uint8Array {
  return classifyBlocksWithMethod(pattern, blockQ, blockK, onProgress).classes;
}
