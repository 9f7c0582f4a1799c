import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CoordBox } from '../../../compiler/classify/boxes.js';
import { FALSE, intervalOf, TRUE, triOf, UNKNOWN } from '../../../compiler/classify/interval.js';
import { compileBoxPredicate } from '../../../compiler/classify/interval-compile.js';
import { evalBool, evalInt, type Segment } from '../../../compiler/ir.js';
import { irArbitraries } from '../../support/arbitraries/ir.js';
import { testRuns } from '../../support/arbitraries/layout.js';

const box = (axes: number): fc.Arbitrary<CoordBox> =>
  fc
    .record({
      segment: fc.constantFrom<Segment>('video', 'text'),
      ranges: fc.array(fc.tuple(fc.integer({ min: -8, max: 8 }), fc.integer({ min: 0, max: 4 })), {
        minLength: axes,
        maxLength: axes,
      }),
    })
    .map(({ segment, ranges }) => ({
      segment,
      lo: ranges.map(([lo]) => lo),
      hi: ranges.map(([lo, n]) => lo + n),
    }));

/** Every point of a box. */
function points(b: CoordBox): number[][] {
  let out: number[][] = [[]];
  for (let i = 0; i < b.lo.length; i++) {
    const next: number[][] = [];
    for (const p of out) for (let v = b.lo[i]!; v <= b.hi[i]!; v++) next.push([...p, v]);
    out = next;
  }
  return out;
}

const cases = fc.integer({ min: 1, max: 3 }).chain((axes) => {
  const ir = irArbitraries(axes, 3);
  return fc.record({ int: ir.int, bool: ir.bool, q: box(axes), k: box(axes) });
});

describe('interval evaluation', () => {
  it('contains every point value, and the tri-state agrees with every point', () => {
    fc.assert(
      fc.property(cases, ({ int, bool, q, k }) => {
        const [lo, hi] = intervalOf(int, q, k);
        const t = triOf(bool, q, k);
        for (const qp of points(q)) {
          for (const kp of points(k)) {
            const qt = { segment: q.segment, coords: qp };
            const kt = { segment: k.segment, coords: kp };
            const v = evalInt(int, qt, kt);
            expect(v).toBeGreaterThanOrEqual(lo);
            expect(v).toBeLessThanOrEqual(hi);
            const b = evalBool(bool, qt, kt);
            if (t === TRUE) expect(b).toBe(true);
            if (t === FALSE) expect(b).toBe(false);
          }
        }
      }),
      { numRuns: testRuns(300) },
    );
  });

  it('is exact on single points', () => {
    fc.assert(
      fc.property(cases, ({ int, bool, q, k }) => {
        const qp = { segment: q.segment, lo: q.lo, hi: q.lo };
        const kp = { segment: k.segment, lo: k.lo, hi: k.lo };
        const qt = { segment: q.segment, coords: q.lo };
        const kt = { segment: k.segment, coords: k.lo };
        const v = evalInt(int, qt, kt);
        const [lo, hi] = intervalOf(int, qp, kp);
        // `+ 0` folds -0 into 0: the IR compares integers, where the two are the same value.
        expect([lo + 0, hi + 0]).toEqual([v + 0, v + 0]);
        const t = triOf(bool, qp, kp);
        expect(t).not.toBe(UNKNOWN);
        expect(t === TRUE).toBe(evalBool(bool, qt, kt));
      }),
      { numRuns: testRuns(300) },
    );
  });

  it('compiled evaluation returns exactly what the interpreter returns', () => {
    fc.assert(
      fc.property(cases, ({ bool, q, k }) => {
        expect(compileBoxPredicate(bool)(q, k)).toBe(triOf(bool, q, k));
      }),
      { numRuns: testRuns(500) },
    );
  });
});
