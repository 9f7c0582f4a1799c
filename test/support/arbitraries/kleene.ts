/**
 * Random expression trees over a layout with text tokens, with an independent three-valued reference: a
 * coordinate a token does not have (a text token's `t`, a video token's `l`) is undefined, a comparison that
 * reads one is unknown, `!`, `&&`, `||` follow Kleene's tables, an `if` on an unknown condition is unknown.
 * The trees render to `.tile` source, so the compiler's lowering is checked against this reference.
 */
import fc from 'fast-check';
import { floorDiv, floorMod } from '../../../compiler/ir.js';

/** A token of the test layout `vt(t, h) { text(l) }`: its segment and its coordinates by axis name. */
export interface KleeneToken {
  readonly segment: 'video' | 'text';
  readonly t: number;
  readonly h: number;
  readonly l: number;
}

/** An integer expression. */
export type IntNode =
  | { readonly k: 'const'; readonly v: number }
  | { readonly k: 'coord'; readonly side: 'q' | 'k'; readonly axis: 't' | 'h' | 'l' }
  | {
      readonly k: 'bin';
      readonly op: '+' | '-' | '*' | '/' | '%' | 'min' | 'max';
      readonly a: IntNode;
      readonly b: IntNode;
    }
  | { readonly k: 'abs'; readonly a: IntNode }
  | { readonly k: 'if'; readonly c: BoolNode; readonly a: IntNode; readonly b: IntNode };

/** Comparison operators of the language. */
export type CmpSymbol = '==' | '!=' | '<' | '<=' | '>' | '>=';

/** A boolean expression. */
export type BoolNode =
  | { readonly k: 'lit'; readonly v: boolean }
  | { readonly k: 'seg'; readonly side: 'q' | 'k'; readonly seg: 'video' | 'text' }
  | { readonly k: 'cmp'; readonly op: CmpSymbol; readonly a: IntNode; readonly b: IntNode }
  | { readonly k: 'and' | 'or'; readonly a: BoolNode; readonly b: BoolNode }
  | { readonly k: 'not'; readonly a: BoolNode }
  | {
      readonly k: 'range';
      readonly x: IntNode;
      readonly lo: IntNode;
      readonly hi: IntNode;
      readonly inc: boolean;
    }
  | { readonly k: 'set'; readonly x: IntNode; readonly values: readonly number[] }
  | { readonly k: 'bif'; readonly c: BoolNode; readonly a: BoolNode; readonly b: BoolNode }
  | { readonly k: 'beq'; readonly op: '==' | '!='; readonly a: BoolNode; readonly b: BoolNode };

/** Three-valued truth: undefined is unknown. */
export type Tri = boolean | undefined;

/** The negation of each comparison operator. */
export const NEGATED_CMP: Readonly<Record<CmpSymbol, CmpSymbol>> = {
  '==': '!=',
  '!=': '==',
  '<': '>=',
  '<=': '>',
  '>': '<=',
  '>=': '<',
};

const leafInt: fc.Arbitrary<IntNode> = fc.oneof(
  fc.integer({ min: -3, max: 4 }).map((v): IntNode => ({ k: 'const', v })),
  fc
    .tuple(
      fc.constantFrom('q' as const, 'k' as const),
      fc.constantFrom('t' as const, 'h' as const, 'l' as const),
    )
    .map(([side, axis]): IntNode => ({ k: 'coord', side, axis })),
);

/** Random integer expressions of at most `depth` levels. */
export function intNodeArb(depth: number): fc.Arbitrary<IntNode> {
  if (depth <= 0) return leafInt;
  const sub = intNodeArb(depth - 1);
  return fc.oneof(
    { depthSize: 'small' },
    leafInt,
    fc
      .tuple(fc.constantFrom('+', '-', '*', '/', '%', 'min', 'max' as const), sub, sub)
      .map(([op, a, b]): IntNode => ({ k: 'bin', op: op as Extract<IntNode, { k: 'bin' }>['op'], a, b })),
    sub.map((a): IntNode => ({ k: 'abs', a })),
    fc.tuple(boolNodeArb(depth - 1), sub, sub).map(([c, a, b]): IntNode => ({ k: 'if', c, a, b })),
  );
}

/** Random boolean expressions of at most `depth` levels. */
export function boolNodeArb(depth: number): fc.Arbitrary<BoolNode> {
  const int = intNodeArb(Math.max(0, depth - 1));
  const cmp = fc
    .tuple(fc.constantFrom<CmpSymbol>('==', '!=', '<', '<=', '>', '>='), int, int)
    .map(([op, a, b]): BoolNode => ({ k: 'cmp', op, a, b }));
  const leaf = fc.oneof(
    fc.boolean().map((v): BoolNode => ({ k: 'lit', v })),
    fc
      .tuple(fc.constantFrom('q' as const, 'k' as const), fc.constantFrom('video' as const, 'text' as const))
      .map(([side, seg]): BoolNode => ({ k: 'seg', side, seg })),
    cmp,
  );
  if (depth <= 0) return leaf;
  const sub = boolNodeArb(depth - 1);
  return fc.oneof(
    { depthSize: 'small' },
    leaf,
    cmp,
    fc
      .tuple(fc.constantFrom('and' as const, 'or' as const), sub, sub)
      .map(([k, a, b]): BoolNode => ({ k, a, b })),
    sub.map((a): BoolNode => ({ k: 'not', a })),
    fc
      .tuple(int, int, int, fc.boolean())
      .map(([x, lo, hi, inc]): BoolNode => ({ k: 'range', x, lo, hi, inc })),
    fc
      .tuple(int, fc.array(fc.integer({ min: -1, max: 3 }), { minLength: 1, maxLength: 3 }))
      .map(([x, values]): BoolNode => ({ k: 'set', x, values })),
    fc.tuple(sub, sub, sub).map(([c, a, b]): BoolNode => ({ k: 'bif', c, a, b })),
    fc
      .tuple(fc.constantFrom('==' as const, '!=' as const), sub, sub)
      .map(([op, a, b]): BoolNode => ({ k: 'beq', op, a, b })),
  );
}

/** `.tile` source of an integer expression. */
export function intSource(e: IntNode): string {
  switch (e.k) {
    case 'const':
      return e.v < 0 ? `(${e.v})` : String(e.v);
    case 'coord':
      return `${e.side}.${e.axis}`;
    case 'abs':
      return `abs(${intSource(e.a)})`;
    case 'if':
      return `(if ${boolSource(e.c)} then ${intSource(e.a)} else ${intSource(e.b)})`;
    case 'bin':
      return e.op === 'min' || e.op === 'max'
        ? `${e.op}(${intSource(e.a)}, ${intSource(e.b)})`
        : `(${intSource(e.a)} ${e.op} ${intSource(e.b)})`;
  }
}

/** `.tile` source of a boolean expression. */
export function boolSource(e: BoolNode): string {
  switch (e.k) {
    case 'lit':
      return String(e.v);
    case 'seg':
      return `(${e.side} in ${e.seg})`;
    case 'cmp':
      return `(${intSource(e.a)} ${e.op} ${intSource(e.b)})`;
    case 'and':
      return `(${boolSource(e.a)} && ${boolSource(e.b)})`;
    case 'or':
      return `(${boolSource(e.a)} || ${boolSource(e.b)})`;
    case 'not':
      return `!${boolSource(e.a)}`;
    case 'range':
      return `(${intSource(e.x)} in ${intSource(e.lo)}..${e.inc ? '=' : ''}${intSource(e.hi)})`;
    case 'set':
      return `(${intSource(e.x)} in {${e.values.join(', ')}})`;
    case 'bif':
      return `(if ${boolSource(e.c)} then ${boolSource(e.a)} else ${boolSource(e.b)})`;
    case 'beq':
      return `(${boolSource(e.a)} ${e.op} ${boolSource(e.b)})`;
  }
}

function coordOf(token: KleeneToken, axis: 't' | 'h' | 'l'): number | undefined {
  const needs = axis === 'l' ? 'text' : 'video';
  return token.segment === needs ? token[axis] : undefined;
}

/** The reference value of an integer expression: undefined where it reads a coordinate a token lacks. */
export function evalIntNode(e: IntNode, q: KleeneToken, k: KleeneToken): number | undefined {
  switch (e.k) {
    case 'const':
      return e.v;
    case 'coord':
      return coordOf(e.side === 'q' ? q : k, e.axis);
    case 'abs': {
      const a = evalIntNode(e.a, q, k);
      return a === undefined ? undefined : Math.abs(a);
    }
    case 'if': {
      const c = evalBoolNode(e.c, q, k);
      return c === undefined ? undefined : evalIntNode(c ? e.a : e.b, q, k);
    }
    case 'bin': {
      const a = evalIntNode(e.a, q, k);
      const b = evalIntNode(e.b, q, k);
      if (a === undefined || b === undefined) return undefined;
      const ops = {
        '+': () => a + b,
        '-': () => a - b,
        '*': () => a * b,
        '/': () => floorDiv(a, b),
        '%': () => floorMod(a, b),
        min: () => Math.min(a, b),
        max: () => Math.max(a, b),
      };
      return ops[e.op]();
    }
  }
}

function compareTri(op: CmpSymbol, a: number | undefined, b: number | undefined): Tri {
  if (a === undefined || b === undefined) return undefined;
  const table = { '==': a === b, '!=': a !== b, '<': a < b, '<=': a <= b, '>': a > b, '>=': a >= b };
  return table[op];
}

/** Kleene conjunction. */
export function andTri(a: Tri, b: Tri): Tri {
  if (a === false || b === false) return false;
  return a === true && b === true ? true : undefined;
}

/** Kleene disjunction. */
export function orTri(a: Tri, b: Tri): Tri {
  if (a === true || b === true) return true;
  return a === false && b === false ? false : undefined;
}

/** Kleene negation. */
export function notTri(a: Tri): Tri {
  return a === undefined ? undefined : !a;
}

/** The reference value of a boolean expression. */
export function evalBoolNode(e: BoolNode, q: KleeneToken, k: KleeneToken): Tri {
  switch (e.k) {
    case 'lit':
      return e.v;
    case 'seg':
      return (e.side === 'q' ? q : k).segment === e.seg;
    case 'cmp':
      return compareTri(e.op, evalIntNode(e.a, q, k), evalIntNode(e.b, q, k));
    case 'and':
      return andTri(evalBoolNode(e.a, q, k), evalBoolNode(e.b, q, k));
    case 'or':
      return orTri(evalBoolNode(e.a, q, k), evalBoolNode(e.b, q, k));
    case 'not':
      return notTri(evalBoolNode(e.a, q, k));
    case 'range': {
      const x = evalIntNode(e.x, q, k);
      return andTri(
        compareTri('<=', evalIntNode(e.lo, q, k), x),
        compareTri(e.inc ? '<=' : '<', x, evalIntNode(e.hi, q, k)),
      );
    }
    case 'set': {
      const x = evalIntNode(e.x, q, k);
      return x === undefined ? undefined : e.values.includes(x);
    }
    case 'bif': {
      const c = evalBoolNode(e.c, q, k);
      return c === undefined ? undefined : evalBoolNode(c ? e.a : e.b, q, k);
    }
    case 'beq': {
      const a = evalBoolNode(e.a, q, k);
      const b = evalBoolNode(e.b, q, k);
      if (a === undefined || b === undefined) return undefined;
      return e.op === '==' ? a === b : a !== b;
    }
  }
}

/** A small layout with text tokens (and sometimes padded frames), as `.tile` source and sizes. */
export interface KleeneLayout {
  readonly source: string;
  readonly sizes: { t: number; h: number; l: number };
}

/** Random layouts `vt(t, h)` with `l` text tokens before or after the video, frames sometimes padded. */
export const kleeneLayoutArb: fc.Arbitrary<KleeneLayout> = fc
  .record({
    t: fc.integer({ min: 1, max: 3 }),
    h: fc.integer({ min: 1, max: 3 }),
    l: fc.integer({ min: 1, max: 3 }),
    position: fc.constantFrom('before', 'after'),
    pad: fc.option(fc.integer({ min: 2, max: 4 })),
  })
  .map((r) => ({
    source: [
      'layout vt(t, h) {',
      `  text(l) ${r.position}`,
      ...(r.pad !== null ? [`  pad frame to ${r.pad}`] : []),
      '}',
    ].join('\n'),
    sizes: { t: r.t, h: r.h, l: r.l },
  }));
