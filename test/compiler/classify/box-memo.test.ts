/**
 * The box-pair memo keys shift-invariant axes relative to the key box and specialises the other axes per
 * frame pair; these properties aim at exactly those paths: predicates built from query-key differences, frame
 * terms (`k.t == c`, `q.t % c`), and layouts long enough that many block pairs share a key. Classes and
 * allowed-pair counts must equal brute force.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { classifyByBisection } from '../../../compiler/classify/bisect.js';
import { allowedPairCounter } from '../../../compiler/classify/classify.js';
import { bruteForceAllowedPairs, bruteForceClasses } from '../../../compiler/classify/element-mask.js';
import { videoLayout } from '../../../compiler/classify/reference-patterns.js';
import type { BoolExpr, CmpOp, IntExpr, PatternInstance } from '../../../compiler/ir.js';
import { makeLayout } from '../../../compiler/layout.js';
import { paddedSpec } from '../../../compiler/layout-choice.js';
import { testRuns } from '../../support/arbitraries/layout.js';

const k = (value: number): IntExpr => ({ op: 'const', value });
const coord = (side: 'q' | 'k', axis: number): IntExpr => ({ op: 'coord', side, axis });
/** (sum of c_a * q.a) - (sum of c_a * k.a): shift-invariant on every axis. */
const difference = (coefs: number[]): IntExpr => {
  const side = (s: 'q' | 'k'): IntExpr =>
    coefs.reduce<IntExpr>(
      (acc, c, axis) => ({ op: 'add', a: acc, b: { op: 'mul', a: k(c), b: coord(s, axis) } }),
      k(0),
    );
  return { op: 'sub', a: side('q'), b: side('k') };
};

const CMPS: CmpOp[] = ['eq', 'ne', 'lt', 'le', 'gt', 'ge'];

/** Atoms: windows over differences (through abs, log2, pow2, division) and frame terms that break the shift. */
const atom: fc.Arbitrary<BoolExpr> = fc.oneof(
  fc
    .tuple(
      fc.array(fc.integer({ min: -3, max: 6 }), { minLength: 3, maxLength: 3 }),
      fc.constantFrom('abs', 'log2', 'div', 'raw'),
      fc.constantFrom(...CMPS),
      fc.integer({ min: -4, max: 12 }),
    )
    .map(([coefs, shape, cmp, bound]): BoolExpr => {
      const d = difference(coefs);
      const a: IntExpr =
        shape === 'abs'
          ? { op: 'abs', a: d }
          : shape === 'log2'
            ? { op: 'log2', a: { op: 'max', a: { op: 'abs', a: d }, b: k(1) } }
            : shape === 'div'
              ? { op: 'div', a: d, b: k(3) }
              : d;
      return { op: 'cmp', cmp, a, b: k(bound) };
    }),
  fc
    .tuple(fc.constantFrom('q' as const, 'k' as const), fc.integer({ min: 0, max: 3 }))
    .map(([side, frame]): BoolExpr => ({ op: 'cmp', cmp: 'eq', a: coord(side, 0), b: k(frame) })),
  fc
    .integer({ min: 2, max: 3 })
    .map((m): BoolExpr => ({ op: 'cmp', cmp: 'eq', a: { op: 'mod', a: coord('q', 0), b: k(m) }, b: k(0) })),
  // A window whose width depends on the frame distance, as in radial attention.
  fc.integer({ min: 1, max: 6 }).map(
    (w): BoolExpr => ({
      op: 'cmp',
      cmp: 'le',
      a: { op: 'abs', a: difference([0, 5, 1]) },
      b: { op: 'div', a: k(w * 8), b: { op: 'pow2', a: { op: 'abs', a: difference([1, 0, 0]) } } },
    }),
  ),
);

const predicate: fc.Arbitrary<BoolExpr> = fc
  .tuple(
    fc.constantFrom('and' as const, 'or' as const),
    fc.array(atom, { minLength: 1, maxLength: 3 }),
    fc.boolean(),
  )
  .map(([op, args, negate]): BoolExpr => {
    const e: BoolExpr = { op, args };
    return negate ? { op: 'not', a: e } : e;
  });

const memoCase = fc.record({
  frames: fc.integer({ min: 2, max: 7 }),
  h: fc.integer({ min: 1, max: 4 }),
  w: fc.integer({ min: 2, max: 5 }),
  predicate,
  blockQ: fc.integer({ min: 1, max: 9 }),
  blockK: fc.integer({ min: 1, max: 9 }),
});

describe('box-pair memo', () => {
  it('classes and allowed pairs equal brute force on shift-invariant and frame-specialised predicates', () => {
    fc.assert(
      fc.property(memoCase, ({ frames, h, w, predicate: p, blockQ, blockK }) => {
        const pattern: PatternInstance = {
          key: 'memo',
          name: 'memo',
          params: {},
          layout: videoLayout(frames, h, w),
          predicate: p,
        };
        const classes = classifyByBisection(pattern, blockQ, blockK);
        expect(classes).toEqual(bruteForceClasses(pattern, blockQ, blockK));
        const count = allowedPairCounter(pattern, blockQ, blockK);
        const nk = Math.ceil(pattern.layout.length / blockK);
        let allowed = 0;
        for (let qb = 0; qb * blockQ < pattern.layout.length; qb++)
          for (let kb = 0; kb < nk; kb++) allowed += count(qb, kb);
        expect(allowed).toBe(bruteForceAllowedPairs(pattern));
      }),
      { numRuns: testRuns(150) },
    );
  });

  it('memos shared by one predicate across layouts and block sizes still give brute force', () => {
    // The plan, its counter and the report's alternatives (padded units, other block sizes) reuse one memo per
    // predicate; answers learnt on one layout must stay right on the next.
    const sharedCase = fc.record({
      frames: fc.integer({ min: 2, max: 6 }),
      h: fc.integer({ min: 1, max: 4 }),
      w: fc.integer({ min: 2, max: 5 }),
      predicate,
      blocks: fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 2, maxLength: 4 }),
    });
    fc.assert(
      fc.property(sharedCase, ({ frames, h, w, predicate: p, blocks }) => {
        const plain = videoLayout(frames, h, w);
        const padded = makeLayout(paddedSpec(plain, blocks[0]! + 1));
        for (const layout of [plain, padded]) {
          const pattern: PatternInstance = { key: 'memo', name: 'memo', params: {}, layout, predicate: p };
          for (const block of blocks) {
            expect(classifyByBisection(pattern, block, block)).toEqual(
              bruteForceClasses(pattern, block, block),
            );
            const count = allowedPairCounter(pattern, block, block);
            const n = Math.ceil(layout.length / block);
            let allowed = 0;
            for (let qb = 0; qb < n; qb++) for (let kb = 0; kb < n; kb++) allowed += count(qb, kb);
            expect(allowed).toBe(bruteForceAllowedPairs(pattern));
          }
        }
      }),
      { numRuns: testRuns(60) },
    );
  });
});
