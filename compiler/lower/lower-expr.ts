/**
 * Lowering expressions to the pattern IR: names are substituted (parameters, sizes, `let`s), helpers are
 * inlined, built-ins are expanded (`clamp(x, lo, hi)` = `min(max(x, lo), hi)`, `ceildiv(a, b)` =
 * `-floordiv(-a, b)`, `x in lo..hi` = `lo <= x && x < hi`), comparisons get their segment guards, and
 * everything is folded as it is built. Every integer an expression can produce is bounded and must fit in
 * 32 bits (TP310); a divisor that folds to 0 is an error (TP309), since it is always a mistake.
 */
import type { BinaryExpr, CallExpr, Expr, LetDecl } from '../../dsl/ast.js';
import { type Diagnostic, type DiagnosticCode, TesseraError } from '../../dsl/diagnostics.js';
import type { SourceRange } from '../../dsl/source.js';
import {
  constBool,
  constInt,
  coord,
  makeAbs,
  makeAnd,
  makeBinary,
  makeCmp,
  makeInset,
  makeNeg,
  makeNot,
  makeOr,
  makePower,
  makeSelect,
} from '../fold.js';
import type { BoolExpr, CmpOp, IntExpr } from '../ir.js';
import { fitsInt32, type Interval, intervalOf } from './bounds.js';
import { boolValue, Env, intValue, type Value } from './env.js';
import { guardAtom, type SegmentMap, segmentTest } from './guards.js';

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

/** Lowers the expressions of one pattern instance. */
export class Lowerer {
  private readonly memo = new WeakMap<IntExpr, Interval>();
  /** Integer nodes already proven to stay in range (a value may be shared by many expressions). */
  private readonly verified = new WeakSet<IntExpr>();
  /** The helper calls being inlined, outermost first, to say where an error inside a helper came from. */
  private readonly calls: CallExpr[] = [];

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
    const v = this.lower(e, env);
    if (v.type !== 'int') this.fail('TP206', e.range, 'expected `int`, found `bool`');
    return v.ir;
  }

  /** Lower `e` and require a boolean. */
  bool(e: Expr, env: Env): BoolExpr {
    const v = this.lower(e, env);
    if (v.type !== 'bool') this.fail('TP207', e.range, 'expected `bool`, found `int`');
    return v.ir;
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
        return intValue(coord(e.side, index));
      }
      case 'SegmentTest':
        return boolValue(segmentTest(e.side, e.segment, this.target));
      case 'UnaryExpr':
        return e.op === '-'
          ? intValue(makeNeg(this.int(e.operand, env)))
          : boolValue(makeNot(this.bool(e.operand, env)));
      case 'BinaryExpr':
        return this.binary(e, env);
      case 'CallExpr':
        return this.call(e, env);
      case 'IfExpr': {
        const c = this.bool(e.condition, env);
        const a = this.lower(e.then, env);
        const b = this.lower(e.otherwise, env);
        if (a.type === 'int' && b.type === 'int') return intValue(makeSelect(c, a.ir, b.ir));
        if (a.type === 'bool' && b.type === 'bool')
          return boolValue(makeOr([makeAnd([c, a.ir]), makeAnd([makeNot(c), b.ir])]));
        return this.fail('TP208', e.range, 'the branches of `if` have different types');
      }
      case 'RangeTest': {
        const x = this.int(e.value, env);
        const lo = this.int(e.low, env);
        const hi = this.int(e.high, env);
        return boolValue(
          makeAnd([this.compare('le', lo, x), this.compare(e.inclusive ? 'le' : 'lt', x, hi)]),
        );
      }
      case 'SetTest': {
        const x = this.int(e.value, env);
        const members = e.members.map((m) => this.int(m, env));
        if (members.every((m) => m.op === 'const')) {
          const values = members.map((m) => (m as { value: number }).value);
          return boolValue(guardAtom(makeInset(x, values), [x], this.target));
        }
        return boolValue(makeOr(members.map((m) => this.compare('eq', x, m))));
      }
    }
  }

  /** A guarded comparison atom. */
  private compare(cmp: CmpOp, a: IntExpr, b: IntExpr): BoolExpr {
    return guardAtom(makeCmp(cmp, a, b), [a, b], this.target);
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

  private divisor(e: Expr, env: Env, what: string): IntExpr {
    const d = this.int(e, env);
    if (d.op === 'const' && d.value === 0) {
      this.fail(
        'TP309',
        e.range,
        `${what} by zero`,
        'the divisor is always 0 with these parameters and sizes',
      );
    }
    return d;
  }

  /**
   * `log2(x)` (floor) or `pow2(x)`, with x proved inside the domain over the whole layout: log2 needs x >= 1,
   * pow2 needs 0 <= x <= 30. The bound is the interval of x over every token pair, so a guard elsewhere in the
   * pattern does not narrow it; clamping the argument (`max(x, 1)`, `clamp(x, 0, 30)`) does.
   */
  private power(op: 'log2' | 'pow2', e: Expr, env: Env): IntExpr {
    const x = this.int(e, env);
    const { lo, hi } = intervalOf(x, this.target.coordBounds, this.memo);
    const shown = lo === hi ? `the value ${lo}` : `values in ${lo}..=${hi}`;
    if (op === 'log2' && lo < 1) {
      this.fail(
        'TP315',
        e.range,
        `the argument of \`log2\` can be ${lo}; log2 is defined for values >= 1`,
        `this argument takes ${shown} on this layout; write \`log2(max(x, 1))\` if 0 should count as 1`,
      );
    }
    if (op === 'pow2' && (lo < 0 || hi > 30)) {
      this.fail(
        'TP316',
        e.range,
        `the argument of \`pow2\` can be ${lo < 0 ? lo : hi}; pow2 takes exponents from 0 to 30`,
        `this argument takes ${shown} on this layout; clamp it, e.g. \`pow2(clamp(x, 0, 30))\``,
      );
    }
    return makePower(op, x);
  }

  private binary(e: BinaryExpr, env: Env): Value {
    switch (e.op) {
      case '&&':
        return boolValue(makeAnd([this.bool(e.left, env), this.bool(e.right, env)]));
      case '||':
        return boolValue(makeOr([this.bool(e.left, env), this.bool(e.right, env)]));
      case '+':
      case '-':
      case '*':
        return intValue(makeBinary(ARITH[e.op], this.int(e.left, env), this.int(e.right, env)));
      case '/':
      case '%': {
        const a = this.int(e.left, env);
        return intValue(
          makeBinary(ARITH[e.op], a, this.divisor(e.right, env, e.op === '/' ? 'division' : 'remainder')),
        );
      }
      default: {
        const left = this.lower(e.left, env);
        const right = this.lower(e.right, env);
        if (left.type === 'int' && right.type === 'int')
          return boolValue(this.compare(CMP[e.op]!, left.ir, right.ir));
        if (left.type === 'bool' && right.type === 'bool' && (e.op === '==' || e.op === '!=')) {
          const same = makeOr([makeAnd([left.ir, right.ir]), makeAnd([makeNot(left.ir), makeNot(right.ir)])]);
          return boolValue(e.op === '==' ? same : makeNot(same));
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
        return intValue(makeBinary(name, this.int(arg(0), env), this.int(arg(1), env)));
      case 'abs':
        arity(1);
        return intValue(makeAbs(this.int(arg(0), env)));
      case 'clamp': {
        arity(3);
        const x = this.int(arg(0), env);
        const lo = this.int(arg(1), env);
        const hi = this.int(arg(2), env);
        return intValue(makeBinary('min', makeBinary('max', x, lo), hi));
      }
      case 'log2':
      case 'pow2':
        arity(1);
        return intValue(this.power(name, arg(0), env));
      case 'floordiv':
        arity(2);
        return intValue(makeBinary('div', this.int(arg(0), env), this.divisor(arg(1), env, 'division')));
      case 'ceildiv': {
        arity(2);
        const a = this.int(arg(0), env);
        const b = this.divisor(arg(1), env, 'division');
        return intValue(makeNeg(makeBinary('div', makeNeg(a), b)));
      }
      default:
        return this.fail('TP203', e.callee.range, `unknown function \`${name}\``);
    }
  }
}
