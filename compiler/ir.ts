/**
 * The pattern IR: a boolean predicate over the coordinates of a query token and a key token, with every
 * parameter, layout size, `let` and `fn` already substituted and folded. It is the single meaning of a
 * pattern: the block classifier, the closed-form recogniser, the CPU oracle and every kernel generator read
 * it, and {@link evalBool} is its reference semantics.
 *
 * Coordinates are numbered by the concrete layout (see `layout.ts`): video axes first (frame axis = 0), the
 * text axis last. A coordinate is only defined on tokens of its own segment; the language's three-valued rule
 * (a comparison that reads an undefined coordinate is unknown, see compiler/lower/kleene.ts) is compiled
 * into `segment` tests around those comparisons, so the IR itself is two-valued and evaluating an axis of
 * the wrong segment never decides the result.
 *
 * Integer semantics (all targets must match): 32-bit signed range is enough for every folded value (checked
 * at lowering); `/` and `%` floor (Python semantics: `-7 / 2 == -4`, `-7 % 2 == 1`); dividing by zero gives 0
 * for both `/` and `%` (documented in the README; lowering warns, TP315, when a divisor can be 0); `log2(x)` is
 * floor(log2(x)) for x >= 1 and 0 below, `pow2(x)` is 2^x for x >= 0 and 0 below (lowering rejects arguments
 * outside those domains, TP317/TP318, so the fallbacks only keep every target total and both functions monotone,
 * which their interval rules rely on).
 */

/** Query or key side of the attention map. */
export type Side = 'q' | 'k';

/** Integer-valued IR. */
export type IntExpr =
  | { readonly op: 'const'; readonly value: number }
  | { readonly op: 'coord'; readonly side: Side; readonly axis: number }
  | { readonly op: 'neg'; readonly a: IntExpr }
  | { readonly op: 'abs'; readonly a: IntExpr }
  | { readonly op: IntPowerOp; readonly a: IntExpr }
  | {
      readonly op: 'add' | 'sub' | 'mul' | 'div' | 'mod' | 'min' | 'max';
      readonly a: IntExpr;
      readonly b: IntExpr;
    }
  | { readonly op: 'select'; readonly cond: BoolExpr; readonly a: IntExpr; readonly b: IntExpr };

/** Comparison operators. */
export type CmpOp = 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge';

/** Which segment a token belongs to (padding tokens belong to none and are handled by the layout). */
export type Segment = 'video' | 'text';

/** Boolean-valued IR. */
export type BoolExpr =
  | { readonly op: 'bool'; readonly value: boolean }
  | { readonly op: 'cmp'; readonly cmp: CmpOp; readonly a: IntExpr; readonly b: IntExpr }
  | { readonly op: 'and' | 'or'; readonly args: readonly BoolExpr[] }
  | { readonly op: 'not'; readonly a: BoolExpr }
  | { readonly op: 'segment'; readonly side: Side; readonly segment: Segment }
  | { readonly op: 'inset'; readonly a: IntExpr; readonly values: readonly number[] };

/** The power-of-two operations: `log2` (floor) and `pow2`, for windows that halve per doubling of a distance. */
export type IntPowerOp = 'log2' | 'pow2';

/** Integer IR node kinds with two operands. */
export type IntBinaryOp = 'add' | 'sub' | 'mul' | 'div' | 'mod' | 'min' | 'max';

/** Coordinates of one token for evaluation: its segment and one value per layout axis. */
export interface TokenCoords {
  readonly segment: Segment;
  readonly coords: ArrayLike<number>;
}

/** Floor division with the IR's divide-by-zero rule. */
export function floorDiv(a: number, b: number): number {
  if (b === 0) return 0;
  return Math.floor(a / b);
}

/** Floor modulo with the IR's divide-by-zero rule. */
export function floorMod(a: number, b: number): number {
  if (b === 0) return 0;
  const r = a % b;
  return r !== 0 && r < 0 !== b < 0 ? r + b : r;
}

/** Floor of log2(x) for x >= 1, and 0 for x < 1: the IR's `log2`. */
export function floorLog2(x: number): number {
  if (x < 1) return 0;
  // Beyond 32 bits (only ever in interval arithmetic on unchecked trees) clz32 would wrap.
  return x < 2 ** 31 ? 31 - Math.clz32(x) : Math.floor(Math.log2(x));
}

/** 2^x for x >= 0, and 0 for x < 0 (the floor of 2^x): the IR's `pow2`. */
export function pow2(x: number): number {
  // A shift in the 32-bit range: `**` goes through the floating-point power, many times slower on the hot path.
  return x < 0 ? 0 : x < 31 ? 1 << x : 2 ** x;
}

/** A power-of-two operation on a value: the one definition evaluation and constant folding share. */
export function applyIntPower(op: IntPowerOp, a: number): number {
  return op === 'log2' ? floorLog2(a) : pow2(a);
}

/** Evaluate an integer expression at one (query, key) pair: the reference semantics. */
export function evalInt(e: IntExpr, q: TokenCoords, k: TokenCoords): number {
  switch (e.op) {
    case 'const':
      return e.value;
    case 'coord':
      return (e.side === 'q' ? q : k).coords[e.axis] ?? 0;
    case 'neg':
      return -evalInt(e.a, q, k);
    case 'abs':
      return Math.abs(evalInt(e.a, q, k));
    case 'log2':
    case 'pow2':
      return applyIntPower(e.op, evalInt(e.a, q, k));
    case 'select':
      return evalBool(e.cond, q, k) ? evalInt(e.a, q, k) : evalInt(e.b, q, k);
    default:
      return applyIntBinary(e.op, evalInt(e.a, q, k), evalInt(e.b, q, k));
  }
}

/** A two-operand integer operation on values: the one definition evaluation and constant folding share. */
export function applyIntBinary(op: IntBinaryOp, a: number, b: number): number {
  switch (op) {
    case 'add':
      return a + b;
    case 'sub':
      return a - b;
    case 'mul':
      return a * b;
    case 'div':
      return floorDiv(a, b);
    case 'mod':
      return floorMod(a, b);
    case 'min':
      return Math.min(a, b);
    case 'max':
      return Math.max(a, b);
  }
}

/** Compare two integers with an IR comparison operator. */
export function compare(cmp: CmpOp, a: number, b: number): boolean {
  switch (cmp) {
    case 'eq':
      return a === b;
    case 'ne':
      return a !== b;
    case 'lt':
      return a < b;
    case 'le':
      return a <= b;
    case 'gt':
      return a > b;
    case 'ge':
      return a >= b;
  }
}

/** Evaluate a predicate at one (query, key) pair: the reference semantics. */
export function evalBool(e: BoolExpr, q: TokenCoords, k: TokenCoords): boolean {
  switch (e.op) {
    case 'bool':
      return e.value;
    case 'cmp':
      return compare(e.cmp, evalInt(e.a, q, k), evalInt(e.b, q, k));
    case 'and':
      return e.args.every((x) => evalBool(x, q, k));
    case 'or':
      return e.args.some((x) => evalBool(x, q, k));
    case 'not':
      return !evalBool(e.a, q, k);
    case 'segment':
      return (e.side === 'q' ? q : k).segment === e.segment;
    case 'inset': {
      const v = evalInt(e.a, q, k);
      return e.values.includes(v);
    }
  }
}

/** Where a pattern is declared in the user's source, so diagnostics about its kernels can point there. */
export interface PatternDeclaration {
  /** The source name the pattern was compiled from (the `.tile` path, as `SourceFile.name`). */
  readonly file: string;
  /** The declaration's head, from `pattern` to the pattern's name (one line, so a caret fits under it). */
  readonly range: import('../dsl/source.js').SourceRange;
}

/** A compiled pattern instance: its identity, the layout it is defined on, and its predicate. */
export interface PatternInstance {
  /** Identity used in caches, symbols and messages, e.g. `attention_tile_a2_t8x45x80`. */
  readonly key: string;
  /** The pattern's declared name, e.g. `attention_tile`. */
  readonly name: string;
  /** Parameter values after defaults and `--set`. */
  readonly params: Readonly<Record<string, number | boolean>>;
  /** The layout with every size bound. */
  readonly layout: import('./layout.js').ConcreteLayout;
  /** allowed(q, k) on real (non-padding) tokens. */
  readonly predicate: BoolExpr;
  /**
   * The pattern declaration this instance was lowered from; absent for instances built without a source
   * (e.g. dense plans, hand-made fixtures). Not part of the identity: caches and kernels ignore it.
   */
  readonly declaration?: PatternDeclaration;
}
