/**
 * The split element mask (codegen/common/split-mask.ts): rendered through the JavaScript dialect and run on
 * every token pair of random predicates and layouts, `tp_allowed(tp_query_terms(q), tp_key_terms(k))` must
 * allow exactly what the predicate allows (padding never); every term must read one side only, and the
 * residual must read no coordinate of a token directly.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MASK_SYMBOLS } from '../../../codegen/common/render-mask.js';
import {
  renderSplitMaskFunctions,
  type SideTerm,
  SPLIT_MASK_SYMBOLS,
  splitPredicate,
  termFields,
} from '../../../codegen/common/split-mask.js';
import { eagerAllowed } from '../../../codegen/cuda/eager-mask.js';
import {
  type BoolExpr,
  evalBool,
  evalInt,
  type IntExpr,
  type PatternInstance,
} from '../../../compiler/ir.js';
import { decodeToken } from '../../../compiler/layout.js';
import { patternInstanceArbitrary, predicateArbitrary } from '../../support/arbitraries/ir.js';
import { testRuns } from '../../support/arbitraries/layout.js';
import { JS_PRELUDE, jsDialect } from './js-dialect.js';

const patternArb = patternInstanceArbitrary(40);

interface EmittedSplit {
  decode(i: number): object;
  queryTerms(t: object): object;
  keyTerms(t: object): object;
  allowed(q: object, k: object): unknown;
}

function emitAndLoad(pattern: PatternInstance): EmittedSplit {
  const split = splitPredicate(pattern.predicate);
  const fields: Record<string, string[]> = {
    [MASK_SYMBOLS.token]: ['seg', ...pattern.layout.axisNames.map((_, i) => `c${i}`)],
    [SPLIT_MASK_SYMBOLS.queryTerms]: termFields(split, 'q'),
    [SPLIT_MASK_SYMBOLS.keyTerms]: termFields(split, 'k'),
  };
  const dialect = {
    ...jsDialect([]),
    structValue: (name: string, values: readonly string[]) =>
      `({ ${values.map((v, i) => `${fields[name]![i]}: ${v}`).join(', ')} })`,
  };
  // With the branch-free connectives, as the CUDA kernels compile it (codegen/cuda/eager-mask.ts).
  const source = eagerAllowed(renderSplitMaskFunctions(pattern, dialect));
  const s = SPLIT_MASK_SYMBOLS;
  const body = `${source}\nreturn { decode: ${MASK_SYMBOLS.decode}, queryTerms: ${s.queryTermsOf}, keyTerms: ${s.keyTermsOf}, allowed: ${MASK_SYMBOLS.allowed} };`;
  return new Function(...Object.keys(JS_PRELUDE), body)(...Object.values(JS_PRELUDE));
}

/** Every side a term or residual reads, as a set of 'q' / 'k'. */
function sidesRead(e: IntExpr | BoolExpr, out = new Set<string>()): Set<string> {
  if ('side' in e) out.add(e.side);
  for (const v of Object.values(e)) {
    if (Array.isArray(v)) for (const x of v) if (typeof x === 'object') sidesRead(x, out);
    if (v && typeof v === 'object' && !Array.isArray(v) && 'op' in v) sidesRead(v as IntExpr, out);
  }
  return out;
}

describe('the split element mask', () => {
  it('allows exactly the pairs the predicate allows, padding never', () => {
    fc.assert(
      fc.property(patternArb, (pattern) => {
        const { layout, predicate } = pattern;
        const m = emitAndLoad(pattern);
        const tokens = Array.from({ length: layout.length }, (_, i) => {
          const t = m.decode(i);
          return { ref: decodeToken(layout, i, []), q: m.queryTerms(t), k: m.keyTerms(t) };
        });
        for (const q of tokens) {
          for (const k of tokens) {
            const want = q.ref !== null && k.ref !== null && evalBool(predicate, q.ref, k.ref);
            if (Boolean(m.allowed(q.q, k.k)) !== want)
              expect.fail(`${JSON.stringify(q.ref)} -> ${JSON.stringify(k.ref)}: expected ${want}`);
          }
        }
      }),
      { numRuns: testRuns(60) },
    );
  });

  it('stores terms that read one side each, and a residual that reads only terms', () => {
    fc.assert(
      fc.property(predicateArbitrary(3), (predicate) => {
        const { terms, residual } = splitPredicate(predicate);
        for (const side of ['q', 'k'] as const) {
          for (const term of terms[side] as readonly SideTerm[])
            expect([...sidesRead(term.expr)]).toEqual([side]);
          const keys = terms[side].map((t) => JSON.stringify(t));
          expect(new Set(keys).size).toBe(keys.length); // stored once each
        }
        // The residual's coordinate reads index the terms.
        const check = (e: IntExpr | BoolExpr): void => {
          if (e.op === 'coord') expect(e.axis).toBeLessThan(terms[e.side].length);
          if (e.op === 'segment') expect.fail('a segment test reads one side: it must be a term');
          for (const v of Object.values(e)) {
            if (Array.isArray(v)) for (const x of v) if (typeof x === 'object') check(x);
            if (v && typeof v === 'object' && !Array.isArray(v) && 'op' in v) check(v as IntExpr);
          }
        };
        check(residual);
      }),
      { numRuns: testRuns(100) },
    );
  });

  it('reduces Attention Tile to a frame comparison and two stored global-frame bits', () => {
    const frame = (side: 'q' | 'k'): IntExpr => ({ op: 'coord', side, axis: 0 });
    const global = (side: 'q' | 'k'): BoolExpr => ({
      op: 'and',
      args: [
        {
          op: 'cmp',
          cmp: 'eq',
          a: { op: 'mod', a: frame(side), b: { op: 'const', value: 4 } },
          b: { op: 'const', value: 0 },
        },
        {
          op: 'cmp',
          cmp: 'lt',
          a: { op: 'div', a: frame(side), b: { op: 'const', value: 4 } },
          b: { op: 'const', value: 2 },
        },
      ],
    });
    const predicate: BoolExpr = {
      op: 'or',
      args: [{ op: 'cmp', cmp: 'eq', a: frame('q'), b: frame('k') }, global('k'), global('q')],
    };
    const { terms } = splitPredicate(predicate);
    expect(terms.k.map((t) => t.kind)).toEqual(['int', 'bool']);
    expect(terms.q.map((t) => t.kind)).toEqual(['int', 'bool']);
    // The stored bit is the global test: frames 0 and 4 of 8.
    const bit = terms.k[1]!.expr as BoolExpr;
    const at = (f: number) => ({ segment: 'video' as const, coords: [f] });
    expect([0, 1, 2, 3, 4, 5, 6, 7].filter((f) => evalBool(bit, at(0), at(f)))).toEqual([0, 4]);
    expect(evalInt(terms.k[0]!.expr as IntExpr, at(0), at(6))).toBe(6);
  });
});
