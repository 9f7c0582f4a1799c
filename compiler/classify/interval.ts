/**
 * Sound interval evaluation of the pattern IR over a pair of coordinate boxes: every integer node gets an
 * interval containing its value at every (query, key) point of the boxes, and the predicate gets a
 * tri-state (definitely true, definitely false, unknown). On single-point boxes every interval is exact, so
 * bisection down to points always decides; that is what makes the block classifier exact.
 *
 * This file holds the reference interpreter and the interval primitives; `interval-compile.ts` turns the
 * same rules into a JavaScript function for the hot path, and tests check the two agree.
 */
import { applyIntPower, type BoolExpr, type CmpOp, floorDiv, floorMod, type IntExpr } from '../ir.js';
import type { CoordBox } from './boxes.js';

/** Tri-state truth value. */
export type Tri = 0 | 1 | 2;
/** Definitely false on every point pair. */
export const FALSE: Tri = 0;
/** Definitely true on every point pair. */
export const TRUE: Tri = 1;
/** Not decided at this box size. */
export const UNKNOWN: Tri = 2;

/** A closed integer interval [lo, hi]. */
export type Interval = readonly [number, number];

/** Grow `out` (lo, hi) to contain [lo, hi]; `out` starts as [+Infinity, -Infinity]. */
function include(out: number[], lo: number, hi: number): void {
  if (lo < out[0]!) out[0] = lo;
  if (hi > out[1]!) out[1] = hi;
}

/**
 * Floor division of every a in [alo, ahi] by every b in [blo, bhi] (b = 0 gives 0), written to `out`.
 * For b of one sign, floor(a / b) is monotone in a and in b separately, so the extremes sit at corners.
 */
export function divInterval(alo: number, ahi: number, blo: number, bhi: number, out: number[]): void {
  out[0] = Number.POSITIVE_INFINITY;
  out[1] = Number.NEGATIVE_INFINITY;
  if (blo <= 0 && bhi >= 0) include(out, 0, 0);
  const corners = (b1: number, b2: number): void => {
    const c1 = floorDiv(alo, b1);
    const c2 = floorDiv(alo, b2);
    const c3 = floorDiv(ahi, b1);
    const c4 = floorDiv(ahi, b2);
    include(out, Math.min(c1, c2, c3, c4), Math.max(c1, c2, c3, c4));
  };
  const p1 = Math.max(blo, 1);
  if (p1 <= bhi) corners(p1, bhi);
  const n2 = Math.min(bhi, -1);
  if (blo <= n2) corners(blo, n2);
}

/**
 * Floor modulo of every a in [alo, ahi] by every b in [blo, bhi] (b = 0 gives 0), written to `out`.
 * Exact when the divisor is a constant and the range stays within one period; otherwise the result range of
 * the divisor's sign, narrowed by the sign of a.
 */
export function modInterval(alo: number, ahi: number, blo: number, bhi: number, out: number[]): void {
  out[0] = Number.POSITIVE_INFINITY;
  out[1] = Number.NEGATIVE_INFINITY;
  if (blo <= 0 && bhi >= 0) include(out, 0, 0);
  const p1 = Math.max(blo, 1);
  const p2 = bhi;
  if (p1 <= p2) {
    if (alo >= 0 && ahi < p1) include(out, alo, ahi);
    else if (p1 === p2 && floorDiv(alo, p1) === floorDiv(ahi, p1))
      include(out, floorMod(alo, p1), floorMod(ahi, p1));
    else include(out, 0, alo >= 0 ? Math.min(p2 - 1, ahi) : p2 - 1);
  }
  const n1 = blo;
  const n2 = Math.min(bhi, -1);
  if (n1 <= n2) {
    if (ahi <= 0 && alo > n2) include(out, alo, ahi);
    else if (n1 === n2 && floorDiv(alo, n1) === floorDiv(ahi, n1))
      include(out, floorMod(alo, n1), floorMod(ahi, n1));
    else include(out, ahi <= 0 ? Math.max(n1 + 1, alo) : n1 + 1, 0);
  }
}

/** Tri-state of `a cmp b` for a in [alo, ahi], b in [blo, bhi]. */
export function compareInterval(cmp: CmpOp, alo: number, ahi: number, blo: number, bhi: number): Tri {
  switch (cmp) {
    case 'eq':
      return alo === ahi && blo === bhi && alo === blo ? TRUE : ahi < blo || bhi < alo ? FALSE : UNKNOWN;
    case 'ne':
      return alo === ahi && blo === bhi && alo === blo ? FALSE : ahi < blo || bhi < alo ? TRUE : UNKNOWN;
    case 'lt':
      return ahi < blo ? TRUE : alo >= bhi ? FALSE : UNKNOWN;
    case 'le':
      return ahi <= blo ? TRUE : alo > bhi ? FALSE : UNKNOWN;
    case 'gt':
      return alo > bhi ? TRUE : ahi <= blo ? FALSE : UNKNOWN;
    case 'ge':
      return alo >= bhi ? TRUE : ahi < blo ? FALSE : UNKNOWN;
  }
}

/** Tri-state of `a in values` for a in [lo, hi]; `sorted` holds the distinct values ascending. */
export function insetInterval(lo: number, hi: number, sorted: readonly number[]): Tri {
  let inside = 0;
  for (const v of sorted) if (v >= lo && v <= hi) inside++;
  if (inside === 0) return FALSE;
  return inside === hi - lo + 1 ? TRUE : UNKNOWN;
}

/** Distinct values ascending, the form {@link insetInterval} takes. */
export function sortedDistinct(values: readonly number[]): number[] {
  return [...new Set(values)].sort((a, b) => a - b);
}

/** Interval of an integer node over a box pair (reference interpreter). */
export function intervalOf(e: IntExpr, q: CoordBox, k: CoordBox): Interval {
  switch (e.op) {
    case 'const':
      return [e.value, e.value];
    case 'coord': {
      const box = e.side === 'q' ? q : k;
      return [box.lo[e.axis] ?? 0, box.hi[e.axis] ?? 0];
    }
    case 'neg': {
      const [lo, hi] = intervalOf(e.a, q, k);
      return [-hi, -lo];
    }
    case 'abs': {
      const [lo, hi] = intervalOf(e.a, q, k);
      if (lo >= 0) return [lo, hi];
      if (hi <= 0) return [-hi, -lo];
      return [0, Math.max(-lo, hi)];
    }
    case 'log2':
    case 'pow2': {
      // Monotone non-decreasing (the IR's fallbacks below the domain keep it so): bounds map to bounds.
      const [lo, hi] = intervalOf(e.a, q, k);
      return [applyIntPower(e.op, lo), applyIntPower(e.op, hi)];
    }
    case 'select': {
      const cond = triOf(e.cond, q, k);
      const a = intervalOf(e.a, q, k);
      const b = intervalOf(e.b, q, k);
      if (cond === TRUE) return a;
      if (cond === FALSE) return b;
      return [Math.min(a[0], b[0]), Math.max(a[1], b[1])];
    }
    default: {
      const [alo, ahi] = intervalOf(e.a, q, k);
      const [blo, bhi] = intervalOf(e.b, q, k);
      const out = [0, 0];
      switch (e.op) {
        case 'add':
          return [alo + blo, ahi + bhi];
        case 'sub':
          return [alo - bhi, ahi - blo];
        case 'mul': {
          const c = [alo * blo, alo * bhi, ahi * blo, ahi * bhi];
          return [Math.min(...c), Math.max(...c)];
        }
        case 'div':
          divInterval(alo, ahi, blo, bhi, out);
          return [out[0]!, out[1]!];
        case 'mod':
          modInterval(alo, ahi, blo, bhi, out);
          return [out[0]!, out[1]!];
        case 'min':
          return [Math.min(alo, blo), Math.min(ahi, bhi)];
        case 'max':
          return [Math.max(alo, blo), Math.max(ahi, bhi)];
      }
    }
  }
}

/** Tri-state of the predicate over a box pair (reference interpreter; Kleene logic for and/or/not). */
export function triOf(e: BoolExpr, q: CoordBox, k: CoordBox): Tri {
  switch (e.op) {
    case 'bool':
      return e.value ? TRUE : FALSE;
    case 'cmp': {
      const [alo, ahi] = intervalOf(e.a, q, k);
      const [blo, bhi] = intervalOf(e.b, q, k);
      return compareInterval(e.cmp, alo, ahi, blo, bhi);
    }
    case 'and': {
      let result: Tri = TRUE;
      for (const arg of e.args) {
        const t = triOf(arg, q, k);
        if (t === FALSE) return FALSE;
        if (t === UNKNOWN) result = UNKNOWN;
      }
      return result;
    }
    case 'or': {
      let result: Tri = FALSE;
      for (const arg of e.args) {
        const t = triOf(arg, q, k);
        if (t === TRUE) return TRUE;
        if (t === UNKNOWN) result = UNKNOWN;
      }
      return result;
    }
    case 'not': {
      const t = triOf(e.a, q, k);
      return t === UNKNOWN ? UNKNOWN : t === TRUE ? FALSE : TRUE;
    }
    case 'segment':
      return (e.side === 'q' ? q : k).segment === e.segment ? TRUE : FALSE;
    case 'inset': {
      const [lo, hi] = intervalOf(e.a, q, k);
      return insetInterval(lo, hi, sortedDistinct(e.values));
    }
  }
}
