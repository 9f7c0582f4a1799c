import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  boxVolume,
  type CoordBox,
  rangeBoxes,
  unitBox,
  unitOfCoords,
} from '../../../compiler/classify/boxes.js';
import { decodeToken } from '../../../compiler/layout.js';
import { layoutArbitrary, testRuns } from '../../support/arbitraries/layout.js';

function contains(box: CoordBox, segment: string, coords: ArrayLike<number>): boolean {
  if (box.segment !== segment) return false;
  for (let i = 0; i < box.lo.length; i++)
    if (coords[i]! < box.lo[i]! || coords[i]! > box.hi[i]!) return false;
  return true;
}

describe('rangeBoxes', () => {
  it('covers exactly the real tokens of any index range, each once', () => {
    const arb = layoutArbitrary().chain((layout) =>
      fc.tuple(
        fc.constant(layout),
        fc.integer({ min: -3, max: layout.length + 3 }),
        fc.integer({ min: -3, max: layout.length + 3 }),
      ),
    );
    fc.assert(
      fc.property(arb, ([layout, a, b]) => {
        const start = Math.min(a, b);
        const end = Math.max(a, b);
        const boxes = rangeBoxes(layout, start, end);
        expect(boxes.length).toBeLessThanOrEqual(4 * layout.videoAxes.length + 2);
        let real = 0;
        for (let i = 0; i < layout.length; i++) {
          const token = decodeToken(layout, i);
          if (!token) continue;
          const hits = boxes.filter((box) => contains(box, token.segment, token.coords)).length;
          expect(hits).toBe(i >= start && i < end ? 1 : 0);
          if (i >= start && i < end) real++;
        }
        // Every box point is a real token of the range: volumes add up to the count of covered tokens.
        expect(boxes.reduce((sum, box) => sum + boxVolume(box), 0)).toBe(real);
      }),
      { numRuns: testRuns(300) },
    );
  });

  it('unit boxes hold exactly the real tokens of their unit', () => {
    fc.assert(
      fc.property(layoutArbitrary(), (layout) => {
        for (let u = 0; u < layout.unitCount; u++) {
          const start = layout.videoStart + u * layout.unitSlot;
          const expected = rangeBoxes(layout, start, start + layout.unitSlot).reduce(
            (s, b) => s + boxVolume(b),
            0,
          );
          const box = unitBox(layout, u);
          expect(boxVolume(box)).toBe(expected);
          expect(unitOfCoords(layout, box.lo)).toBe(u);
          expect(unitOfCoords(layout, box.hi)).toBe(u);
        }
      }),
      { numRuns: testRuns(200) },
    );
  });
});
