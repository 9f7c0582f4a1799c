/** Checks of expression nodes, keyed by node kind. Each reports at its own node only. */
import type {
  BinaryExpr,
  CallExpr,
  CoordRef,
  Expr,
  IfExpr,
  NameRef,
  RangeTest,
  SegmentTest,
  SetTest,
  UnaryExpr,
} from '../../dsl/ast.js';
import { BUILTIN_FUNCTIONS } from '../../dsl/ast.js';
import { type CheckContext, expectType } from './context.js';
import { unknownNameHint } from './suggest.js';

type ExprChecks = {
  readonly [K in Expr['kind']]?: (node: Extract<Expr, { kind: K }>, ctx: CheckContext) => void;
};

const ARITHMETIC = new Set(['+', '-', '*', '/', '%']);
const ORDERING = new Set(['<', '<=', '>', '>=']);

function noTokensHere(range: Expr['range'], ctx: CheckContext, what: string): boolean {
  if (ctx.mode === 'layout') {
    ctx.reporter.error(
      'TP217',
      range,
      `a layout cannot read ${what}`,
      "layout items may use numbers and the layout's sizes",
    );
    return true;
  }
  if (ctx.mode === 'constant') {
    ctx.reporter.error(
      'TP210',
      range,
      `a default value must be a constant, not ${what}`,
      'write a number or `true`/`false`',
    );
    return true;
  }
  return false;
}

function checkName(e: NameRef, ctx: CheckContext): void {
  const name = e.name.name;
  if (ctx.mode === 'constant') {
    ctx.reporter.error(
      'TP210',
      e.range,
      `a default value must be a constant, not the name \`${name}\``,
      'write a number or `true`/`false`',
    );
    return;
  }
  const s = ctx.scope.lookup(name);
  if (s?.kind === 'fn') {
    ctx.reporter.error('TP202', e.range, `\`${name}\` is a helper, not a value`, `call it: \`${name}(...)\``);
    return;
  }
  if (s) return;
  let hint: string;
  if (name === 'q' || name === 'k')
    hint = `\`${name}\` is a token; read a coordinate such as \`${name}.t\`, or test \`${name} in video\``;
  else if (name === 'video' || name === 'text')
    hint = `segments are tested with \`q in ${name}\` or \`k in ${name}\``;
  else
    hint = unknownNameHint(
      name,
      ctx.scope.visibleNames((x) => x.kind !== 'fn'),
      'name',
    );
  ctx.reporter.error('TP202', e.name.range, `unknown name \`${name}\``, hint);
}

function checkCoord(e: CoordRef, ctx: CheckContext): void {
  if (noTokensHere(e.range, ctx, 'token coordinates')) return;
  const axis = e.axis.name;
  let axes: string[];
  let where: string;
  if (ctx.mode === 'pattern') {
    const layout = ctx.scope.layout;
    if (!layout) return; // the unknown layout is reported on the pattern
    axes = [...layout.videoAxes, ...(layout.textAxis ? [layout.textAxis] : [])];
    where = `layout \`${layout.decl.name.name}\``;
  } else {
    axes = [
      ...new Set(
        [...ctx.layouts.values()].flatMap((l) => [...l.videoAxes, ...(l.textAxis ? [l.textAxis] : [])]),
      ),
    ];
    where = 'any layout of this file';
  }
  if (!axes.includes(axis)) {
    ctx.reporter.error(
      'TP211',
      e.axis.range,
      `\`${axis}\` is not an axis of ${where}`,
      unknownNameHint(axis, axes, 'axis', 'axes'),
    );
  }
}

function checkSegment(e: SegmentTest, ctx: CheckContext): void {
  if (noTokensHere(e.range, ctx, 'token segments')) return;
  const layout = ctx.scope.layout;
  if (e.segment === 'text' && ctx.mode === 'pattern' && layout && layout.textAxis === null) {
    ctx.reporter.error(
      'TP212',
      e.range,
      `layout \`${layout.decl.name.name}\` has no text segment`,
      'add `text(l) after` (or `before`) to the layout',
    );
  }
}

function checkUnary(e: UnaryExpr, ctx: CheckContext): void {
  expectType(e.operand, e.op === '-' ? 'int' : 'bool', ctx, 'TP206', `the operand of \`${e.op}\``);
}

function checkBinary(e: BinaryExpr, ctx: CheckContext): void {
  if (ARITHMETIC.has(e.op) || ORDERING.has(e.op)) {
    expectType(e.left, 'int', ctx, 'TP206', `the left operand of \`${e.op}\``);
    expectType(e.right, 'int', ctx, 'TP206', `the right operand of \`${e.op}\``);
  } else if (e.op === '&&' || e.op === '||') {
    expectType(e.left, 'bool', ctx, 'TP206', `the left operand of \`${e.op}\``);
    expectType(e.right, 'bool', ctx, 'TP206', `the right operand of \`${e.op}\``);
  } else {
    const left = ctx.types.typeOf(e.left, ctx.scope);
    const right = ctx.types.typeOf(e.right, ctx.scope);
    if (left !== 'unknown' && right !== 'unknown' && left !== right) {
      ctx.reporter.error(
        'TP206',
        e.range,
        `\`${e.op}\` compares \`${left}\` with \`${right}\``,
        'both sides of a comparison must have the same type',
      );
    }
  }
}

function checkCall(e: CallExpr, ctx: CheckContext): void {
  const name = e.callee.name;
  const builtinArity = (BUILTIN_FUNCTIONS as Record<string, number>)[name];
  if (builtinArity !== undefined) {
    if (e.args.length !== builtinArity) {
      ctx.reporter.error(
        'TP205',
        e.range,
        `\`${name}\` takes ${builtinArity} argument${builtinArity === 1 ? '' : 's'}, not ${e.args.length}`,
      );
    }
    for (const [i, a] of e.args.entries())
      expectType(a, 'int', ctx, 'TP206', `argument ${i + 1} of \`${name}\``);
    return;
  }
  const s = ctx.scope.lookup(name);
  if (s?.kind !== 'fn') {
    if (ctx.mode === 'constant') {
      ctx.reporter.error(
        'TP210',
        e.range,
        `a default value cannot call the helper \`${name}\``,
        'only built-in functions may appear in a default',
      );
      return;
    }
    const helpers = ctx.scope.visibleNames((x) => x.kind === 'fn');
    ctx.reporter.error(
      'TP203',
      e.callee.range,
      `unknown function \`${name}\``,
      unknownNameHint(name, [...Object.keys(BUILTIN_FUNCTIONS), ...helpers], 'function'),
    );
    return;
  }
  const params = s.decl.params;
  if (e.args.length !== params.length) {
    ctx.reporter.error(
      'TP205',
      e.range,
      `\`${name}\` takes ${params.length} argument${params.length === 1 ? '' : 's'}, not ${e.args.length}`,
    );
  }
  for (const [i, a] of e.args.entries()) {
    const p = params[i];
    if (p) expectType(a, p.type?.name ?? 'int', ctx, 'TP206', `argument \`${p.name.name}\` of \`${name}\``);
  }
}

function checkIf(e: IfExpr, ctx: CheckContext): void {
  expectType(e.condition, 'bool', ctx, 'TP207', 'the condition of `if`');
  const a = ctx.types.typeOf(e.then, ctx.scope);
  const b = ctx.types.typeOf(e.otherwise, ctx.scope);
  if (a !== 'unknown' && b !== 'unknown' && a !== b) {
    ctx.reporter.error(
      'TP208',
      e.range,
      `the branches of \`if\` have different types: \`${a}\` and \`${b}\``,
      'both branches must be `int` or both `bool`',
    );
  }
}

function checkRange(e: RangeTest, ctx: CheckContext): void {
  expectType(e.value, 'int', ctx, 'TP206', 'the value tested with `in`');
  expectType(e.low, 'int', ctx, 'TP206', 'the start of a range');
  expectType(e.high, 'int', ctx, 'TP206', 'the end of a range');
}

function checkSet(e: SetTest, ctx: CheckContext): void {
  expectType(e.value, 'int', ctx, 'TP206', 'the value tested with `in`');
  for (const m of e.members) expectType(m, 'int', ctx, 'TP206', 'a set member');
}

/** The expression checks. */
export const exprChecks: ExprChecks = {
  NameRef: checkName,
  CoordRef: checkCoord,
  SegmentTest: checkSegment,
  UnaryExpr: checkUnary,
  BinaryExpr: checkBinary,
  CallExpr: checkCall,
  IfExpr: checkIf,
  RangeTest: checkRange,
  SetTest: checkSet,
};
