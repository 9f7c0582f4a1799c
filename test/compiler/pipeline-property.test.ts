/**
 * The whole compiler on random well-typed patterns: source -> check -> lower -> classify -> plan, against
 * brute-force evaluation of the lowered predicate on every element pair, and the formatter's output
 * compiling to the very same predicate.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { classifyBlocks } from '../../compiler/classify/classify.js';
import { bruteForceClasses, compiledElementMask } from '../../compiler/classify/element-mask.js';
import { compileSource } from '../../compiler/frontend.js';
import type { PatternInstance } from '../../compiler/ir.js';
import { buildPlan } from '../../compiler/plan/build.js';
import { verifyPlan } from '../../compiler/plan/verify.js';
import { TesseraError } from '../../dsl/diagnostics.js';
import { formatTile } from '../../dsl/format.js';
import { parseTile } from '../../dsl/parse.js';
import { testRuns } from '../support/arbitraries/layout.js';
import { patternSourceArb } from '../support/arbitraries/pattern-source.js';

/** Compile, or undefined when the only errors are legitimate rejections: a constant divisor 0 (TP309), 32-bit overflow (TP310). */
function tryCompile(text: string, sizes: Record<string, number>): PatternInstance | undefined {
  try {
    return compileSource({ name: 'random.tile', text }, { sizes });
  } catch (error) {
    expect(error, text).toBeInstanceOf(TesseraError);
    const codes = (error as TesseraError).diagnostics.map((d) => d.code);
    expect(
      codes.every((c) => c === 'TP309' || c === 'TP310'),
      `${text}\n${(error as Error).message}`,
    ).toBe(true);
    return undefined;
  }
}

describe('random well-typed patterns through the whole compiler', () => {
  it('classify exactly like brute force, at block sizes that do not divide the sequence', () => {
    let compiled = 0;
    fc.assert(
      fc.property(
        patternSourceArb,
        fc.integer({ min: 1, max: 13 }),
        fc.integer({ min: 1, max: 13 }),
        (source, bq, bk) => {
          const pattern = tryCompile(source.text, source.sizes);
          if (!pattern) return;
          compiled++;
          expect(Array.from(classifyBlocks(pattern, bq, bk)), source.text).toEqual(
            Array.from(bruteForceClasses(pattern, bq, bk)),
          );
          const plan = buildPlan(pattern, bq, bk);
          expect(verifyPlan(plan), source.text).toEqual([]);
          const mask = compiledElementMask(pattern);
          let allowed = 0;
          for (let q = 0; q < plan.seqLen; q++)
            for (let k = 0; k < plan.seqLen; k++) if (mask(q, k)) allowed++;
          expect(plan.stats.allowedPairs).toBe(allowed);
        },
      ),
      { numRuns: testRuns(150) },
    );
    // The generator is typed by construction: nearly every draw must compile.
    expect(compiled).toBeGreaterThan(testRuns(150) * 0.8);
  });

  it('compile to the same predicate after formatting', () => {
    fc.assert(
      fc.property(patternSourceArb, (source) => {
        const pattern = tryCompile(source.text, source.sizes);
        if (!pattern) return;
        const { file } = parseTile({ name: 'random.tile', text: source.text });
        const again = tryCompile(formatTile(file!), source.sizes);
        expect(again?.predicate, formatTile(file!)).toEqual(pattern.predicate);
        expect(again?.layout).toEqual(pattern.layout);
      }),
      { numRuns: testRuns(150) },
    );
  });
});
