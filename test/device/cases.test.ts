/**
 * The GPU tests' random cases build on any machine: every arbitrary of `cases.ts` (each built-in family,
 * Sparse VideoGen and radial windows included) yields plans through the real pipeline, so a case the GPU run
 * draws cannot fail at compile time there, where each failure costs device time.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gpuCaseArb } from './cases.js';

describe('GPU test cases', () => {
  it('every drawn case has a plan whose tokens fit the float64 oracle and whose pattern is a known family', () => {
    const families = new Set<string>();
    for (const c of fc.sample(gpuCaseArb, { numRuns: 300, seed: 4242 })) {
      families.add(c.plan.pattern.name);
      expect(c.plan.seqLen).toBeGreaterThan(0);
      // The oracle is O(S^2 D) per head in float64: the arbitraries keep S small.
      expect(c.plan.seqLen).toBeLessThanOrEqual(2048);
    }
    for (const f of ['radial', 'svg_spatial', 'svg_temporal', 'attention_tile', 'sliding_tile'])
      expect(families, `family ${f} drawn`).toContain(f);
  }, 300_000);
});
