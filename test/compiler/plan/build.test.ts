import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bruteForceAllowedPairs,
  bruteForceClasses,
  elementMask,
} from '../../../compiler/classify/element-mask.js';
import { abs, and, eq, ge, kc, le, qc, sub } from '../../../compiler/classify/ir-builder.js';
import {
  attentionTilePattern,
  fullPattern,
  slidingTilePattern,
  videoLayout,
} from '../../../compiler/classify/reference-patterns.js';
import { type BoolExpr, evalBool, type PatternInstance } from '../../../compiler/ir.js';
import { decodeToken } from '../../../compiler/layout.js';
import { buildPlan } from '../../../compiler/plan/build.js';
import { enumerateClosedFormKeyBlocks } from '../../../compiler/plan/closed-form.js';
import { deserializePlan, serializePlan } from '../../../compiler/plan/io.js';
import type { BlockPlan } from '../../../compiler/plan/plan.js';
import { verifyPlan } from '../../../compiler/plan/verify.js';
import { TesseraError } from '../../../dsl/diagnostics.js';
import { predicateArbitrary } from '../../support/arbitraries/ir.js';
import { blockSizeArbitrary, layoutArbitrary, testRuns } from '../../support/arbitraries/layout.js';

const pattern = (
  layout: PatternInstance['layout'],
  predicate: BoolExpr,
  key = 'random',
): PatternInstance => ({
  key,
  name: key,
  params: {},
  layout,
  predicate,
});

/** Classes rebuilt from the CSR tables, to compare with the brute-force oracle. */
function classesFromPlan(plan: BlockPlan): Uint8Array {
  const out = new Uint8Array(plan.numQBlocks * plan.numKBlocks);
  for (let qb = 0; qb < plan.numQBlocks; qb++) {
    for (let m = plan.full.offsets[qb]!; m < plan.full.offsets[qb + 1]!; m++)
      out[qb * plan.numKBlocks + plan.full.indices[m]!] = 2;
    for (let m = plan.partial.offsets[qb]!; m < plan.partial.offsets[qb + 1]!; m++)
      out[qb * plan.numKBlocks + plan.partial.indices[m]!] = 1;
  }
  return out;
}

/** The rebuild loop from plan.ts's doc comment, compared element by element with the oracle. */
function expectRebuildEqualsMask(plan: BlockPlan): void {
  const { layout, predicate } = plan.pattern;
  const mask = elementMask(plan.pattern);
  const classes = classesFromPlan(plan);
  for (let qi = 0; qi < plan.seqLen; qi++) {
    const q = decodeToken(layout, qi, []);
    for (let ki = 0; ki < plan.seqLen; ki++) {
      const k = decodeToken(layout, ki, []);
      const c = classes[Math.floor(qi / plan.blockQ) * plan.numKBlocks + Math.floor(ki / plan.blockK)];
      const rebuilt = q !== null && k !== null && (c === 2 || (c === 1 && evalBool(predicate, q, k)));
      expect(rebuilt).toBe(mask(qi, ki));
    }
  }
}

const randomCase = layoutArbitrary({ maxLength: 120 }).chain((layout) =>
  fc.record({
    pattern: fc
      .oneof(predicateArbitrary(layout.axisNames.length), predicateArbitrary(1))
      .map((p) => pattern(layout, p)),
    blockQ: blockSizeArbitrary,
    blockK: blockSizeArbitrary,
  }),
);

describe('buildPlan', () => {
  it('satisfies every invariant and matches the brute-force classes and pair count', () => {
    fc.assert(
      fc.property(randomCase, ({ pattern, blockQ, blockK }) => {
        const plan = buildPlan(pattern, blockQ, blockK);
        expect(verifyPlan(plan)).toEqual([]);
        expect(classesFromPlan(plan)).toEqual(bruteForceClasses(pattern, blockQ, blockK));
        expect(plan.stats.allowedPairs).toBe(bruteForceAllowedPairs(pattern));
      }),
      { numRuns: testRuns(120) },
    );
  });

  it('the plan format rebuilds the element mask', () => {
    fc.assert(
      fc.property(
        layoutArbitrary({ maxLength: 50 }).chain((layout) =>
          fc.record({
            pattern: predicateArbitrary(layout.axisNames.length).map((p) => pattern(layout, p)),
            b: blockSizeArbitrary,
          }),
        ),
        ({ pattern, b }) => {
          expectRebuildEqualsMask(buildPlan(pattern, b, b + 1));
        },
      ),
      { numRuns: testRuns(30) },
    );
  });

  it('3D sliding tile with edge tiles: invariants, exact classes and pair count', () => {
    const p = slidingTilePattern([5, 6, 7], [2, 4, 3], [3, 1, 3]);
    for (const [bq, bk] of [
      [24, 24],
      [24, 17],
    ] as const) {
      const plan = buildPlan(p, bq, bk);
      expect(verifyPlan(plan)).toEqual([]);
      expect(classesFromPlan(plan)).toEqual(bruteForceClasses(p, bq, bk));
      expect(plan.stats.allowedPairs).toBe(bruteForceAllowedPairs(p));
    }
  });

  it('rejects block sizes that are not positive integers with a diagnostic', () => {
    const p = fullPattern(videoLayout(2, 2, 2));
    for (const bad of [0, -4, 1.5, Number.NaN]) {
      expect(() => buildPlan(p, bad, 16)).toThrow(TesseraError);
      expect(() => buildPlan(p, 16, bad)).toThrow(TesseraError);
    }
    let codes: string[] = [];
    try {
      buildPlan(p, 0, 16);
    } catch (error) {
      codes = (error as TesseraError).diagnostics.map((d) => d.code);
    }
    expect(codes).toEqual(['TP312']);
  });

  it("round-trips the pattern's declaration through plan JSON", () => {
    const declaration = {
      file: 'patterns/p.tile',
      range: { start: { line: 3, column: 1, offset: 20 }, end: { line: 3, column: 10, offset: 29 } },
    };
    const plan = buildPlan({ ...fullPattern(videoLayout(2, 2, 2)), declaration }, 4, 4);
    expect(deserializePlan(serializePlan(plan)).pattern.declaration).toEqual(declaration);
  });
});

describe('closed forms', () => {
  it('Attention Tile on block-aligned frames: recognised for every T in 1..12, a in 1..T, equal to the CSR', () => {
    for (let frames = 1; frames <= 12; frames++) {
      for (let a = 1; a <= frames; a++) {
        // 3 x 5 = 15 tokens per frame padded to 16: aligned to blocks of 8 (query) and 16 (key).
        const p = attentionTilePattern(videoLayout(frames, 3, 5, 16), a);
        const plan = buildPlan(p, 8, 16);
        expect(verifyPlan(plan)).toEqual([]);
        expect(classesFromPlan(plan)).toEqual(bruteForceClasses(p, 8, 16));
        const cf = plan.closedForm;
        expect(cf).not.toBeNull();
        for (let qb = 0; qb < plan.numQBlocks; qb++) {
          const union = [...plan.full.indices.subarray(plan.full.offsets[qb], plan.full.offsets[qb + 1])];
          expect([...enumerateClosedFormKeyBlocks(cf!, plan, qb)]).toEqual(union);
        }
      }
    }
  });

  it('causal and sliding frame windows are bands; dense is recognised', () => {
    const layout = videoLayout(7, 2, 4);
    const causal = buildPlan(pattern(layout, le(kc(0), qc(0))), 8, 4);
    expect(causal.closedForm).toMatchObject({
      kind: 'units',
      band: { lo: -7, hi: 0 },
      keyUnits: null,
      queryUnits: null,
    });
    const window = buildPlan(pattern(layout, le(abs(sub(qc(0), kc(0))), 2)), 4, 8);
    expect(window.closedForm).toMatchObject({ kind: 'units', band: { lo: -2, hi: 2 } });
    expect(buildPlan(fullPattern(layout), 5, 3).closedForm).toEqual({ kind: 'dense' });
    for (const plan of [causal, window]) expect(verifyPlan(plan)).toEqual([]);
  });

  it('is withheld when blocks are partial or the unit mask is not a band plus globals', () => {
    expect(buildPlan(attentionTilePattern(videoLayout(4, 3, 5), 1), 8, 8).closedForm).toBeNull();
    // Within a frame the predicate depends on w, so aligned units still hold partial blocks.
    const layout = videoLayout(6, 1, 4);
    const spatial = buildPlan(pattern(layout, and(eq(qc(0), kc(0)), ge(qc(2), kc(2)))), 4, 4);
    expect(spatial.closedForm).toBeNull();
  });

  it('closed forms found on random patterns and aligned layouts reproduce the CSR', () => {
    let found = 0;
    const aligned = fc.record({
      frames: fc.integer({ min: 1, max: 9 }),
      block: fc.constantFrom(2, 4, 8),
      predicate: predicateArbitrary(1),
    });
    fc.assert(
      fc.property(aligned, ({ frames, block, predicate }) => {
        const p = pattern(videoLayout(frames, 2, 3, 8), predicate);
        const plan = buildPlan(p, block, 8 / (block === 8 ? 2 : 1));
        expect(verifyPlan(plan)).toEqual([]);
        if (plan.closedForm) found++;
      }),
      { numRuns: testRuns(200) },
    );
    expect(found).toBeGreaterThan(0);
  });
});

describe('verifyPlan', () => {
  it('reports corrupted plans', () => {
    const plan = buildPlan(attentionTilePattern(videoLayout(6, 2, 3), 2), 4, 5);
    expect(verifyPlan(plan)).toEqual([]);
    const swapped = plan.full.indices.slice();
    [swapped[0], swapped[1]] = [swapped[1]!, swapped[0]!];
    expect(verifyPlan({ ...plan, full: { ...plan.full, indices: swapped } })).not.toEqual([]);
    const overlap = { ...plan, partial: plan.full };
    expect(verifyPlan(overlap)).not.toEqual([]);
    expect(
      verifyPlan({ ...plan, stats: { ...plan.stats, allowedPairs: plan.stats.allowedPairs + 10_000 } }),
    ).not.toEqual([]);
    expect(verifyPlan({ ...plan, schedule: plan.schedule.slice().reverse() })).not.toEqual([]);
    expect(verifyPlan({ ...plan, closedForm: { kind: 'dense' } })).not.toEqual([]);
  });
});
