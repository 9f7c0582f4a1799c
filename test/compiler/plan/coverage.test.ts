/**
 * What the report says beside the speedup: queries with no key (counted from blocks, against brute force),
 * padding (counted like the Flex export and the pictures), and a plan with no computed block at all.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toFlexBlockMask } from '../../../codegen/flex/block-mask.js';
import { compiledElementMask } from '../../../compiler/classify/element-mask.js';
import { compileSource } from '../../../compiler/frontend.js';
import { isRealToken } from '../../../compiler/layout.js';
import { buildPlan } from '../../../compiler/plan/build.js';
import { paddingCounts, queriesWithoutKeys } from '../../../compiler/plan/coverage.js';
import { formatReport, makeReport } from '../../../compiler/report.js';
import { TesseraError } from '../../../dsl/diagnostics.js';
import { testRuns } from '../../support/arbitraries/layout.js';
import { patternSourceArb } from '../../support/arbitraries/pattern-source.js';

function compileOrSkip(text: string, sizes: Record<string, number>) {
  try {
    return compileSource({ name: 'random.tile', text }, { sizes });
  } catch (error) {
    if (error instanceof TesseraError) return undefined; // constant zero divisor or 32-bit overflow
    throw error;
  }
}

describe('plan coverage', () => {
  it('counts queries without keys exactly and padding like the Flex export, on random patterns', () => {
    let withoutKeys = 0;
    let withPadding = 0;
    fc.assert(
      fc.property(
        patternSourceArb,
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 9 }),
        (source, bq, bk) => {
          const pattern = compileOrSkip(source.text, source.sizes);
          if (!pattern) return;
          const plan = buildPlan(pattern, bq, bk);
          const allowed = compiledElementMask(pattern);
          const layout = pattern.layout;
          let missing = 0;
          for (let q = 0; q < plan.seqLen; q++) {
            if (!isRealToken(layout, q)) continue;
            let has = false;
            for (let k = 0; k < plan.seqLen && !has; k++) has = allowed(q, k);
            if (!has) missing++;
          }
          expect(queriesWithoutKeys(plan), source.text).toBe(missing);
          const padding = paddingCounts(plan);
          expect(padding.slots).toBe(plan.seqLen - plan.stats.realTokens);
          expect(padding.fullBlocksWithPadding).toBe(toFlexBlockMask(plan).demotedBlocks);
          if (missing > 0) withoutKeys++;
          if (padding.fullBlocksWithPadding > 0) withPadding++;
        },
      ),
      { numRuns: testRuns(150) },
    );
    // Both cases must occur, or the property proves little.
    expect(withoutKeys).toBeGreaterThan(0);
    expect(withPadding).toBeGreaterThan(0);
  }, 120_000);

  it('reports `attend false` as computing nothing, with no infinite speedup', () => {
    const pattern = compileSource(
      { name: 'none.tile', text: 'layout v(t, h)\npattern none() on v { attend false }' },
      { sizes: { t: 3, h: 5 } },
    );
    const report = makeReport(buildPlan(pattern, 4, 4), 'none.tile', [], {});
    expect(report.predictedSpeedup).toBeNull();
    expect(report.idealSpeedup).toBeNull();
    expect(report.queriesWithoutKeys).toBe(15);
    const text = formatReport(report);
    expect(text).not.toMatch(/Infinity|NaN/);
    expect(text).toContain('no block is computed');
    expect(text).toContain('15 of 15 queries (100.0%) have no allowed key');
    expect(JSON.stringify(report)).not.toMatch(/Infinity|NaN/);
  });

  it('reports padding slots and the full blocks that hold padding, and says the Flex export counts them as partial', () => {
    const text = 'layout v(t, h) {\n  pad frame to 4\n}\npattern frame() on v { attend q.t == k.t }';
    const pattern = compileSource({ name: 'pad.tile', text }, { sizes: { t: 4, h: 3 } });
    const plan = buildPlan(pattern, 4, 4);
    const report = makeReport(plan, 'pad.tile', [], {});
    // Each frame of 3 tokens sits in a 4-slot block: 4 diagonal full blocks, each holding one padding slot.
    expect(report.padding).toEqual({ slots: 4, share: 0.25, fullBlocksWithPadding: 4 });
    expect(report.queriesWithoutKeys).toBe(0);
    const shown = formatReport(report);
    expect(shown).toContain('12 real, 4 padding slots = 25.0%');
    expect(shown).toContain('4 full (4 of them hold padding');
    expect(shown).toContain('the Flex export counts those as partial: 0 full, 4 partial');
    expect(shown).not.toContain('warning');
  });
});
