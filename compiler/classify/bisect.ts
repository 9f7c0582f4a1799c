/**
 * The general exact classifier: hierarchical 2D bisection over (query block range x key block range),
 * deciding a whole region when interval evaluation proves every box pair true or false, and inside one block
 * pair bisecting boxes (down to single tokens if needed) until the pair is proved full or empty, or a true and
 * a false token pair have both been witnessed (partial). Intervals are exact on single tokens, so bisection
 * always terminates with the exact answer.
 */
import type { BoolExpr, PatternInstance } from '../ir.js';
import { type ProgressCallback, thinnedProgress } from '../progress.js';
import { blockPairMemo } from './block-memo.js';
import { sharedBoxPairMemo } from './box-memo.js';
import { blockRangeBoxes, boxVolume, type CoordBox, realTokensPerBlock } from './boxes.js';
import { EMPTY, FULL, PARTIAL } from './element-mask.js';
import { FALSE, TRUE, type Tri, UNKNOWN } from './interval.js';
import { type BoxPredicate, compileBoxPredicate } from './interval-compile.js';

/** Split a box in two along its widest axis, or null for a single token. */
export function splitBox(box: CoordBox): [CoordBox, CoordBox] | null {
  let axis = -1;
  let widest = 0;
  for (let i = 0; i < box.lo.length; i++) {
    const extent = box.hi[i]! - box.lo[i]!;
    if (extent > widest) {
      widest = extent;
      axis = i;
    }
  }
  if (axis < 0) return null;
  const mid = box.lo[axis]! + Math.floor(widest / 2);
  const leftHi = box.hi.slice();
  leftHi[axis] = mid;
  const rightLo = box.lo.slice();
  rightLo[axis] = mid + 1;
  return [
    { segment: box.segment, lo: box.lo, hi: leftHi },
    { segment: box.segment, lo: rightLo, hi: box.hi },
  ];
}

/** Largest extent of a box over its axes (0 for a single token). */
function widestExtent(box: CoordBox): number {
  let widest = 0;
  for (let i = 0; i < box.lo.length; i++) widest = Math.max(widest, box.hi[i]! - box.lo[i]!);
  return widest;
}

/** Split the wider of two boxes; the pair must not be two single tokens (intervals are exact there). */
function splitPair(q: CoordBox, k: CoordBox, stack: CoordBox[]): void {
  const splitQuery = widestExtent(q) >= widestExtent(k);
  const halves = splitBox(splitQuery ? q : k);
  if (halves === null) throw new Error('internal: interval evaluation undecided on a single token pair');
  if (splitQuery) stack.push(halves[0], k, halves[1], k);
  else stack.push(q, halves[0], q, halves[1]);
}

/** Exact class of the real token pairs of one box pair, stopping at the first true + false witnesses. */
export function classifyBoxPair(tri: BoxPredicate, q0: CoordBox, k0: CoordBox): number {
  let sawTrue = false;
  let sawFalse = false;
  const stack: CoordBox[] = [q0, k0];
  while (stack.length > 0) {
    const k = stack.pop()!;
    const q = stack.pop()!;
    const t = tri(q, k);
    if (t === TRUE) sawTrue = true;
    else if (t === FALSE) sawFalse = true;
    else splitPair(q, k, stack);
    if (sawTrue && sawFalse) return PARTIAL;
  }
  return sawTrue ? FULL : EMPTY;
}

/** Exact number of allowed token pairs of one box pair, by bisection where undecided. */
export function countBoxPair(tri: BoxPredicate, q0: CoordBox, k0: CoordBox): number {
  let count = 0;
  const stack: CoordBox[] = [q0, k0];
  while (stack.length > 0) {
    const k = stack.pop()!;
    const q = stack.pop()!;
    const t = tri(q, k);
    if (t === TRUE) count += boxVolume(q) * boxVolume(k);
    else if (t === UNKNOWN) splitPair(q, k, stack);
  }
  return count;
}

/** A function of one box pair (its class, or its allowed-pair count). */
export type BoxPairFn = (q: CoordBox, k: CoordBox) => number;

/**
 * `solve` over box pairs, answered from one interval evaluation when that decides the pair (`decided` maps the
 * verdict to the result) and through the box-pair memo of `kind` otherwise: a lookup costs more than an
 * evaluation. A box pair whose frames (moving-axis values) are fixed is evaluated and solved with the predicate
 * specialised to them (box-memo.ts), which is smaller and folds to the same truth on that pair. `tri` is the
 * compiled raw predicate.
 */
export function decidedOrMemoised(
  tri: BoxPredicate,
  predicate: BoolExpr,
  kind: 'class' | 'count',
  decided: (verdict: Tri, q: CoordBox, k: CoordBox) => number,
  solve: (tri: BoxPredicate, q: CoordBox, k: CoordBox) => number,
): BoxPairFn {
  const { keys, memo } = sharedBoxPairMemo<number>(predicate, kind);
  const tris: BoxPredicate[] = [tri];
  const triOf = (id: number): BoxPredicate => {
    let compiled = tris[id];
    if (compiled === undefined) {
      compiled = compileBoxPredicate(keys.predicateOf(id));
      tris[id] = compiled;
    }
    return compiled;
  };
  return (q, k) => {
    if (q.lo.length !== k.lo.length) {
      const t = tri(q, k);
      return t === UNKNOWN ? solve(tri, q, k) : decided(t, q, k);
    }
    const id = keys.predicateId(q, k);
    const specialised = triOf(id);
    const t = specialised(q, k);
    if (t !== UNKNOWN) return decided(t, q, k);
    const key = keys.key(id, q, k);
    let value = memo.get(key);
    if (value === undefined) {
      value = solve(specialised, q, k);
      memo.set(key, value);
    }
    return value;
  };
}

/** Exact class of the real token pairs in `boxesQ x boxesK`, from the classes of the box pairs. */
export function classifyBoxes(
  pairClass: BoxPairFn,
  boxesQ: readonly CoordBox[],
  boxesK: readonly CoordBox[],
): number {
  let seen = 0; // bit FULL: some pair allowed; bit EMPTY + 1: some pair masked
  for (const q of boxesQ) {
    for (const k of boxesK) {
      const c = pairClass(q, k);
      if (c === PARTIAL) return PARTIAL;
      seen |= c === FULL ? 1 : 2;
      if (seen === 3) return PARTIAL;
    }
  }
  return seen === 1 ? FULL : EMPTY;
}

/** Exact number of allowed real token pairs in `boxesQ x boxesK`, summed over the box pairs. */
export function countAllowedInBoxes(
  pairCount: BoxPairFn,
  boxesQ: readonly CoordBox[],
  boxesK: readonly CoordBox[],
): number {
  let count = 0;
  for (const q of boxesQ) for (const k of boxesK) count += pairCount(q, k);
  return count;
}

/** TRUE / FALSE when every box pair is decided the same way, else UNKNOWN (stops at the first disagreement). */
function uniformVerdict(tri: BoxPredicate, boxesQ: readonly CoordBox[], boxesK: readonly CoordBox[]): Tri {
  let verdict: Tri | -1 = -1;
  for (const q of boxesQ) {
    for (const k of boxesK) {
      const t = tri(q, k);
      if (t === UNKNOWN || (verdict !== -1 && t !== verdict)) return UNKNOWN;
      verdict = t;
    }
  }
  return verdict === -1 ? FALSE : verdict;
}

/**
 * Classify every block pair by hierarchical bisection (works for any predicate). `onProgress` hears the block
 * pairs decided so far out of all of them.
 */
export function classifyByBisection(
  pattern: PatternInstance,
  blockQ: number,
  blockK: number,
  onProgress?: ProgressCallback,
): Uint8Array {
  const { layout } = pattern;
  const tri = compileBoxPredicate(pattern.predicate);
  const pairClass = decidedOrMemoised(
    tri,
    pattern.predicate,
    'class',
    (t) => (t === TRUE ? FULL : EMPTY),
    classifyBoxPair,
  );
  const realQ = realTokensPerBlock(layout, blockQ);
  const realK = blockK === blockQ ? realQ : realTokensPerBlock(layout, blockK);
  const sameShape = blockPairMemo(pattern.predicate, layout, blockQ, blockK);
  const nq = realQ.length;
  const nk = realK.length;
  const out = new Uint8Array(nq * nk);
  const report = thinnedProgress(nq * nk, onProgress);
  let decided = 0;
  const regionDone = (q0: number, q1: number, k0: number, k1: number): void => {
    decided += (q1 - q0) * (k1 - k0);
    report(decided);
  };
  // The recursion's block ranges are the nodes of a midpoint bisection (about 2 n per side), each met once per
  // region along the other side: their boxes are kept.
  const boxesQ = blockRangeBoxes(layout, blockQ);
  const boxesK = blockK === blockQ ? boxesQ : blockRangeBoxes(layout, blockK);
  /** Fill the region's classes when it can be decided whole (or is one block pair); false to split it. */
  const decideRegion = (q0: number, q1: number, k0: number, k1: number): boolean => {
    const q = boxesQ(q0, q1);
    const k = q.length === 0 ? q : boxesK(k0, k1);
    if (k.length === 0) return true;
    if (q1 - q0 === 1 && k1 - k0 === 1) {
      const solve = () => classifyBoxes(pairClass, q, k);
      out[q0 * nk + k0] = sameShape ? sameShape(q0, k0, solve) : solve();
      return true;
    }
    const verdict = uniformVerdict(tri, q, k);
    if (verdict === TRUE) {
      for (let qb = q0; qb < q1; qb++) {
        if (realQ[qb] === 0) continue;
        for (let kb = k0; kb < k1; kb++) if (realK[kb]! > 0) out[qb * nk + kb] = FULL;
      }
    }
    return verdict !== UNKNOWN;
  };
  const region = (q0: number, q1: number, k0: number, k1: number): void => {
    if (decideRegion(q0, q1, k0, k1)) {
      regionDone(q0, q1, k0, k1);
    } else if (q1 - q0 >= k1 - k0) {
      const mid = (q0 + q1) >>> 1;
      region(q0, mid, k0, k1);
      region(mid, q1, k0, k1);
    } else {
      const mid = (k0 + k1) >>> 1;
      region(q0, q1, k0, mid);
      region(q0, q1, mid, k1);
    }
  };
  region(0, nq, 0, nk);
  return out;
}
