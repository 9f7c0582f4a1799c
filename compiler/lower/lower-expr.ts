/**
 * Lowering expressions to the pattern IR: names are substituted (parameters, sizes, `let`s), helpers are
 * inlined, built-ins are expanded (`clamp(x, lo, hi)` = `min(max(x, lo), hi)`, `ceildiv(a, b)` =
 * `-floordiv(-a, b)`, `x in lo..hi` = `lo <= x && x < hi`), comparisons get their segment guards, and
 * everything is folded as it is built. Booleans are three-valued: a comparison that reads a coordinate its
 * token does not have is unknown (kleene.ts). Every integer an expression can produce is bounded and must fit
 * in 32 bits (TP310). A divisor that folds to 0 is an error (TP309), since it is always a mistake; one whose
 * range includes 0 is a warning (TP315), as `x / 0` and `x % 0` are 0 (ir.ts). A `!` whose operand can be
 * unknown gets a note (TP316).
 */
import type { BinaryExpr, CallExpr, Expr, LetDecl } from '../../dsl/ast.js';
import { type Diagnostic, type DiagnosticCode, TesseraError } from '../../dsl/diagnostics.js';
import type { SourceRange } from '../../dsl/source.js';
import {
  constBool,
  constInt,
  coord,
  makeAbs,
  makeBinary,
  makeCmp,
  makeInset,
  makeNeg,
  makePower,
  makeSelect,
} from '../fold.js';
import type { BoolExpr, CmpOp, IntExpr } from '../ir.js';
import { fitsInt32, type Interval, intervalOf } from './bounds.js';
import { boolValue, Env, intValue, truthValue, type Value } from './env.js';
import { type SegmentMap, segmentTest } from './guards.js';
import {
  andValues,
  coordDefinedness,
  type Definedness,
  guardedAtom,
  ifValues,
  joinDefinedness,
  notValue,
  orValues,
  sameValues,
  selectDefinedness,
  TOTAL,
  type TruthPair,
} from './kleene.js';

/** What the lowerer knows about the concrete layout. */
export interface LowerTarget extends SegmentMap {
  /** Coordinate index of each axis name (video axes, then the text axis). */
  readonly axisIndex: ReadonlyMap<string, number>;
  /** Range of each coordinate, by index. */
  readonly coordBounds: readonly Interval[];
  readonly layoutName: string;
}

const CMP: Readonly<Record<string, CmpOp>> = {
  '==': 'eq',
  '!=': 'ne',
  '<': 'lt',
  '<=': 'le',
  '>': 'gt',
  '>=': 'ge',
};
const ARITH = { '+': 'add', '-': 'sub', '*': 'mul', '/': 'div', '%': 'mod' } as const;

/** A lowered integer with where it is defined. */
interface IntValue {
  readonly ir: IntExpr;
  readonly def: Definedness;
}

/** Lowers the expressions of one pattern instance. */
export class Lowerer {
  private readonly memo = new WeakMap<IntExpr, Interval>();
  /** Integer nodes already proven to stay in range (a value may be shared by many expressions). */
  private readonly verified = new WeakSet<IntExpr>();
  /** The helper calls being inlined, outermost first, to say where an error inside a helper came from. */
  private readonly calls: CallExpr[] = [];
  /** Warnings and notes found while lowering (each source range once), for the caller to show. */
  readonly notes: Diagnostic[] = [];

  constructor(
    private readonly fileName: string,
    private readonly target: LowerTarget,
  ) {}

  /** A TesseraError for one diagnostic at `range`. */
  fail(code: DiagnosticCode, range: SourceRange, message: string, hint?: string): never {
    const via = this.calls
      .map((c) => `\`${c.callee.name}\` called at ${c.range.start.line}:${c.range.start.column}`)
      .join(', ');
    const fullHint = [hint, via ? `inlined from ${via}` : ''].filter(Boolean).join('; ');
    const d: Diagnostic = {
      code,
      severity: 'error',
      message,
      range,
      file: this.fileName,
      ...(fullHint ? { hint: fullHint } : {}),
    };
    throw new TesseraError([d]);
  }

  /** Lower `e` and require an integer. */
  int(e: Expr, env: Env): IntExpr {
    return this.intValue(e, env).ir;
  }

  /** Lower `e` and require a boolean: where it is true (unknown counts as not true, as in a rule). */
  bool(e: Expr, env: Env): BoolExpr {
    return this.truth(e, env).ir;
  }

  private intValue(e: Expr, env: Env): IntValue {
    const v = this.lower(e, env);
    if (v.type !== 'int') this.fail('TP206', e.range, 'expected `int`, found `bool`');
    return { ir: v.ir, def: v.def ?? TOTAL };
  }

  private truth(e: Expr, env: Env): TruthPair {
    const v = this.lower(e, env);
    if (v.type !== 'bool') this.fail('TP207', e.range, 'expected `bool`, found `int`');
    return v;
  }

  /** Lower `e`; integer results are checked against the 32-bit range. */
  lower(e: Expr, env: Env): Value {
    const v = this.lowerUnchecked(e, env);
    const bounds = v.type === 'int' ? this.firstOutOfRange(v.ir) : null;
    if (bounds) {
      const shown =
        bounds.lo === bounds.hi ? `the value ${bounds.lo}` : `values in ${bounds.lo}..=${bounds.hi}`;
      this.fail(
        'TP310',
        e.range,
        `this expression can produce ${shown}, outside the signed 32-bit range`,
        'kernels compute in 32-bit integers; reduce the parameters or sizes, or reorder the arithmetic',
      );
    }
    return v;
  }

  /** Bounds of the first node of `e` (itself or an intermediate such as `-a` in `ceildiv`) outside 32 bits. */
  private firstOutOfRange(e: IntExpr): Interval | null {
    if (this.verified.has(e)) return null;
    const bounds = intervalOf(e, this.target.coordBounds, this.memo);
    if (!fitsInt32(bounds)) return bounds;
    const parts = e.op === 'const' || e.op === 'coord' ? [] : 'b' in e ? [e.a, e.b] : [e.a];
    for (const p of parts) {
      const bad = this.firstOutOfRange(p);
      if (bad) return bad;
    }
    this.verified.add(e);
    return null;
  }

  private lowerUnchecked(e: Expr, env: Env): Value {
    switch (e.kind) {
      case 'IntLiteral':
        return intValue(constInt(e.value));
      case 'BoolLiteral':
        return boolValue(constBool(e.value));
      case 'ParenExpr':
        return this.lower(e.inner, env);
      case 'NameRef':
        return this.name(e.name.name, e.range, env);
      case 'CoordRef': {
        const index = this.target.axisIndex.get(e.axis.name);
        if (index === undefined) {
          this.fail(
            'TP311',
            e.axis.range,
            `\`${e.axis.name}\` is not an axis of layout \`${this.target.layoutName}\``,
            `its axes are ${[...this.target.axisIndex.keys()].map((a) => `\`${a}\``).join(', ')}`,
          );
        }
        return intValue(
          coord(e.side, index),
          coordDefinedness(e.side, this.target.axisSegment[index] ?? 'video', this.target),
        );
      }
      case 'SegmentTest':
        return boolValue(segmentTest(e.side, e.segment, this.target));
      case 'UnaryExpr': {
        if (e.op !== '-') {
          const operand = this.truth(e.operand, env);
          if (operand.no !== undefined) this.noteUnknownNegation(e.range);
          return truthValue(notValue(operand));
        }
        const a = this.intValue(e.operand, env);
        return intValue(makeNeg(a.ir), a.def);
      }
      case 'BinaryExpr':
        return this.binary(e, env);
      case 'CallExpr':
        return this.call(e, env);
      case 'IfExpr': {
        const c = this.truth(e.condition, env);
        const a = this.lower(e.then, env);
        const b = this.lower(e.otherwise, env);
        if (a.type === 'int' && b.type === 'int')
          return intValue(makeSelect(c.ir, a.ir, b.ir), selectDefinedness(c, a.def ?? TOTAL, b.def ?? TOTAL));
        if (a.type === 'bool' && b.type === 'bool') return truthValue(ifValues(c, a, b));
        return this.fail('TP208', e.range, 'the branches of `if` have different types');
      }
      case 'RangeTest': {
        const x = this.intValue(e.value, env);
        const lo = this.intValue(e.low, env);
        const hi = this.intValue(e.high, env);
        return truthValue(
          andValues([this.compare('le', lo, x), this.compare(e.inclusive ? 'le' : 'lt', x, hi)]),
        );
      }
      case 'SetTest': {
        const x = this.intValue(e.value, env);
        const members = e.members.map((m) => this.intValue(m, env));
        if (members.every((m) => m.ir.op === 'const' && m.def === TOTAL)) {
          const values = members.map((m) => (m.ir as { value: number }).value);
          return truthValue(guardedAtom(makeInset(x.ir, values), x.def));
        }
        return truthValue(orValues(members.map((m) => this.compare('eq', x, m))));
      }
    }
  }

  /** A comparison: unknown where an operand is undefined. */
  private compare(cmp: CmpOp, a: IntValue, b: IntValue): TruthPair {
    return guardedAtom(makeCmp(cmp, a.ir, b.ir), joinDefinedness([a.def, b.def]));
  }

  private name(name: string, range: SourceRange, env: Env): Value {
    const b = env.get(name);
    if (!b) return this.fail('TP202', range, `unknown name \`${name}\``);
    if (b.kind === 'value') return b.value;
    if (b.kind === 'fn') return this.fail('TP202', range, `\`${name}\` is a helper, not a value`);
    if (b.memo) return b.memo;
    if (b.busy) return this.fail('TP209', b.decl.name.range, `\`${name}\` depends on itself`);
    b.busy = true;
    let value: Value;
    try {
      value = this.lower(b.decl.value, b.env);
    } finally {
      b.busy = false;
    }
    b.memo = value;
    return value;
  }

  /**
   * Lower the `let`s among `items` in declaration order, so that a long chain (`let x2 = x1 + 1`, ...) is
   * lowered one link at a time instead of recursively from its far end. A `let` that fails is left for its
   * first use to report, as lazy lowering would.
   */
  prewarmLets(items: readonly { readonly kind: string }[], env: Env): void {
    for (const item of items) {
      if (item.kind !== 'LetDecl') continue;
      const decl = item as LetDecl;
      try {
        this.name(decl.name.name, decl.name.range, env);
      } catch (error) {
        if (!(error instanceof TesseraError)) throw error;
      }
    }
  }

  private divisor(e: Expr, env: Env, what: string): IntValue {
    const d = this.intValue(e, env);
    if (d.ir.op === 'const' && d.ir.value === 0) {
      this.fail(
        'TP309',
        e.range,
        `${what} by zero`,
        'the divisor is always 0 with these parameters and sizes',
      );
    }
    const range = intervalOf(d.ir, this.target.coordBounds, this.memo);
    if (range.lo <= 0 && range.hi >= 0) this.warnZeroDivisor(e.range, what, range);
    return d;
  }

  private warnZeroDivisor(range: SourceRange, what: string, values: Interval): void {
    this.note({
      code: 'TP315',
      severity: 'warning',
      message: `this divisor can be 0 (its values lie in ${values.lo}..=${values.hi} on layout \`${this.target.layoutName}\`)`,
      range,
      file: this.fileName,
      hint: `${what} by 0 gives 0 in tessera; if that is not meant, keep the divisor away from 0 (e.g. \`max(d, 1)\`)`,
    });
  }

  /** Record a warning or note once per source position (a helper inlined twice lowers its body twice). */
  private note(d: Diagnostic): void {
    const at = (x: Diagnostic) => `${x.code}:${x.range.start.offset}`;
    if (!this.notes.some((n) => at(n) === at(d))) this.notes.push(d);
  }

  /** `!c` where `c` can be unknown: say that the negation is unknown there too, not true. */
  private noteUnknownNegation(range: SourceRange): void {
    this.note({
      code: 'TP316',
      severity: 'info',
      message:
        'this negation reads an axis that some tokens lack (text tokens have no video axes, video tokens no text axis); where its operand is unknown, so is the negation, and a rule using it does not apply there',
      range,
      file: this.fileName,
      hint: 'to include those tokens, say so: e.g. `q in text || k in text || !(q.t == k.t)`',
    });
  }

  /** `a op b` on integers, defined where both operands are. */
  private arith(op: 'add' | 'sub' | 'mul' | 'div' | 'mod' | 'min' | 'max', a: IntValue, b: IntValue): Value {
    return intValue(makeBinary(op, a.ir, b.ir), joinDefinedness([a.def, b.def]));
  }

  /**
   * `log2(x)` (floor) or `pow2(x)`, with x proved inside the domain over the whole layout: log2 needs x >= 1,
   * pow2 needs 0 <= x <= 30. The bound is the interval of x over every token pair, so a guard elsewhere in the
   * pattern does not narrow it; clamping the argument (`max(x, 1)`, `clamp(x, 0, 30)`) does.
   */
  private power(op: 'log2' | 'pow2', e: Expr, env: Env): Value {
    const x = this.intValue(e, env);
    const { lo, hi } = intervalOf(x.ir, this.target.coordBounds, this.memo);
    const shown = lo === hi ? `the value ${lo}` : `values in ${lo}..=${hi}`;
    if (op === 'log2' && lo < 1) {
      this.fail(
        'TP317',
        e.range,
        `the argument of \`log2\` can be ${lo}; log2 is defined for values >= 1`,
        `this argument takes ${shown} on this layout; write \`log2(max(x, 1))\` if 0 should count as 1`,
      );
    }
    if (op === 'pow2' && (lo < 0 || hi > 30)) {
      this.fail(
        'TP318',
        e.range,
        `the argument of \`pow2\` can be ${lo < 0 ? lo : hi}; pow2 takes exponents from 0 to 30`,
        `this argument takes ${shown} on this layout; clamp it, e.g. \`pow2(clamp(x, 0, 30))\``,
      );
    }
    return intValue(makePower(op, x.ir), x.def);
  }

  private binary(e: BinaryExpr, env: Env): Value {
    switch (e.op) {
      case '&&':
        return truthValue(andValues([this.truth(e.left, env), this.truth(e.right, env)]));
      case '||':
        return truthValue(orValues([this.truth(e.left, env), this.truth(e.right, env)]));
      case '+':
      case '-':
      case '*':
        return this.arith(ARITH[e.op], this.intValue(e.left, env), this.intValue(e.right, env));
      case '/':
      case '%': {
        const a = this.intValue(e.left, env);
        return this.arith(
          ARITH[e.op],
          a,
          this.divisor(e.right, env, e.op === '/' ? 'division' : 'remainder'),
        );
      }
      default: {
        const left = this.lower(e.left, env);
        const right = this.lower(e.right, env);
        if (left.type === 'int' && right.type === 'int')
          return truthValue(
            this.compare(
              CMP[e.op]!,
              { ir: left.ir, def: left.def ?? TOTAL },
              { ir: right.ir, def: right.def ?? TOTAL },
            ),
          );
        if (left.type === 'bool' && right.type === 'bool' && (e.op === '==' || e.op === '!=')) {
          const same = sameValues(left, right);
          return truthValue(e.op === '==' ? same : notValue(same));
        }
        return this.fail(
          'TP206',
          e.range,
          `\`${e.op}\` cannot compare \`${left.type}\` with \`${right.type}\``,
        );
      }
    }
  }

  private call(e: CallExpr, env: Env): Value {
    const name = e.callee.name;
    const arg = (i: number) => e.args[i]!;
    const arity = (n: number) => {
      if (e.args.length !== n)
        this.fail('TP205', e.range, `\`${name}\` takes ${n} arguments, not ${e.args.length}`);
    };
    const binding = env.get(name);
    if (binding?.kind === 'fn') {
      const params = binding.decl.params;
      arity(params.length);
      const inner = new Env(binding.env);
      for (const [i, p] of params.entries())
        inner.set(p.name.name, { kind: 'value', value: this.lower(arg(i), env) });
      this.calls.push(e);
      const value = this.lower(binding.decl.body, inner);
      this.calls.pop();
      return value;
    }
    switch (name) {
      case 'min':
      case 'max':
        arity(2);
        return this.arith(name, this.intValue(arg(0), env), this.intValue(arg(1), env));
      case 'abs': {
        arity(1);
        const a = this.intValue(arg(0), env);
        return intValue(makeAbs(a.ir), a.def);
      }
      case 'clamp': {
        arity(3);
        const x = this.intValue(arg(0), env);
        const lo = this.intValue(arg(1), env);
        const hi = this.intValue(arg(2), env);
        return intValue(
          makeBinary('min', makeBinary('max', x.ir, lo.ir), hi.ir),
          joinDefinedness([x.def, lo.def, hi.def]),
        );
      }
      case 'log2':
      case 'pow2':
        arity(1);
        return this.power(name, arg(0), env);
      case 'floordiv':
        arity(2);
        return this.arith('div', this.intValue(arg(0), env), this.divisor(arg(1), env, 'division'));
      case 'ceildiv': {
        arity(2);
        const a = this.intValue(arg(0), env);
        const b = this.divisor(arg(1), env, 'division');
        return intValue(makeNeg(makeBinary('div', makeNeg(a.ir), b.ir)), joinDefinedness([a.def, b.def]));
      }
      default:
        return this.fail('TP203', e.callee.range, `unknown function \`${name}\``);
    }
  }
}
