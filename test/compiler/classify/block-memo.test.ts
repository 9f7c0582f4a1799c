/**
 * The block-pair memo shares answers between blocks that are the same boxes in other frames, for predicates
 * that read frames only through query-key differences. Property: classes and allowed-pair counts with the memo
 * equal brute force on random layouts (text segments, tiles) and random difference-shaped predicates; the memo
 * refuses predicates that read a frame absolutely.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { classifyByBisection } from '../../../compiler/classify/bisect.js';
import { blockPairMemo } from '../../../compiler/classify/block-memo.js';
import { allowedPairCounter } from '../../../compiler/classify/classify.js';
import { bruteForceAllowedPairs, bruteForceClasses } from '../../../compiler/classify/element-mask.js';
import { videoLayout } from '../../../compiler/classify/reference-patterns.js';
import type { BoolExpr, CmpOp, IntExpr, PatternInstance } from '../../../compiler/ir.js';
import { layoutArbitrary, testRuns } from '../../support/arbitraries/layout.js';

const k = (value: number): IntExpr => ({ op: 'const', value });
const coord = (side: 'q' | 'k', axis: number): IntExpr => ({ op: 'coord', side, axis });
/** (sum of c_a * q.a) - (sum of c_a * k.a) over the given axes: unchanged by shifting both sides alike. */
const difference = (coefs: readonly number[]): IntExpr => {
  const side = (s: 'q' | 'k'): IntExpr =>
    coefs.reduce<IntExpr>(
      (acc, c, axis) => ({ op: 'add', a: acc, b: { op: 'mul', a: k(c), b: coord(s, axis) } }),
      k(0),
    );
  return { op: 'sub', a: side('q'), b: side('k') };
};
const CMPS: CmpOp[] = ['eq', 'ne', 'lt', 'le', 'gt', 'ge'];

/** Windows over differences (the frame axis among them or not), segment tests, in-frame absolute terms. */
const atom = (axes: number): fc.Arbitrary<BoolExpr> => {
  const window = fc
    .tuple(
      fc.array(fc.integer({ min: -3, max: 5 }), { minLength: axes, maxLength: axes }),
      fc.boolean(),
      fc.constantFrom(...CMPS),
      fc.integer({ min: -3, max: 10 }),
    )
    .map(([coefs, abs, cmp, bound]): BoolExpr => {
      const d = difference(coefs);
      return { op: 'cmp', cmp, a: abs ? { op: 'abs', a: d } : d, b: k(bound) };
    });
  const segment = fc
    .tuple(fc.constantFrom('q' as const, 'k' as const), fc.constantFrom('text' as const, 'video' as const))
    .map(([side, seg]): BoolExpr => ({ op: 'segment', side, segment: seg }));
  if (axes < 2) return fc.oneof(window, segment);
  // Absolute on an axis other than the frame axis: the memo still applies.
  const inFrame = fc
    .tuple(fc.integer({ min: 1, max: axes - 1 }), fc.integer({ min: 0, max: 3 }))
    .map(([axis, value]): BoolExpr => ({ op: 'cmp', cmp: 'le', a: coord('k', axis), b: k(value) }));
  return fc.oneof(window, segment, inFrame);
};

const memoCase = layoutArbitrary({ maxLength: 90 })
  .filter((layout) => layout.videoAxes.length > 0)
  .chain((layout) =>
    fc.record({
      layout: fc.constant(layout),
      predicate: fc
        .tuple(
          fc.constantFrom('and' as const, 'or' as const),
          fc.array(atom(layout.axisNames.length), {
            minLength: 1,
            maxLength: 3,
          }),
        )
        .map(([op, args]): BoolExpr => ({ op, args })),
      blockQ: fc.integer({ min: 1, max: 12 }),
      blockK: fc.integer({ min: 1, max: 12 }),
    }),
  );

describe('block-pair memo', () => {
  it('classes and allowed pairs equal brute force where it applies', () => {
    fc.assert(
      fc.property(memoCase, ({ layout, predicate, blockQ, blockK }) => {
        expect(blockPairMemo(predicate, layout, blockQ, blockK)).not.toBeNull();
        const pattern: PatternInstance = { key: 'blocks', name: 'blocks', params: {}, layout, predicate };
        expect(classifyByBisection(pattern, blockQ, blockK)).toEqual(
          bruteForceClasses(pattern, blockQ, blockK),
        );
        const count = allowedPairCounter(pattern, blockQ, blockK);
        const nq = Math.ceil(layout.length / blockQ);
        const nk = Math.ceil(layout.length / blockK);
        let allowed = 0;
        for (let qb = 0; qb < nq; qb++) for (let kb = 0; kb < nk; kb++) allowed += count(qb, kb);
        expect(allowed).toBe(bruteForceAllowedPairs(pattern));
      }),
      { numRuns: testRuns(200) },
    );
  });

  it('works each shape pair out once: blocks one frame apart share an answer, a sink frame refuses the memo', () => {
    // Frames of 6 tokens, blocks of 3: every block is the first or second half of a frame.
    const layout = videoLayout(5, 2, 3);
    const sameSpot: BoolExpr = {
      op: 'and',
      args: [
        { op: 'cmp', cmp: 'eq', a: difference([0, 1, 1]), b: k(0) },
        { op: 'cmp', cmp: 'le', a: { op: 'abs', a: difference([1, 0, 0]) }, b: k(1) },
      ],
    };
    const memo = blockPairMemo(sameSpot, layout, 3, 3)!;
    let computed = 0;
    const answer = (qb: number, kb: number) => memo(qb, kb, () => ++computed);
    // Blocks 0 and 2 are the same half of frames 0 and 1, as are blocks 1 and 3, 3 and 5.
    expect(answer(0, 1)).toBe(answer(2, 3));
    expect(answer(3, 3)).toBe(answer(5, 5));
    // Another frame distance is another key.
    expect(answer(0, 3)).not.toBe(answer(0, 1));
    expect(computed).toBe(3);
    const sink: BoolExpr = { op: 'cmp', cmp: 'eq', a: coord('k', 0), b: k(0) };
    expect(blockPairMemo({ op: 'or', args: [sameSpot, sink] }, layout, 3, 3)).toBeNull();
  });
});
