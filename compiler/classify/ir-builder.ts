/**
 * Small constructors for pattern IR, so hand-built predicates (reference patterns, tests, benchmarks) read
 * like the formulas they encode instead of nested object literals.
 */
import type { BoolExpr, CmpOp, IntExpr, Segment, Side } from '../ir.js';

/** An integer constant. */
export const int = (value: number): IntExpr => ({ op: 'const', value });
/** Coordinate `axis` of the query token. */
export const qc = (axis: number): IntExpr => ({ op: 'coord', side: 'q', axis });
/** Coordinate `axis` of the key token. */
export const kc = (axis: number): IntExpr => ({ op: 'coord', side: 'k', axis });
/** Coordinate `axis` of either side. */
export const coord = (side: Side, axis: number): IntExpr => ({ op: 'coord', side, axis });

type IntArg = IntExpr | number;
const lift = (x: IntArg): IntExpr => (typeof x === 'number' ? int(x) : x);

/** a + b. */
export const add = (a: IntArg, b: IntArg): IntExpr => ({ op: 'add', a: lift(a), b: lift(b) });
/** a - b. */
export const sub = (a: IntArg, b: IntArg): IntExpr => ({ op: 'sub', a: lift(a), b: lift(b) });
/** a * b. */
export const mul = (a: IntArg, b: IntArg): IntExpr => ({ op: 'mul', a: lift(a), b: lift(b) });
/** Floor division a / b. */
export const div = (a: IntArg, b: IntArg): IntExpr => ({ op: 'div', a: lift(a), b: lift(b) });
/** Floor modulo a % b. */
export const mod = (a: IntArg, b: IntArg): IntExpr => ({ op: 'mod', a: lift(a), b: lift(b) });
/** min(a, b). */
export const min = (a: IntArg, b: IntArg): IntExpr => ({ op: 'min', a: lift(a), b: lift(b) });
/** max(a, b). */
export const max = (a: IntArg, b: IntArg): IntExpr => ({ op: 'max', a: lift(a), b: lift(b) });
/** -a. */
export const neg = (a: IntArg): IntExpr => ({ op: 'neg', a: lift(a) });
/** |a|. */
export const abs = (a: IntArg): IntExpr => ({ op: 'abs', a: lift(a) });
/** cond ? a : b. */
export const select = (cond: BoolExpr, a: IntArg, b: IntArg): IntExpr => ({
  op: 'select',
  cond,
  a: lift(a),
  b: lift(b),
});
/** clamp(x, lo, hi) = min(max(x, lo), hi). */
export const clamp = (x: IntArg, lo: IntArg, hi: IntArg): IntExpr => min(max(x, lo), hi);

const cmp =
  (op: CmpOp) =>
  (a: IntArg, b: IntArg): BoolExpr => ({ op: 'cmp', cmp: op, a: lift(a), b: lift(b) });
/** a == b. */
export const eq = cmp('eq');
/** a != b. */
export const ne = cmp('ne');
/** a < b. */
export const lt = cmp('lt');
/** a <= b. */
export const le = cmp('le');
/** a > b. */
export const gt = cmp('gt');
/** a >= b. */
export const ge = cmp('ge');

/** Conjunction. */
export const and = (...args: BoolExpr[]): BoolExpr => ({ op: 'and', args });
/** Disjunction. */
export const or = (...args: BoolExpr[]): BoolExpr => ({ op: 'or', args });
/** Negation. */
export const not = (a: BoolExpr): BoolExpr => ({ op: 'not', a });
/** A boolean constant. */
export const bool = (value: boolean): BoolExpr => ({ op: 'bool', value });
/** The token on `side` belongs to `segment`. */
export const inSegment = (side: Side, segment: Segment): BoolExpr => ({ op: 'segment', side, segment });
/** a is one of `values`. */
export const inset = (a: IntArg, values: readonly number[]): BoolExpr => ({
  op: 'inset',
  a: lift(a),
  values,
});
