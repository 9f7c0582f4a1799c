import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compilePredicate, SEGMENT_CODE } from '../../../compiler/classify/compile-predicate.js';
import { evalBool, type Segment } from '../../../compiler/ir.js';
import { predicateArbitrary } from '../../support/arbitraries/ir.js';
import { testRuns } from '../../support/arbitraries/layout.js';

const point = (axes: number) =>
  fc.record({
    segment: fc.constantFrom<Segment>('video', 'text'),
    coords: fc.array(fc.integer({ min: -9, max: 9 }), { minLength: axes, maxLength: axes }),
  });

describe('compilePredicate', () => {
  it('equals evalBool on random predicates and points', () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 4 })
          .chain((axes) =>
            fc.tuple(
              predicateArbitrary(axes),
              fc.array(fc.tuple(point(axes), point(axes)), { minLength: 1, maxLength: 20 }),
            ),
          ),
        ([predicate, pairs]) => {
          const compiled = compilePredicate(predicate);
          for (const [q, k] of pairs) {
            const got = compiled(SEGMENT_CODE[q.segment], q.coords, SEGMENT_CODE[k.segment], k.coords);
            expect(got).toBe(evalBool(predicate, q, k));
          }
        },
      ),
      { numRuns: testRuns(300) },
    );
  });
});
