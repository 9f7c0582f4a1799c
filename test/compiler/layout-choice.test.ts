import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bruteForceClasses } from '../../compiler/classify/element-mask.js';
import { attentionTilePattern, videoLayout } from '../../compiler/classify/reference-patterns.js';
import { layoutChoices } from '../../compiler/layout-choice.js';
import { buildPlan } from '../../compiler/plan/build.js';
import { predicateArbitrary } from '../support/arbitraries/ir.js';
import { blockSizeArbitrary, layoutArbitrary, testRuns } from '../support/arbitraries/layout.js';

describe('layoutChoices', () => {
  it('at 720p, padding frames or 80 / 144 / 240-token blocks remove every partial block of Attention Tile', () => {
    const pattern = attentionTilePattern(videoLayout(8, 45, 80), 2);
    const choices = layoutChoices(pattern, 128, 128);
    expect(choices.map((c) => c.label)).toEqual([
      'plain',
      'pad units to 128',
      'blocks 80 x 80',
      'blocks 144 x 144',
      'blocks 240 x 240',
    ]);
    expect(choices[0]!.partial).toBeGreaterThan(0);
    expect(choices[0]!.relativeCompute).toBe(1);
    for (const choice of choices.slice(1)) expect(choice.partial).toBe(0);
    // 3,600 tokens padded to 3,712 per frame.
    expect(choices[1]!.seqLen).toBe(8 * 3712);
    expect(choices[1]!.paddingOverhead).toBeCloseTo(112 / 3600, 12);
    expect(choices[2]!.paddingOverhead).toBe(0);
  });

  it('counts match the classes, and padding keeps the allowed real pairs (predicates read coordinates)', () => {
    const arb = layoutArbitrary({ maxLength: 80, text: false }).chain((layout) =>
      fc.record({
        predicate: predicateArbitrary(layout.axisNames.length),
        layout: fc.constant(layout),
        blockQ: blockSizeArbitrary,
        blockK: blockSizeArbitrary,
      }),
    );
    fc.assert(
      fc.property(arb, ({ predicate, layout, blockQ, blockK }) => {
        const pattern = { key: 'random', name: 'random', params: {}, layout, predicate };
        const [plain, ...rest] = layoutChoices(pattern, blockQ, blockK);
        const oracle = bruteForceClasses(pattern, blockQ, blockK);
        expect(plain!.full).toBe(oracle.filter((c) => c === 2).length);
        expect(plain!.partial).toBe(oracle.filter((c) => c === 1).length);
        expect(plain!.computedPairs).toBe((plain!.full + plain!.partial) * blockQ * blockK);
        // The plan's own counts stand in for classifying the plain choice again.
        const fromPlan = layoutChoices(pattern, blockQ, blockK, buildPlan(pattern, blockQ, blockK).stats);
        expect(fromPlan).toEqual([plain, ...rest]);
        const padded = rest.find((c) => c.label.startsWith('pad'));
        if (padded) {
          expect(padded.layout.unitSlot % blockQ).toBe(0);
          expect(padded.layout.unitSlot % blockK).toBe(0);
          const before = buildPlan(pattern, blockQ, blockK).stats;
          const after = buildPlan({ ...pattern, layout: padded.layout }, blockQ, blockK).stats;
          expect(after.allowedPairs).toBe(before.allowedPairs);
          expect(after.realTokens).toBe(before.realTokens);
        }
      }),
      { numRuns: testRuns(60) },
    );
  });
});
