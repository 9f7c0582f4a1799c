import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { classifyByBisection } from '../../../compiler/classify/bisect.js';
import { classifyByFrameTable, classifyByUnitTable } from '../../../compiler/classify/class-table.js';
import { classifyBlocks } from '../../../compiler/classify/classify.js';
import { bruteForceClasses } from '../../../compiler/classify/element-mask.js';
import { abs, and, div, eq, kc, le, qc, sub } from '../../../compiler/classify/ir-builder.js';
import {
  attentionTilePattern,
  slidingTilePattern,
  videoLayout,
} from '../../../compiler/classify/reference-patterns.js';
import type { BoolExpr, PatternInstance } from '../../../compiler/ir.js';
import type { ConcreteLayout } from '../../../compiler/layout.js';
import { predicateArbitrary } from '../../support/arbitraries/ir.js';
import { blockSizeArbitrary, layoutArbitrary, testRuns } from '../../support/arbitraries/layout.js';

const pattern = (layout: ConcreteLayout, predicate: BoolExpr): PatternInstance => ({
  key: 'random',
  name: 'random',
  params: {},
  layout,
  predicate,
});

/** A random layout, a random predicate over its axes and random block sizes. */
const randomCase = (maxLength = 120) =>
  layoutArbitrary({ maxLength }).chain((layout) =>
    fc.record({
      pattern: predicateArbitrary(layout.axisNames.length).map((p) => pattern(layout, p)),
      blockQ: blockSizeArbitrary,
      blockK: blockSizeArbitrary,
    }),
  );

/** Predicates reading only the frame axis (and segments), for the frame-table path. */
const frameCase = layoutArbitrary({ maxLength: 120 }).chain((layout) =>
  fc.record({
    pattern: predicateArbitrary(1).map((p) => pattern(layout, p)),
    blockQ: blockSizeArbitrary,
    blockK: blockSizeArbitrary,
  }),
);

describe('classifyBlocks is exact', () => {
  it('bisection equals brute force on random layouts and predicates', () => {
    fc.assert(
      fc.property(randomCase(), ({ pattern, blockQ, blockK }) => {
        expect(classifyByBisection(pattern, blockQ, blockK)).toEqual(
          bruteForceClasses(pattern, blockQ, blockK),
        );
      }),
      { numRuns: testRuns(150) },
    );
  });

  it('the frame table equals brute force on frame-axis predicates', () => {
    fc.assert(
      fc.property(frameCase, ({ pattern, blockQ, blockK }) => {
        const classes = classifyByFrameTable(pattern, blockQ, blockK);
        expect(classes).not.toBeNull();
        expect(classes).toEqual(bruteForceClasses(pattern, blockQ, blockK));
      }),
      { numRuns: testRuns(150) },
    );
  });

  it('the unit table, when it applies, equals brute force', () => {
    let applied = 0;
    fc.assert(
      fc.property(fc.oneof(randomCase(), frameCase), ({ pattern, blockQ, blockK }) => {
        const classes = classifyByUnitTable(pattern, blockQ, blockK);
        if (classes === null) return;
        applied++;
        expect(classes).toEqual(bruteForceClasses(pattern, blockQ, blockK));
      }),
      { numRuns: testRuns(200) },
    );
    expect(applied).toBeGreaterThan(0);
  });

  it('the dispatcher equals brute force', () => {
    fc.assert(
      fc.property(fc.oneof(randomCase(), frameCase), ({ pattern, blockQ, blockK }) => {
        expect(classifyBlocks(pattern, blockQ, blockK)).toEqual(bruteForceClasses(pattern, blockQ, blockK));
      }),
      { numRuns: testRuns(150) },
    );
  });
});

describe('classifyBlocks on library-shaped patterns', () => {
  it('Attention Tile: every T in 1..12 and a in 1..T, on frames that are not block multiples', () => {
    for (let frames = 1; frames <= 12; frames++) {
      for (let a = 1; a <= frames; a++) {
        const p = attentionTilePattern(videoLayout(frames, 3, 5), a);
        const blocks = [7 + ((frames + a) % 9), 16];
        const expected = bruteForceClasses(p, blocks[0]!, blocks[1]!);
        expect(classifyBlocks(p, blocks[0]!, blocks[1]!)).toEqual(expected);
        expect(classifyByBisection(p, blocks[0]!, blocks[1]!)).toEqual(expected);
      }
    }
  });

  it('3D sliding tile with edge tiles, by both methods', () => {
    const p = slidingTilePattern([5, 6, 7], [2, 4, 3], [3, 1, 3]);
    for (const [bq, bk] of [
      [24, 24],
      [13, 29],
    ] as const) {
      const expected = bruteForceClasses(p, bq, bk);
      expect(classifyBlocks(p, bq, bk)).toEqual(expected);
      expect(classifyByBisection(p, bq, bk)).toEqual(expected);
    }
  });

  it('a spatial window (needs bisection inside units)', () => {
    const layout = videoLayout(3, 6, 7);
    const predicate = and(
      eq(qc(0), kc(0)),
      le(abs(sub(qc(1), kc(1))), 1),
      le(abs(sub(div(qc(2), 2), div(kc(2), 2))), 1),
    );
    const p = pattern(layout, predicate);
    expect(classifyByUnitTable(p, 10, 10)).toBeNull();
    expect(classifyBlocks(p, 10, 11)).toEqual(bruteForceClasses(p, 10, 11));
  });
});
