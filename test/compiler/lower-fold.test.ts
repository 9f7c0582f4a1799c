/** Folding preserves the IR's meaning exactly: evaluation before and after agree on random IR and tokens. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { foldBool, foldInt, makeAnd, makeNot, makeOr } from '../../compiler/fold.js';
import { type BoolExpr, evalBool, evalInt, type IntExpr, type TokenCoords } from '../../compiler/ir.js';
import { irArbs, testRuns } from '../support/arbitraries/ast.js';

const runs = testRuns(300);
const AXES = 3;
const { int, bool } = irArbs(AXES);

const token: fc.Arbitrary<TokenCoords> = fc.record({
  segment: fc.constantFrom('video' as const, 'text' as const),
  coords: fc.array(fc.integer({ min: -3, max: 6 }), { minLength: AXES, maxLength: AXES }),
});

function readsTokens(e: IntExpr | BoolExpr): boolean {
  return JSON.stringify(e).includes('"coord"') || JSON.stringify(e).includes('"segment"');
}

describe('fold', () => {
  it('foldBool preserves evaluation', () => {
    fc.assert(
      fc.property(bool, token, token, (e, q, k) => {
        expect(evalBool(foldBool(e), q, k)).toBe(evalBool(e, q, k));
      }),
      { numRuns: runs },
    );
  });

  it('foldInt preserves evaluation (division and remainder by zero included)', () => {
    fc.assert(
      fc.property(int, token, token, (e, q, k) => {
        // -0 and 0 are the same integer; `+ 0` normalises both sides.
        expect(evalInt(foldInt(e), q, k) + 0).toBe(evalInt(e, q, k) + 0);
      }),
      { numRuns: runs },
    );
  });

  it('folds every token-free expression to a constant', () => {
    fc.assert(
      fc.property(bool, (e) => {
        const folded = foldBool(e);
        if (!readsTokens(e)) expect(folded.op).toBe('bool');
        // Folding twice changes nothing.
        expect(foldBool(folded)).toEqual(folded);
      }),
      { numRuns: runs },
    );
  });

  it('simplifies the identities it promises', () => {
    const x: IntExpr = { op: 'coord', side: 'q', axis: 0 };
    const c = (value: number): IntExpr => ({ op: 'const', value });
    expect(foldInt({ op: 'add', a: x, b: c(0) })).toEqual(x);
    expect(foldInt({ op: 'mul', a: c(1), b: x })).toEqual(x);
    expect(foldInt({ op: 'mul', a: x, b: c(0) })).toEqual(c(0));
    expect(foldInt({ op: 'neg', a: { op: 'neg', a: x } })).toEqual(x);
    expect(foldInt({ op: 'div', a: c(-7), b: c(2) })).toEqual(c(-4));
    expect(foldInt({ op: 'mod', a: c(-7), b: c(2) })).toEqual(c(1));
    expect(foldInt({ op: 'div', a: c(5), b: c(0) })).toEqual(c(0));
    const cmp: BoolExpr = { op: 'cmp', cmp: 'lt', a: x, b: c(3) };
    expect(makeNot(makeNot(cmp))).toEqual(cmp);
    expect(makeNot(cmp)).toEqual({ op: 'cmp', cmp: 'ge', a: x, b: c(3) });
    expect(makeAnd([{ op: 'bool', value: true }, makeAnd([cmp, cmp])])).toEqual(cmp);
    expect(makeOr([cmp, { op: 'bool', value: true }])).toEqual({ op: 'bool', value: true });
    expect(makeAnd([])).toEqual({ op: 'bool', value: true });
    expect(makeOr([])).toEqual({ op: 'bool', value: false });
    expect(foldBool({ op: 'cmp', cmp: 'eq', a: c(2), b: c(2) })).toEqual({ op: 'bool', value: true });
  });
});
