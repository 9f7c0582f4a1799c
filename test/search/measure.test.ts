import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { relativeError } from '../../core/error-metrics.js';
import type { OpenSoraConfig } from '../../models/open-sora-plan/config.js';
import { createOpenSoraModel } from '../../models/open-sora-plan/network.js';
import type { ModelWeights } from '../../models/open-sora-plan/weights.js';
import type { SelfAttentionSpec } from '../../runtime/model-ops.js';
import type { CalibrationInput } from '../../search/calibration.js';
import type { SearchCandidate } from '../../search/candidates.js';
import { chooseCandidate, type SearchMode, searchLayers } from '../../search/measure.js';
import { testRuns } from '../support/arbitraries/ast.js';
import { LATENT, randomInputs, tinyCandidates, tinyConfig, tinyNetwork, tinyWeights } from './support.js';

const DENSE: SelfAttentionSpec = { kind: 'dense' };

/** The model's epsilon on every input with the given attention per layer: whole forwards, nothing cached. */
async function predict(
  config: OpenSoraConfig,
  weights: ModelWeights,
  attention: readonly SelfAttentionSpec[],
  inputs: readonly CalibrationInput[],
): Promise<Float32Array[]> {
  const model = createOpenSoraModel(config, weights, { latent: LATENT, precision: 'float64', attention });
  return Promise.all(inputs.map((i) => model.predictNoise(i.x, i.timesteps, i.text, i.textMask, i.batch)));
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * The brute-force oracle: every (layer, candidate) evaluated with a fresh whole-network forward, and the
 * decision rule applied directly. Cumulative mode walks each threshold on its own.
 */
async function bruteForce(
  config: OpenSoraConfig,
  weights: ModelWeights,
  candidates: readonly SearchCandidate[],
  inputs: readonly CalibrationInput[],
  thresholds: readonly number[],
  mode: SearchMode,
): Promise<{ errors: number[][][]; choices: number[][] }> {
  const full = Array.from({ length: config.layers }, () => DENSE);
  const reference = await predict(config, weights, full, inputs);
  const errorsAt = async (prefix: readonly SelfAttentionSpec[], layer: number) => {
    const row: number[] = [];
    for (const c of candidates) {
      const attention = [...prefix, c.attention, ...full.slice(layer + 1)];
      const out = await predict(config, weights, attention, inputs);
      row.push(mean(out.map((o, i) => relativeError(o, reference[i]!))));
    }
    return row;
  };
  const sparsestUnder = (row: readonly number[], r: number) => {
    const i = row.findIndex((e) => e <= r);
    return i >= 0 ? i : candidates.findIndex((c) => c.dense);
  };
  const errors: number[][][] = [];
  const choices: number[][] = [];
  if (mode === 'independent') {
    const rows: number[][] = [];
    for (let l = 0; l < config.layers; l++) rows.push(await errorsAt(full.slice(0, l), l));
    for (const r of thresholds) {
      errors.push(rows);
      choices.push(rows.map((row) => sparsestUnder(row, r)));
    }
    return { errors, choices };
  }
  for (const r of thresholds) {
    const rows: number[][] = [];
    const chosen: number[] = [];
    for (let l = 0; l < config.layers; l++) {
      const row = await errorsAt(
        chosen.map((c) => candidates[c]!.attention),
        l,
      );
      rows.push(row);
      chosen.push(sparsestUnder(row, r));
    }
    errors.push(rows);
    choices.push(chosen);
  }
  return { errors, choices };
}

describe('the layer search', () => {
  it.each(['independent', 'cumulative'] as const)(
    'decides like a brute-force evaluation of every (layer, candidate) (%s mode)',
    async (mode) => {
      const config = tinyConfig(3);
      const weights = tinyWeights(config, 11);
      const candidates = await tinyCandidates();
      const inputs = randomInputs(config, 2, 40);
      // Thresholds between the errors of this model, so the plans differ.
      const thresholds = [0.004, 0.008, 0.012, 1];
      const result = await searchLayers({
        network: tinyNetwork(config, weights),
        candidates,
        inputs,
        thresholds,
        mode,
      });
      const oracle = await bruteForce(config, weights, candidates, inputs, thresholds, mode);
      result.decisions.forEach((d, t) => {
        d.rows.forEach((row, l) => {
          row.output.forEach((e, c) => {
            expect(e).toBeCloseTo(oracle.errors[t]![l]![c]!, 12);
          });
        });
        expect(d.choices).toEqual(oracle.choices[t]);
      });
      // The thresholds do not all give the same plan (else the test would not tell decisions apart).
      expect(new Set(result.decisions.map((d) => d.choices.join())).size).toBeGreaterThan(1);
    },
  );

  it('gives a layer whose attention gate is zero the sparsest candidate, and keeps a dominating layer full', async () => {
    const config = tinyConfig(4);
    const d = config.heads * config.headDim;
    const weights = tinyWeights(config, 5, (get) => {
      // The shared adaLN output contributes nothing to gate_msa (rows 2d..3d), so each block's gate is its table row.
      get('adaln_single.linear.weight').fill(0, 2 * d * d, 3 * d * d);
      get('adaln_single.linear.bias').fill(0, 2 * d, 3 * d);
      get('transformer_blocks.1.scale_shift_table').fill(0, 2 * d, 3 * d); // layer 1: gate exactly 0
      get('transformer_blocks.2.scale_shift_table').fill(8, 2 * d, 3 * d); // layer 2: attention dominates
    });
    const candidates = await tinyCandidates();
    const sparsest = 0;
    const full = candidates.findIndex((c) => c.dense);
    const result = await searchLayers({
      network: tinyNetwork(config, weights),
      candidates,
      inputs: randomInputs(config, 2, 7),
      thresholds: [0, 0.05],
      mode: 'independent',
    });
    const rows = result.matrix;
    // Layer 1's self-attention adds nothing: every mask gives the full model's output exactly.
    expect(rows[1]!.output.every((e) => e === 0)).toBe(true);
    expect(rows[1]!.attention[sparsest]).toBeGreaterThan(0);
    // Layer 2's sparse masks move the output more than any other layer's.
    const others = [0, 3].flatMap((l) => rows[l]!.output);
    const dominant = rows[2]!.output.filter((_, c) => c !== full);
    expect(Math.min(...dominant)).toBeGreaterThan(Math.max(...others));
    for (const { threshold, choices } of result.decisions) {
      expect(choices[1], `r = ${threshold}`).toBe(sparsest);
      expect(choices[2], `r = ${threshold}`).toBe(full);
    }
    // At r = 0.05 the ordinary layers take the sparsest mask too.
    expect(result.decisions[1]!.choices).toEqual([sparsest, sparsest, full, sparsest]);
  });

  it.each(['independent', 'cumulative'] as const)(
    'gives the same errors with prefix caching as when every prefix is recomputed (%s mode)',
    async (mode) => {
      const config = tinyConfig(3);
      const weights = tinyWeights(config, 3);
      const candidates = await tinyCandidates();
      const inputs = randomInputs(config, 2, 9);
      const run = (recompute: boolean) =>
        searchLayers({
          network: tinyNetwork(config, weights),
          candidates,
          inputs,
          thresholds: [0.005, 0.01, 0.05],
          mode,
          recompute,
        });
      const [cached, recomputed] = [await run(false), await run(true)];
      expect(cached.decisions).toEqual(recomputed.decisions);
      expect(cached.stats.blocks).toBeLessThan(recomputed.stats.blocks);
      expect(recomputed.stats.blocks).toBe(recomputed.stats.blocksWithoutCache);
      expect(cached.stats.blocksWithoutCache).toBe(recomputed.stats.blocksWithoutCache);
    },
  );

  it('never gives a denser plan for a larger threshold in independent mode', async () => {
    const candidates = await tinyCandidates();
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 0, max: 1000 }),
        fc.array(fc.double({ min: 0, max: 0.05, noNaN: true }), { minLength: 2, maxLength: 5 }),
        async (layers, seed, thresholds) => {
          const config = tinyConfig(layers);
          const result = await searchLayers({
            network: tinyNetwork(config, tinyWeights(config, seed)),
            candidates,
            inputs: randomInputs(config, 1, seed),
            thresholds,
            mode: 'independent',
          });
          const cost = (choices: readonly number[]) => choices.map((c) => candidates[c]!.computedBlocks);
          for (let t = 1; t < result.decisions.length; t++) {
            const before = cost(result.decisions[t - 1]!.choices);
            cost(result.decisions[t]!.choices).forEach((blocks, l) => {
              expect(blocks).toBeLessThanOrEqual(before[l]!);
            });
          }
        },
      ),
      { numRuns: testRuns(20) },
    );
  }, 300_000);

  it('takes the sparsest candidate under the threshold, full when none is, and never a NaN', async () => {
    const candidates = await tinyCandidates(); // 1:3, 2:2, full
    expect(chooseCandidate([0.3, 0.1, 0], candidates, 0.2)).toBe(1);
    expect(chooseCandidate([0.1, 0.05, 0], candidates, 0.2)).toBe(0);
    expect(chooseCandidate([0.3, 0.25, 0.21], candidates, 0.2)).toBe(2);
    expect(chooseCandidate([Number.NaN, 0.1, 0], candidates, 0.2)).toBe(1);
  });
});
