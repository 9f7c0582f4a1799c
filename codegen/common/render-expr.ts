/**
 * Render pattern IR as C-like expression text for any {@link Dialect}. Parenthesises every compound
 * sub-expression: the output is machine-read first, and explicit grouping keeps C and WGSL precedence
 * differences (WGSL forbids mixing some operators without parentheses) out of the picture.
 */
import type { BoolExpr, CmpOp, IntExpr, Side } from '../../compiler/ir.js';
import { C_LOGIC, type Dialect, INT_HELPERS } from './dialect.js';

/** How a coordinate read is spelled, e.g. `q.c0` or `kc1`. */
export type CoordNamer = (side: Side, axis: number) => string;

/** How a segment test is spelled, e.g. `(q.seg == 1)`. */
export type SegmentNamer = (side: Side, segment: 'video' | 'text') => string;

const CMP_TEXT: Record<CmpOp, string> = { eq: '==', ne: '!=', lt: '<', le: '<=', gt: '>', ge: '>=' };

/** Names for coordinates and segment tests used by the renderers. */
export interface ExprNames {
  readonly coord: CoordNamer;
  readonly segment: SegmentNamer;
}

/** Operands joined flat, at most this many to a group: see {@link joinGrouped}. */
const GROUP = 8;

/**
 * `(a op b op ...)`, grouped in parentheses of at most {@link GROUP} operands when there are more, so a rule
 * list tens of thousands long renders with a nesting depth of log8(n) instead of a chain that parsers (TypeScript,
 * Python, C compilers) walk recursively.
 */
export function joinGrouped(parts: readonly string[], op: string): string {
  let level = parts;
  while (level.length > GROUP) {
    const next: string[] = [];
    for (let i = 0; i < level.length; i += GROUP) next.push(`(${level.slice(i, i + GROUP).join(op)})`);
    level = next;
  }
  return `(${level.join(op)})`;
}

/** Render an integer IR expression. */
export function renderInt(e: IntExpr, d: Dialect, names: ExprNames): string {
  const r = (x: IntExpr) => renderInt(x, d, names);
  const h = (name: keyof typeof INT_HELPERS) => d.helpers?.[name] ?? INT_HELPERS[name];
  switch (e.op) {
    case 'const':
      return d.intLiteral(e.value);
    case 'coord':
      return names.coord(e.side, e.axis);
    case 'neg':
      return `(-${r(e.a)})`;
    case 'abs':
      return `${h('abs')}(${r(e.a)})`;
    case 'log2':
      return `${h('log2')}(${r(e.a)})`;
    case 'pow2':
      return `${h('pow2')}(${r(e.a)})`;
    case 'add':
      return `(${r(e.a)} + ${r(e.b)})`;
    case 'sub':
      return `(${r(e.a)} - ${r(e.b)})`;
    case 'mul':
      return `(${r(e.a)} * ${r(e.b)})`;
    case 'div':
      return `${h('floorDiv')}(${r(e.a)}, ${r(e.b)})`;
    case 'mod':
      return `${h('floorMod')}(${r(e.a)}, ${r(e.b)})`;
    case 'min':
      return `${h('min')}(${r(e.a)}, ${r(e.b)})`;
    case 'max':
      return `${h('max')}(${r(e.a)}, ${r(e.b)})`;
    case 'select':
      return d.select(renderBool(e.cond, d, names), r(e.a), r(e.b));
  }
}

/** Render a boolean IR expression. */
export function renderBool(e: BoolExpr, d: Dialect, names: ExprNames): string {
  const b = (x: BoolExpr) => renderBool(x, d, names);
  const logic = d.logic ?? C_LOGIC;
  switch (e.op) {
    case 'bool':
      return e.value ? logic.true : logic.false;
    case 'cmp':
      return `(${renderInt(e.a, d, names)} ${CMP_TEXT[e.cmp]} ${renderInt(e.b, d, names)})`;
    case 'and':
      return e.args.length === 0 ? logic.true : joinGrouped(e.args.map(b), logic.and);
    case 'or':
      return e.args.length === 0 ? logic.false : joinGrouped(e.args.map(b), logic.or);
    case 'not':
      return logic.not(b(e.a));
    case 'segment':
      return names.segment(e.side, e.segment);
    case 'inset': {
      if (e.values.length === 0) return logic.false;
      const v = renderInt(e.a, d, names);
      return joinGrouped(
        e.values.map((x) => `(${v} == ${d.intLiteral(x)})`),
        logic.or,
      );
    }
  }
}
