import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildPlan } from '../../../compiler/plan/build.js';
import { relativeError } from '../../../core/error-metrics.js';
import { type AttentionInputs, blockSparseAttention, denseAttention } from '../../../runtime/cpu/index.js';
import { attentionTilePattern, patternMask, randomValues, seededRandom, testRuns } from './support.js';

describe('blockSparseAttention on plans from the compiler', () => {
  it('matches denseAttention for Attention Tile plans with padding and block sizes that do not divide frames', () => {
    const arb = fc.record({
      frames: fc.integer({ min: 1, max: 5 }),
      height: fc.integer({ min: 1, max: 3 }),
      width: fc.integer({ min: 1, max: 4 }),
      aShare: fc.double({ min: 0, max: 1, noNaN: true }),
      unitPad: fc.integer({ min: 1, max: 8 }),
      blockQ: fc.integer({ min: 1, max: 16 }),
      blockK: fc.integer({ min: 1, max: 16 }),
      seed: fc.integer(),
    });
    fc.assert(
      fc.property(arb, (c) => {
        const a = 1 + Math.floor(c.aShare * (c.frames - 1));
        const pattern = attentionTilePattern(c.frames, c.height, c.width, a, c.unitPad);
        const mask = patternMask(pattern);
        const plan = buildPlan(pattern, c.blockQ, c.blockK);
        const rand = seededRandom(c.seed);
        const [B, H, D, S] = [1, 2, 8, pattern.layout.length];
        const inputs: AttentionInputs = {
          q: randomValues(rand, B * S * H * D, 2),
          k: randomValues(rand, B * S * H * D, 2),
          v: randomValues(rand, B * S * H * D),
          layout: 'bhsd',
          batch: B,
          heads: H,
          seqLen: S,
          headDim: D,
        };
        const ref = denseAttention(inputs, mask.allowed);
        const got = blockSparseAttention(inputs, plan, mask);
        expect(relativeError(got.out, ref.out)).toBeLessThan(1e-12);
        expect(
          Array.from(got.lse).map((x, i) => x === ref.lse[i] || Math.abs(x - ref.lse[i]!) < 1e-12),
        ).not.toContain(false);
      }),
      { numRuns: testRuns(40) },
    );
  });
});
