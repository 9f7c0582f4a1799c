/**
 * Property sweep: for random latent grids, Attention Tile parameters and block sizes (aligned or not with the
 * frames, so full, partial and empty blocks all occur), the graph driven by the compiled block plan equals the
 * graph with dense attention under the pattern's element mask. Intensity: TESSERA_TEST_RUNS (default 6).
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileSource } from '../../../compiler/frontend.js';
import { parseModelConfig } from '../../../models/open-sora-plan/config.js';
import { maskedAttention, planAttention } from '../../../models/open-sora-plan/layer-attention.js';
import { createOpenSoraModel } from '../../../models/open-sora-plan/network.js';
import { randomOpenSoraWeights } from '../../../models/open-sora-plan/random-weights.js';
import { findBuiltinPattern } from '../../../patterns/index.js';
import { testRuns } from '../../runtime/cpu/support.js';
import { randomArray, relativeError, TEST_CONFIG } from './support.js';

const ONE_LAYER = parseModelConfig({ ...TEST_CONFIG, name: 'test-1-layer', layers: 1 });
const weights = randomOpenSoraWeights(ONE_LAYER, 3);
const tileFile = findBuiltinPattern('attention_tile')!.file;
const tileSource = { name: tileFile, text: readFileSync(tileFile, 'utf8') };

describe('plan-driven attention in the graph', () => {
  it('equals dense attention under the element mask for random grids, parameters and block sizes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          frames: fc.integer({ min: 1, max: 4 }),
          hp: fc.integer({ min: 1, max: 3 }),
          wp: fc.integer({ min: 1, max: 3 }),
          aFraction: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
          blockQ: fc.integer({ min: 1, max: 40 }),
          blockK: fc.integer({ min: 1, max: 40 }),
          seed: fc.integer({ min: 0, max: 1 << 30 }),
        }),
        async ({ frames, hp, wp, aFraction, blockQ, blockK, seed }) => {
          const a = 1 + Math.floor(aFraction * frames);
          const grid = { frames, height: hp, width: wp };
          const pattern = compileSource(tileSource, {
            pattern: 'attention_tile',
            params: { a },
            sizes: { t: frames, h: hp, w: wp },
          });
          const latent = { frames, height: 2 * hp, width: 2 * wp };
          const x = randomArray(seed, 4 * frames * 4 * hp * wp);
          const text = randomArray(seed + 1, 3 * ONE_LAYER.captionChannels);
          const mask = Uint8Array.from([1, 1, 0]);
          const t = Float32Array.from([seed % 1000]);
          const viaPlan = createOpenSoraModel(ONE_LAYER, weights, {
            latent,
            precision: 'float64',
            attention: [planAttention(pattern, grid, { blockQ, blockK })],
          });
          const viaMask = createOpenSoraModel(ONE_LAYER, weights, {
            latent,
            precision: 'float64',
            attention: [maskedAttention(pattern, grid)],
          });
          const out = await viaPlan.predictNoise(x, t, text, mask, 1);
          expect(relativeError(out, await viaMask.predictNoise(x, t, text, mask, 1))).toBeLessThan(1e-7);
        },
      ),
      { numRuns: testRuns(6) },
    );
  });
});
