/**
 * The element mask split by side, for kernels that test every (query, key) pair of a tile. Most of a
 * pattern's predicate usually depends on one side only: in the Attention Tile mask `q.t == k.t || global(k.t)
 * || global(q.t)`, the global-frame tests (a floor modulo and a floor division each) involve one token. A
 * kernel that evaluates `tp_allowed(q, k)` per element repeats the key's terms for every query row (and
 * relies on the compiler to hoist the query's). Split here, each side's terms are computed once per token:
 *
 *   struct TpQueryTerms { seg, t0, t1, ... }    TpQueryTerms tp_query_terms(TpToken q)   once per query row
 *   struct TpKeyTerms   { seg, t0, t1, ... }    TpKeyTerms   tp_key_terms(TpToken k)     once per key column
 *   bool tp_allowed(TpQueryTerms q, TpKeyTerms k)   the rest of the predicate, over the terms
 *
 * A term is a maximal sub-expression that reads one side only (a coordinate, or a boolean stored as 0/1);
 * constants stay where they are; identical terms are stored once. Measured on the H100 (bench/RESULTS.md):
 * a partial 128 x 128 tile of Attention Tile 1:7 cost 4 us with per-element evaluation against 1.7 us for a
 * full tile.
 */
import type { BoolExpr, IntExpr, PatternInstance, Side } from '../../compiler/ir.js';
import type { Dialect } from './dialect.js';
import { renderBool, renderInt } from './render-expr.js';
import { MASK_SYMBOLS, renderTokenFunctions, tokenExprNames } from './render-mask.js';

/** Names of the split mask's symbols (`tp_allowed` keeps its name, over terms instead of tokens). */
export const SPLIT_MASK_SYMBOLS = {
  queryTerms: 'TpQueryTerms',
  keyTerms: 'TpKeyTerms',
  queryTermsOf: 'tp_query_terms',
  keyTermsOf: 'tp_key_terms',
} as const;

/** One side's stored value: an integer sub-expression, or a boolean one stored as 0 / 1. */
export type SideTerm =
  | { readonly kind: 'int'; readonly expr: IntExpr }
  | { readonly kind: 'bool'; readonly expr: BoolExpr };

/** A predicate split into per-side terms and the residual predicate over them. */
export interface SplitPredicate {
  readonly terms: Readonly<Record<Side, readonly SideTerm[]>>;
  /**
   * The predicate with every term replaced by a read of it: `coord(side, i)` is term i of that side (a
   * boolean term reads as `coord(side, i) != 0`).
   */
  readonly residual: BoolExpr;
}

type Sides = { q: boolean; k: boolean };

function intSides(e: IntExpr): Sides {
  switch (e.op) {
    case 'const':
      return { q: false, k: false };
    case 'coord':
      return { q: e.side === 'q', k: e.side === 'k' };
    case 'neg':
    case 'abs':
    case 'log2':
    case 'pow2':
      return intSides(e.a);
    case 'select':
      return union(boolSides(e.cond), intSides(e.a), intSides(e.b));
    default:
      return union(intSides(e.a), intSides(e.b));
  }
}

function boolSides(e: BoolExpr): Sides {
  switch (e.op) {
    case 'bool':
      return { q: false, k: false };
    case 'cmp':
      return union(intSides(e.a), intSides(e.b));
    case 'and':
    case 'or':
      return union(...e.args.map(boolSides));
    case 'not':
      return boolSides(e.a);
    case 'segment':
      return { q: e.side === 'q', k: e.side === 'k' };
    case 'inset':
      return intSides(e.a);
  }
}

function union(...all: Sides[]): Sides {
  return { q: all.some((s) => s.q), k: all.some((s) => s.k) };
}

/** The one side an expression reads, or null when it reads both or none. */
function singleSide(s: Sides): Side | null {
  return s.q === s.k ? null : s.q ? 'q' : 'k';
}

/** Split `predicate` into per-side terms and a residual over them. */
export function splitPredicate(predicate: BoolExpr): SplitPredicate {
  const terms: Record<Side, SideTerm[]> = { q: [], k: [] };
  const seen: Record<Side, Map<string, number>> = { q: new Map(), k: new Map() };
  const termIndex = (side: Side, term: SideTerm): number => {
    const key = JSON.stringify(term);
    let i = seen[side].get(key);
    if (i === undefined) {
      i = terms[side].length;
      terms[side].push(term);
      seen[side].set(key, i);
    }
    return i;
  };
  const read = (side: Side, i: number): IntExpr => ({ op: 'coord', side, axis: i });

  const int = (e: IntExpr): IntExpr => {
    const side = singleSide(intSides(e));
    if (side) return read(side, termIndex(side, { kind: 'int', expr: e }));
    switch (e.op) {
      case 'const':
      case 'coord':
        return e;
      case 'neg':
      case 'abs':
      case 'log2':
      case 'pow2':
        return { ...e, a: int(e.a) };
      case 'select':
        return { ...e, cond: bool(e.cond), a: int(e.a), b: int(e.b) };
      default:
        return { ...e, a: int(e.a), b: int(e.b) };
    }
  };
  const bool = (e: BoolExpr): BoolExpr => {
    const side = singleSide(boolSides(e));
    if (side) {
      const i = termIndex(side, { kind: 'bool', expr: e });
      return { op: 'cmp', cmp: 'ne', a: read(side, i), b: { op: 'const', value: 0 } };
    }
    switch (e.op) {
      case 'bool':
      case 'segment':
        return e;
      case 'cmp':
        return { ...e, a: int(e.a), b: int(e.b) };
      case 'and':
      case 'or':
        return { ...e, args: e.args.map(bool) };
      case 'not':
        return { ...e, a: bool(e.a) };
      case 'inset':
        return { ...e, a: int(e.a) };
    }
  };
  const residual = bool(predicate);
  return { terms, residual };
}

/** The fields of one side's terms struct: the segment, then `t0`, `t1`, ... (one per term). */
export function termFields(split: SplitPredicate, side: Side): string[] {
  return ['seg', ...split.terms[side].map((_, i) => `t${i}`)];
}

/**
 * Target source for `TpToken` and `tp_decode` ({@link renderTokenFunctions}), the two terms
 * structs and their functions, and `tp_allowed` over terms.
 */
export function renderSplitMaskFunctions(pattern: PatternInstance, d: Dialect, indent = '  '): string {
  const out = [renderTokenFunctions(pattern, d, indent), ''];
  const split = splitPredicate(pattern.predicate);
  const { terms, residual } = split;
  const tokenNames = tokenExprNames(d);
  const structs = [
    ['q', SPLIT_MASK_SYMBOLS.queryTerms, SPLIT_MASK_SYMBOLS.queryTermsOf, 'query row'],
    ['k', SPLIT_MASK_SYMBOLS.keyTerms, SPLIT_MASK_SYMBOLS.keyTermsOf, 'key column'],
  ] as const;
  for (const [side, struct, fn, what] of structs) {
    const list = terms[side];
    out.push(
      `// What tp_allowed needs of a ${what}: its segment and ${list.length} term(s), computed once per token.`,
    );
    out.push(d.struct(struct, termFields(split, side)));
    out.push(d.functionHeader(fn, [{ name: side, type: MASK_SYMBOLS.token }], struct));
    const values = list.map((t) =>
      t.kind === 'int'
        ? renderInt(t.expr, d, tokenNames)
        : d.select(renderBool(t.expr, d, tokenNames), d.intLiteral(1), d.intLiteral(0)),
    );
    out.push(`${indent}return ${d.structValue(struct, [`${side}.seg`, ...values])};`);
    out.push('}');
  }
  const termNames = {
    coord: (side: Side, i: number) => `${side}.t${i}`,
    segment: tokenNames.segment, // never reached: segment tests read one side, so they are terms
  };
  out.push(`// allowed(q, k) of pattern ${pattern.key} over the terms; padding tokens are never allowed.`);
  out.push(
    d.functionHeader(
      MASK_SYMBOLS.allowed,
      [
        { name: 'q', type: SPLIT_MASK_SYMBOLS.queryTerms },
        { name: 'k', type: SPLIT_MASK_SYMBOLS.keyTerms },
      ],
      d.boolType,
    ),
  );
  out.push(`${indent}return q.seg != 0 && k.seg != 0 && ${renderBool(residual, d, termNames)};`);
  out.push('}');
  return out.join('\n');
}
