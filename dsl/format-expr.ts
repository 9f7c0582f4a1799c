/**
 * Printing expressions with the fewest parentheses the grammar needs. The user's own parentheses are
 * `ParenExpr` nodes and are always printed, so formatting never changes how a file groups its terms.
 */
import type { BinaryOp, Expr } from './ast.js';

/** Binding strength of each expression form, loosest first (mirrors the grammar in `parser.ts`). */
enum Prec {
  If = 0,
  Or = 1,
  And = 2,
  Compare = 3,
  Add = 4,
  Mul = 5,
  Unary = 6,
  Primary = 7,
}

function binaryPrec(op: BinaryOp): Prec {
  switch (op) {
    case '||':
      return Prec.Or;
    case '&&':
      return Prec.And;
    case '+':
    case '-':
      return Prec.Add;
    case '*':
    case '/':
    case '%':
      return Prec.Mul;
    default:
      return Prec.Compare;
  }
}

function precOf(e: Expr): Prec {
  switch (e.kind) {
    case 'IfExpr':
      return Prec.If;
    case 'BinaryExpr':
      return binaryPrec(e.op);
    case 'RangeTest':
    case 'SetTest':
    case 'SegmentTest':
      return Prec.Compare;
    case 'UnaryExpr':
      return Prec.Unary;
    default:
      return Prec.Primary;
  }
}

/** Print `e` where the grammar accepts only forms binding at least as tightly as `min`. */
function at(e: Expr, min: Prec): string {
  const text = formatExpr(e);
  return precOf(e) < min ? `(${text})` : text;
}

/** The canonical text of an expression. */
export function formatExpr(e: Expr): string {
  switch (e.kind) {
    case 'IntLiteral':
      return String(e.value);
    case 'BoolLiteral':
      return String(e.value);
    case 'NameRef':
      return e.name.name;
    case 'CoordRef':
      return `${e.side}.${e.axis.name}`;
    case 'SegmentTest':
      return `${e.side} in ${e.segment}`;
    case 'ParenExpr':
      return `(${formatExpr(e.inner)})`;
    case 'CallExpr':
      return `${e.callee.name}(${e.args.map(formatExpr).join(', ')})`;
    case 'UnaryExpr':
      return `${e.op}${at(e.operand, Prec.Unary)}`;
    case 'IfExpr':
      return `if ${formatExpr(e.condition)} then ${formatExpr(e.then)} else ${formatExpr(e.otherwise)}`;
    case 'RangeTest':
      return `${at(e.value, Prec.Add)} in ${at(e.low, Prec.Add)}${e.inclusive ? '..=' : '..'}${at(e.high, Prec.Add)}`;
    case 'SetTest':
      return `${at(e.value, Prec.Add)} in {${e.members.map(formatExpr).join(', ')}}`;
    case 'BinaryExpr': {
      const prec = binaryPrec(e.op);
      // Comparisons do not chain, so neither side may be a comparison; other operators associate left.
      const leftMin = prec === Prec.Compare ? Prec.Add : prec;
      const rightMin = prec === Prec.Compare ? Prec.Add : prec + 1;
      return `${at(e.left, leftMin)} ${e.op} ${at(e.right, rightMin)}`;
    }
  }
}

/** The widest line the formatter aims for; longer `&&` / `||` chains break before each operator. */
export const MAX_LINE = 100;

/**
 * {@link formatExpr}, except that a top-level `&&` or `||` chain that would not fit in the line (`used`
 * columns are already taken) is broken before each operator, continuation lines starting with `indent`.
 * Only whitespace changes, so the parse tree is the same either way.
 */
export function formatExprWrapped(e: Expr, used: number, indent: string): string {
  const flat = formatExpr(e);
  if (used + flat.length <= MAX_LINE || e.kind !== 'BinaryExpr' || (e.op !== '&&' && e.op !== '||'))
    return flat;
  const op = e.op;
  const operands: Expr[] = [];
  let rest: Expr = e;
  while (rest.kind === 'BinaryExpr' && rest.op === op) {
    operands.unshift(rest.right);
    rest = rest.left;
  }
  operands.unshift(rest);
  const min = binaryPrec(op) + 1;
  return operands.map((x, i) => (i === 0 ? at(x, min) : `\n${indent}${op} ${at(x, min)}`)).join('');
}
