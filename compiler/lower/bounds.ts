/**
 * Interval bounds of integer IR, given the range of every coordinate. Lowering uses them to prove that no
 * value a predicate can compute leaves the signed 32-bit range every target computes in.
 */
import { applyIntPower, type IntExpr } from '../ir.js';

/** A closed interval of integers. */
export interface Interval {
  readonly lo: number;
  readonly hi: number;
}

/** The signed 32-bit range. */
export const INT32: Interval = { lo: -(2 ** 31), hi: 2 ** 31 - 1 };

/** Whether an interval lies inside the signed 32-bit range. */
export function fitsInt32(i: Interval): boolean {
  return i.lo >= INT32.lo && i.hi <= INT32.hi;
}

function hull(values: readonly number[]): Interval {
  return { lo: Math.min(...values), hi: Math.max(...values) };
}

function divBounds(a: Interval, b: Interval): Interval {
  const values: number[] = [];
  // Division by zero gives 0; on each sign of the divisor the quotient is monotone, so corners bound it.
  if (b.lo <= 0 && b.hi >= 0) values.push(0);
  const parts: [number, number][] = [];
  if (b.lo <= -1) parts.push([b.lo, Math.min(b.hi, -1)]);
  if (b.hi >= 1) parts.push([Math.max(b.lo, 1), b.hi]);
  for (const [lo, hi] of parts)
    for (const d of [lo, hi]) for (const n of [a.lo, a.hi]) values.push(Math.floor(n / d));
  return hull(values);
}

function modBounds(a: Interval, b: Interval): Interval {
  // The result has the divisor's sign and a smaller magnitude; it is 0 when dividing by zero.
  const lo = b.lo < 0 ? b.lo + 1 : 0;
  let hi = b.hi > 0 ? b.hi - 1 : 0;
  if (a.lo >= 0 && b.lo >= 0) hi = Math.min(hi, a.hi);
  return { lo: Math.min(lo, 0), hi: Math.max(hi, 0) };
}

/** Bounds of `e` when coordinate `axis` ranges over `coordBounds[axis]` (on both sides). */
export function intervalOf(
  e: IntExpr,
  coordBounds: readonly Interval[],
  memo = new WeakMap<IntExpr, Interval>(),
): Interval {
  const cached = memo.get(e);
  if (cached) return cached;
  const of = (x: IntExpr) => intervalOf(x, coordBounds, memo);
  let out: Interval;
  switch (e.op) {
    case 'const':
      out = { lo: e.value, hi: e.value };
      break;
    case 'coord':
      out = coordBounds[e.axis] ?? { lo: 0, hi: 0 };
      break;
    case 'neg': {
      const a = of(e.a);
      out = { lo: -a.hi, hi: -a.lo };
      break;
    }
    case 'abs': {
      const a = of(e.a);
      out = a.lo >= 0 ? a : a.hi <= 0 ? { lo: -a.hi, hi: -a.lo } : { lo: 0, hi: Math.max(-a.lo, a.hi) };
      break;
    }
    case 'log2':
    case 'pow2': {
      // Both are monotone (non-decreasing), so the bounds map to bounds.
      const a = of(e.a);
      out = { lo: applyIntPower(e.op, a.lo), hi: applyIntPower(e.op, a.hi) };
      break;
    }
    case 'select': {
      const a = of(e.a);
      const b = of(e.b);
      out = { lo: Math.min(a.lo, b.lo), hi: Math.max(a.hi, b.hi) };
      break;
    }
    default: {
      const a = of(e.a);
      const b = of(e.b);
      switch (e.op) {
        case 'add':
          out = { lo: a.lo + b.lo, hi: a.hi + b.hi };
          break;
        case 'sub':
          out = { lo: a.lo - b.hi, hi: a.hi - b.lo };
          break;
        case 'mul':
          out = hull([a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi]);
          break;
        case 'div':
          out = divBounds(a, b);
          break;
        case 'mod':
          out = modBounds(a, b);
          break;
        case 'min':
          out = { lo: Math.min(a.lo, b.lo), hi: Math.min(a.hi, b.hi) };
          break;
        case 'max':
          out = { lo: Math.max(a.lo, b.lo), hi: Math.max(a.hi, b.hi) };
          break;
      }
    }
  }
  // -0 from negation or products must not leak into bounds compared with Object.is in tests.
  out = { lo: out.lo + 0, hi: out.hi + 0 };
  memo.set(e, out);
  return out;
}
