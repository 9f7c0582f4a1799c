/**
 * Three-valued (Kleene) logic, compiled away at lowering. A coordinate is only defined on tokens of its own
 * segment (a text token has no `t`), so a comparison that reads an undefined coordinate is *unknown*: neither
 * it nor its negation holds. `!unknown = unknown`; `&&` and `||` follow Kleene's strong tables; a rule
 * (`attend`, `deny`) applies only where its condition is true.
 *
 * The IR stays two-valued: every boolean value is lowered to the pair (where it is true, where it is false),
 * and `!` swaps the two. The predicate keeps only the "true" half, so every evaluator (classifier, oracle,
 * renderers) applies the rule identically without knowing about it. Values that are never unknown (every
 * value of a text-less layout) keep a single half and lower exactly as in two-valued logic.
 */
import { constBool, makeAnd, makeNot, makeOr } from '../fold.js';
import type { BoolExpr, Segment, Side } from '../ir.js';
import type { SegmentMap } from './guards.js';

/**
 * Where an integer value is defined: the segments its coordinates need (`side:segment` keys), and the
 * conditions that `if`s inside it add (an `if` with an unknown condition has no value).
 */
export interface Definedness {
  readonly reads: ReadonlySet<string>;
  readonly conds: readonly BoolExpr[];
}

/** A boolean value in three-valued logic: `ir` holds where it is true, `no` where it is false. */
export interface TruthPair {
  readonly ir: BoolExpr;
  /** Where the value is false; absent when the value is never unknown (then it is `!ir`). */
  readonly no?: BoolExpr;
}

/** Defined everywhere. */
export const TOTAL: Definedness = { reads: new Set(), conds: [] };

/** The definedness of a coordinate of `side` on an axis of `segment`. */
export function coordDefinedness(side: Side, segment: Segment, map: SegmentMap): Definedness {
  return map.hasText ? { reads: new Set([`${side}:${segment}`]), conds: [] } : TOTAL;
}

/** Defined where all of `parts` are. */
export function joinDefinedness(parts: readonly (Definedness | undefined)[]): Definedness {
  const present = parts.filter((p): p is Definedness => p !== undefined && p !== TOTAL);
  if (present.length === 0) return TOTAL;
  if (present.length === 1) return present[0]!;
  return {
    reads: new Set(present.flatMap((p) => [...p.reads])),
    conds: present.flatMap((p) => p.conds),
  };
}

/** The condition under which a value with definedness `d` is defined (segment guards in a fixed order). */
export function definedWhere(d: Definedness): BoolExpr {
  const guards: BoolExpr[] = [...d.reads].sort().map((key) => {
    const [side, segment] = key.split(':') as [Side, Segment];
    return { op: 'segment', side, segment };
  });
  return makeAnd([...guards, ...d.conds]);
}

/** Where `v` is false. */
export function falseOf(v: TruthPair): BoolExpr {
  return v.no ?? makeNot(v.ir);
}

/** A comparison (or set test) `atom` over operands defined where `d` says: unknown outside it. */
export function guardedAtom(atom: BoolExpr, d: Definedness): TruthPair {
  if (d === TOTAL) return { ir: atom };
  const defined = definedWhere(d);
  if (defined.op === 'bool' && defined.value) return { ir: atom };
  return { ir: makeAnd([defined, atom]), no: makeAnd([defined, makeNot(atom)]) };
}

/** `!v`: true where `v` is false and false where it is true; unknown stays unknown. */
export function notValue(v: TruthPair): TruthPair {
  return v.no === undefined ? { ir: makeNot(v.ir) } : { ir: v.no, no: v.ir };
}

/** Kleene `&&`: false as soon as one operand is false, true when all are. */
export function andValues(vs: readonly TruthPair[]): TruthPair {
  const ir = makeAnd(vs.map((v) => v.ir));
  return vs.every((v) => v.no === undefined) ? { ir } : { ir, no: makeOr(vs.map(falseOf)) };
}

/** Kleene `||`: true as soon as one operand is true, false when all are. */
export function orValues(vs: readonly TruthPair[]): TruthPair {
  const ir = makeOr(vs.map((v) => v.ir));
  return vs.every((v) => v.no === undefined) ? { ir } : { ir, no: makeAnd(vs.map(falseOf)) };
}

/** `if c then a else b` on booleans: unknown when `c` is. */
export function ifValues(c: TruthPair, a: TruthPair, b: TruthPair): TruthPair {
  const cFalse = falseOf(c);
  const ir = makeOr([makeAnd([c.ir, a.ir]), makeAnd([cFalse, b.ir])]);
  if ([c, a, b].every((v) => v.no === undefined)) return { ir };
  return { ir, no: makeOr([makeAnd([c.ir, falseOf(a)]), makeAnd([cFalse, falseOf(b)])]) };
}

/** `a == b` on booleans: unknown when either side is. */
export function sameValues(a: TruthPair, b: TruthPair): TruthPair {
  const aFalse = falseOf(a);
  const bFalse = falseOf(b);
  const ir = makeOr([makeAnd([a.ir, b.ir]), makeAnd([aFalse, bFalse])]);
  if (a.no === undefined && b.no === undefined) return { ir };
  return { ir, no: makeOr([makeAnd([a.ir, bFalse]), makeAnd([aFalse, b.ir])]) };
}

/** The definedness of `if c then a else b` on integers: the chosen branch's, and only where `c` is known. */
export function selectDefinedness(c: TruthPair, a: Definedness, b: Definedness): Definedness {
  if (c.no === undefined && a === TOTAL && b === TOTAL) return TOTAL;
  const where = makeOr([makeAnd([c.ir, definedWhere(a)]), makeAnd([falseOf(c), definedWhere(b)])]);
  return where.op === 'bool' && where.value ? TOTAL : { reads: new Set(), conds: [where] };
}

/** A constant truth value (never unknown). */
export function constTruth(value: boolean): TruthPair {
  return { ir: constBool(value) };
}
