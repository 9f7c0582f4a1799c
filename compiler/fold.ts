/**
 * Constant folding and local simplification of the pattern IR. Every rewrite is exact under the IR's
 * semantics (`evalInt` / `evalBool` in `ir.ts`, property-tested): constants fold with the same floor division
 * and divide-by-zero rule, identities (`x + 0`, `x * 1`, `x * 0`) drop, `and`/`or` flatten and absorb
 * constants, double negation cancels and a negated comparison flips.
 *
 * The `make*` constructors fold one node whose operands are already folded; lowering builds with them so a
 * predicate is folded as it is built. `foldInt` / `foldBool` fold a whole tree bottom-up.
 */
import {
  applyIntBinary,
  applyIntPower,
  type BoolExpr,
  type CmpOp,
  compare,
  type IntBinaryOp,
  type IntExpr,
  type IntPowerOp,
  type Side,
} from './ir.js';

/** An integer constant (normalising -0 to 0, which JavaScript arithmetic can produce). */
export function constInt(value: number): IntExpr {
  return { op: 'const', value: value === 0 ? 0 : value };
}

/** A boolean constant. */
export function constBool(value: boolean): BoolExpr {
  return { op: 'bool', value };
}

/** A coordinate read. */
export function coord(side: Side, axis: number): IntExpr {
  return { op: 'coord', side, axis };
}

function isConst(e: IntExpr, value?: number): e is { op: 'const'; value: number } {
  return e.op === 'const' && (value === undefined || e.value === value);
}

/** A structural key: equal keys mean equal expressions (used to merge duplicates). */
export function exprKey(e: IntExpr | BoolExpr): string {
  return JSON.stringify(e);
}

/** `op(a, b)` folded, with `a` and `b` already folded. */
export function makeBinary(op: IntBinaryOp, a: IntExpr, b: IntExpr): IntExpr {
  if (isConst(a) && isConst(b)) return constInt(applyIntBinary(op, a.value, b.value));
  switch (op) {
    case 'add':
      if (isConst(b, 0)) return a;
      if (isConst(a, 0)) return b;
      break;
    case 'sub':
      if (isConst(b, 0)) return a;
      if (isConst(a, 0)) return makeNeg(b);
      break;
    case 'mul':
      if (isConst(a, 0) || isConst(b, 0)) return constInt(0);
      if (isConst(b, 1)) return a;
      if (isConst(a, 1)) return b;
      break;
    case 'div':
      if (isConst(b, 1)) return a;
      if (isConst(b, 0) || isConst(a, 0)) return constInt(0);
      break;
    case 'mod':
      if (isConst(b, 1) || isConst(b, -1) || isConst(b, 0) || isConst(a, 0)) return constInt(0);
      break;
    case 'min':
    case 'max':
      if (exprKey(a) === exprKey(b)) return a;
      break;
  }
  return { op, a, b };
}

/** `-a` folded. */
export function makeNeg(a: IntExpr): IntExpr {
  if (isConst(a)) return constInt(-a.value);
  if (a.op === 'neg') return a.a;
  return { op: 'neg', a };
}

/** `abs(a)` folded. */
export function makeAbs(a: IntExpr): IntExpr {
  if (isConst(a)) return constInt(Math.abs(a.value));
  if (a.op === 'abs') return a;
  if (a.op === 'neg') return makeAbs(a.a);
  return { op: 'abs', a };
}

/** `log2(a)` or `pow2(a)` folded: constants evaluate, and each undoes the other on the side where it is exact. */
export function makePower(op: IntPowerOp, a: IntExpr): IntExpr {
  if (isConst(a)) return constInt(applyIntPower(op, a.value));
  // No cancellation: log2(pow2(x)) = x only for x >= 0, and pow2(log2(x)) rounds x down to a power of two.
  return { op, a };
}

/** `cond ? a : b` folded. */
export function makeSelect(cond: BoolExpr, a: IntExpr, b: IntExpr): IntExpr {
  if (cond.op === 'bool') return cond.value ? a : b;
  if (exprKey(a) === exprKey(b)) return a;
  if (cond.op === 'not') return makeSelect(cond.a, b, a);
  return { op: 'select', cond, a, b };
}

const NEGATED: Readonly<Record<CmpOp, CmpOp>> = {
  eq: 'ne',
  ne: 'eq',
  lt: 'ge',
  le: 'gt',
  gt: 'le',
  ge: 'lt',
};

/** `a cmp b` folded. */
export function makeCmp(cmp: CmpOp, a: IntExpr, b: IntExpr): BoolExpr {
  if (isConst(a) && isConst(b)) return constBool(compare(cmp, a.value, b.value));
  return { op: 'cmp', cmp, a, b };
}

/** `a in values` folded. */
export function makeInset(a: IntExpr, values: readonly number[]): BoolExpr {
  if (values.length === 0) return constBool(false);
  if (isConst(a)) return constBool(values.includes(a.value));
  const unique = [...new Set(values)].sort((x, y) => x - y);
  if (unique.length === 1) return makeCmp('eq', a, constInt(unique[0]!));
  return { op: 'inset', a, values: unique };
}

/** `!a` folded: constants, double negation, and comparisons flip (exact on integers). */
export function makeNot(a: BoolExpr): BoolExpr {
  if (a.op === 'bool') return constBool(!a.value);
  if (a.op === 'not') return a.a;
  if (a.op === 'cmp') return { op: 'cmp', cmp: NEGATED[a.cmp], a: a.a, b: a.b };
  return { op: 'not', a };
}

function makeJunction(op: 'and' | 'or', args: readonly BoolExpr[]): BoolExpr {
  const unit = op === 'and'; // true is the unit of `and`, false of `or`
  const out: BoolExpr[] = [];
  const seen = new Set<string>();
  const push = (x: BoolExpr): boolean => {
    if (x.op === op) {
      for (const y of x.args) if (push(y)) return true;
      return false;
    }
    if (x.op === 'bool') return x.value !== unit; // the absorbing element decides the whole junction
    const key = exprKey(x);
    if (!seen.has(key)) {
      seen.add(key);
      out.push(x);
    }
    return false;
  };
  for (const a of args) if (push(a)) return constBool(!unit);
  if (out.length === 0) return constBool(unit);
  if (out.length === 1) return out[0]!;
  return { op, args: out };
}

/** Conjunction folded: flattened, `true` dropped, `false` absorbing, duplicates merged. */
export function makeAnd(args: readonly BoolExpr[]): BoolExpr {
  return makeJunction('and', args);
}

/** Disjunction folded: flattened, `false` dropped, `true` absorbing, duplicates merged. */
export function makeOr(args: readonly BoolExpr[]): BoolExpr {
  return makeJunction('or', args);
}

/** Fold a whole integer expression bottom-up. */
export function foldInt(e: IntExpr): IntExpr {
  switch (e.op) {
    case 'const':
      return constInt(e.value);
    case 'coord':
      return e;
    case 'neg':
      return makeNeg(foldInt(e.a));
    case 'abs':
      return makeAbs(foldInt(e.a));
    case 'log2':
    case 'pow2':
      return makePower(e.op, foldInt(e.a));
    case 'select':
      return makeSelect(foldBool(e.cond), foldInt(e.a), foldInt(e.b));
    default:
      return makeBinary(e.op, foldInt(e.a), foldInt(e.b));
  }
}

/** Fold a whole predicate bottom-up. */
export function foldBool(e: BoolExpr): BoolExpr {
  switch (e.op) {
    case 'bool':
    case 'segment':
      return e;
    case 'cmp':
      return makeCmp(e.cmp, foldInt(e.a), foldInt(e.b));
    case 'inset':
      return makeInset(foldInt(e.a), e.values);
    case 'not':
      return makeNot(foldBool(e.a));
    case 'and':
      return makeAnd(e.args.map(foldBool));
    case 'or':
      return makeOr(e.args.map(foldBool));
  }
}
