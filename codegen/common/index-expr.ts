/**
 * Index arithmetic of emitted code as a small IR, and the one simplifier every target's text goes through. The
 * token decode (render-mask.ts) and the CUDA key walk build their arithmetic here instead of pasting numbers into
 * strings, so no target prints `i - 0`, `x * 1` or `(unit % 1) * 80`: the builders fold constants and drop
 * identities as they build, and the renderer parenthesises only where precedence needs it.
 *
 * `/` and `%` are the targets' truncating operators: the operands are non-negative wherever these expressions
 * are used (token indices inside the range checks, unit and block numbers), where truncation and the pattern
 * IR's floor semantics agree. The simplifications are the algebraic identities nvcc folds anyway, so the
 * simplified CUDA compiles to the same machine code as the text it replaces.
 */
import type { Dialect } from './dialect.js';

/** An integer expression over named locals. */
export type IndexExpr =
  | { readonly op: 'const'; readonly value: number }
  | { readonly op: 'var'; readonly name: string }
  | { readonly op: 'add' | 'sub' | 'mul' | 'div' | 'mod'; readonly a: IndexExpr; readonly b: IndexExpr };

const isConst = (e: IndexExpr, value?: number): e is { op: 'const'; value: number } =>
  e.op === 'const' && (value === undefined || e.value === value);

/** A literal. */
export const lit = (value: number): IndexExpr => ({ op: 'const', value });

/** A read of a local (or a named constant). */
export const ref = (name: string): IndexExpr => ({ op: 'var', name });

/** a + b, simplified. */
export function add(a: IndexExpr, b: IndexExpr): IndexExpr {
  if (isConst(a) && isConst(b)) return lit(a.value + b.value);
  if (isConst(a, 0)) return b;
  if (isConst(b, 0)) return a;
  return { op: 'add', a, b };
}

/** a - b, simplified. */
export function sub(a: IndexExpr, b: IndexExpr): IndexExpr {
  if (isConst(a) && isConst(b)) return lit(a.value - b.value);
  if (isConst(b, 0)) return a;
  return { op: 'sub', a, b };
}

/** a * b, simplified. */
export function mul(a: IndexExpr, b: IndexExpr): IndexExpr {
  if (isConst(a) && isConst(b)) return lit(a.value * b.value);
  if (isConst(a, 0) || isConst(b, 0)) return lit(0);
  if (isConst(a, 1)) return b;
  if (isConst(b, 1)) return a;
  return { op: 'mul', a, b };
}

/** a / b (truncating; non-negative operands), simplified. */
export function div(a: IndexExpr, b: IndexExpr): IndexExpr {
  if (isConst(b, 0)) throw new RangeError('index arithmetic: division by the constant 0');
  if (isConst(a) && isConst(b)) return lit(Math.trunc(a.value / b.value));
  if (isConst(a, 0)) return lit(0);
  if (isConst(b, 1)) return a;
  return { op: 'div', a, b };
}

/** a % b (non-negative operands), simplified. */
export function mod(a: IndexExpr, b: IndexExpr): IndexExpr {
  if (isConst(b, 0)) throw new RangeError('index arithmetic: modulo by the constant 0');
  if (isConst(a) && isConst(b)) return lit(a.value % b.value);
  if (isConst(a, 0) || isConst(b, 1)) return lit(0);
  return { op: 'mod', a, b };
}

/** The names an expression reads. */
export function readsOf(e: IndexExpr): Set<string> {
  const out = new Set<string>();
  const visit = (x: IndexExpr): void => {
    if (x.op === 'var') out.add(x.name);
    else if (x.op !== 'const') {
      visit(x.a);
      visit(x.b);
    }
  };
  visit(e);
  return out;
}

/** Binding strength of a rendered expression: atoms bind tightest. */
const Level = { sum: 1, product: 2, atom: 3 } as const;
type Level = (typeof Level)[keyof typeof Level];

const LEVEL: Record<'add' | 'sub' | 'mul' | 'div' | 'mod', Level> = {
  add: Level.sum,
  sub: Level.sum,
  mul: Level.product,
  div: Level.product,
  mod: Level.product,
};
const SYMBOL = { add: '+', sub: '-', mul: '*', mod: '%' };

function render(e: IndexExpr, d: Dialect): { text: string; level: Level } {
  if (e.op === 'const') return { text: d.intLiteral(e.value), level: Level.atom };
  if (e.op === 'var') return { text: e.name, level: Level.atom };
  const level = LEVEL[e.op];
  // Left-associative operators: the right operand needs parentheses at the same level unless it is the same
  // associative operator (`a - (b - c)`, `a / (b * c)`, `a * (b % c)`, but `a + b + c`).
  const associative = e.op === 'add' || e.op === 'mul';
  const left = render(e.a, d);
  const right = render(e.b, d);
  if (e.op === 'div') {
    // The dialect spells division (TypeScript truncates with Math.trunc); its operands go in as atoms.
    const atom = (x: { text: string; level: Level }) => (x.level === Level.atom ? x.text : `(${x.text})`);
    return { text: d.intDiv(atom(left), atom(right)), level: Level.product };
  }
  // `a % b * c` is legal everywhere but reads better as `(a % b) * c`: mixed products get parentheses too.
  const mixed = e.a.op !== e.op && left.level === Level.product && level === Level.product;
  const l = left.level < level || mixed ? `(${left.text})` : left.text;
  const regroups = associative && e.b.op === e.op; // a + (b + c) == a + b + c; not so a * (b % c)
  const r = right.level < level || (right.level === level && !regroups) ? `(${right.text})` : right.text;
  return { text: `${l} ${SYMBOL[e.op]} ${r}`, level };
}

/** Target text of an index expression, with parentheses only where precedence needs them. */
export function renderIndex(e: IndexExpr, d: Dialect): string {
  return render(e, d).text;
}
