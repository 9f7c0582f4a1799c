/**
 * The CTA order of the attention launches (codegen/cuda/cta-order.ts): a permutation of every (unit, query
 * block) pair that starts the heavy blocks of unit u + 1 before the light ones of unit u; the device helper
 * (compiled by the host C++ compiler) agrees with its host twin; and the heavy blocks of the Attention Tile
 * masks are exactly those holding rows of a global frame.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ctaOrder, ctaWork, heavyQueryBlocks } from '../../../codegen/cuda/cta-order.js';
import {
  attentionTilePattern,
  fullPattern,
  videoLayout,
} from '../../../compiler/classify/reference-patterns.js';
import { buildPlan } from '../../../compiler/plan/build.js';
import { testRuns } from '../../support/arbitraries/layout.js';
import { hasCxx, hostHeader, runCxx } from './host-cxx.js';

const orderArb = fc
  .record({
    blocks: fc.integer({ min: 1, max: 40 }),
    units: fc.integer({ min: 1, max: 12 }),
    h: fc.nat(),
    lookahead: fc.integer({ min: 1, max: 4 }),
  })
  .map(({ blocks, units, h, lookahead }) => ({ blocks, units, heavy: h % (blocks + 1), lookahead }));

describe('ctaWork', () => {
  it('visits every (unit, position) once, heavy blocks `lookahead` units ahead of the light ones', () => {
    fc.assert(
      fc.property(orderArb, ({ blocks, units, heavy, lookahead }) => {
        const seen = new Map<string, number>();
        for (let cta = 0; cta < blocks * units; cta++) {
          const { unit, pos } = ctaWork(cta, blocks, heavy, units, lookahead);
          expect(unit).toBeGreaterThanOrEqual(0);
          expect(unit).toBeLessThan(units);
          expect(pos).toBeGreaterThanOrEqual(0);
          expect(pos).toBeLessThan(blocks);
          expect(seen.has(`${unit},${pos}`)).toBe(false);
          seen.set(`${unit},${pos}`, cta);
        }
        const at = (unit: number, pos: number) => seen.get(`${unit},${pos}`)!;
        const d = Math.min(lookahead, units);
        for (let u = 0; u < units; u++) {
          // Within a unit, schedule order (heaviest first).
          for (let pos = 1; pos < blocks; pos++) expect(at(u, pos)).toBeGreaterThan(at(u, pos - 1));
          if (heavy === 0 || heavy === blocks) {
            if (u > 0) expect(at(u, 0)).toBe(at(u - 1, blocks - 1) + 1); // head by head
            continue;
          }
          // The heavy blocks of unit u + d start before the light ones of unit u, and not those of u + d + 1.
          if (u + d < units) expect(at(u + d, heavy - 1)).toBeLessThan(at(u, heavy));
          if (u + d + 1 < units) expect(at(u + d + 1, 0)).toBeGreaterThan(at(u, heavy));
        }
      }),
      { numRuns: testRuns(60) },
    );
  });

  it('is the head-by-head order when no block is heavy', () => {
    for (const lookahead of [1, 2, 3]) {
      for (let cta = 0; cta < 5 * 7; cta++)
        expect(ctaWork(cta, 7, 0, 5, lookahead)).toEqual({ unit: Math.floor(cta / 7), pos: cta % 7 });
    }
  });

  it.skipIf(!hasCxx())('agrees with the device helper tp_cta_work, compiled by the host C++ compiler', () => {
    const cases = fc.sample(orderArb, { numRuns: 40, seed: Date.now() | 0 });
    const calls = cases
      .map(
        ({ blocks, heavy, units, lookahead }) =>
          `for (int c = 0; c < ${blocks * units}; ++c) { tp_cta_work(c, ${blocks}, ${heavy}, ${units}, ${lookahead}, u, p); std::printf("%d %d ", u, p); }`,
      )
      .join('\n');
    const got = runCxx(
      `#include <cstdio>\n${hostHeader('tessera/tessera.cuh')}\nint main() {\nint u, p;\n${calls}\n}\n`,
    )
      .trim()
      .split(' ')
      .map(Number);
    const want = cases.flatMap(({ blocks, heavy, units, lookahead }) =>
      Array.from({ length: blocks * units }, (_, c) => {
        const { unit, pos } = ctaWork(c, blocks, heavy, units, lookahead);
        return [unit, pos];
      }).flat(),
    );
    expect(got).toEqual(want);
  });
});

describe('heavyQueryBlocks', () => {
  it('is 0 for a dense plan (every block has the same work)', () => {
    expect(heavyQueryBlocks(buildPlan(fullPattern(videoLayout(3, 4, 6)), 16, 16))).toBe(0);
  });

  it('picks exactly the query blocks holding rows of a global frame for Attention Tile a:(T-a), T > a + 3', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 6, max: 10 }),
        fc.integer({ min: 1, max: 2 }),
        fc.integer({ min: 4, max: 8 }),
        fc.integer({ min: 4, max: 10 }),
        fc.constantFrom(4, 8, 16),
        (frames, globals, h, w, block) => {
          // Frames of four blocks or more: a block spans at most two frames and sees at most globals + 2 of
          // them, while a global row sees all T > globals + 3, so the midpoint separates the two.
          fc.pre(4 * block <= h * w);
          const plan = buildPlan(attentionTilePattern(videoLayout(frames, h, w), globals), block, block);
          const stride = Math.ceil(frames / globals);
          const isGlobal = (f: number) => f % stride === 0 && f / stride < globals;
          const perFrame = h * w;
          const holdsGlobalRow = (qb: number) => {
            for (let t = qb * block; t < Math.min((qb + 1) * block, plan.seqLen); t++)
              if (isGlobal(Math.floor(t / perFrame))) return true;
            return false;
          };
          const heavy = new Set(Array.from(plan.schedule.slice(0, heavyQueryBlocks(plan))));
          for (let qb = 0; qb < plan.numQBlocks; qb++) expect(heavy.has(qb)).toBe(holdsGlobalRow(qb));
        },
      ),
      { numRuns: testRuns(30) },
    );
  });
});

describe('ctaOrder', () => {
  it('has lookahead 1 without heavy blocks, growing with the SM count up to 3', () => {
    expect(ctaOrder(buildPlan(fullPattern(videoLayout(3, 4, 6)), 16, 16), 132).lookahead).toBe(1);
    const plan = buildPlan(attentionTilePattern(videoLayout(8, 6, 8), 1), 16, 16);
    let last = 0;
    for (const sms of [1, 4, 16, 64, 132, 1000]) {
      const d = ctaOrder(plan, sms).lookahead;
      expect(d).toBeGreaterThanOrEqual(Math.max(1, last));
      expect(d).toBeLessThanOrEqual(3);
      last = d;
    }
    expect(ctaOrder(plan, 1).lookahead).toBe(1);
    expect(ctaOrder(plan, 1000).lookahead).toBe(3);
    expect(ctaOrder(plan, 132).heavyBlocks).toBe(heavyQueryBlocks(plan));
  });
});
