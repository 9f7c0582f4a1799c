/**
 * The whole Open-Sora-Plan graph on a tiny config with seeded random weights: float32 against float64, plans
 * against dense attention, zero gates against a hand-written embedding + output layer, padding and batching.
 */

import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileSource } from '../../../compiler/frontend.js';
import { parseLayerPlan, planLayers } from '../../../compiler/layer-plan.js';
import { maskedAttention, planAttention } from '../../../models/open-sora-plan/layer-attention.js';
import { createOpenSoraModel } from '../../../models/open-sora-plan/network.js';
import {
  randomOpenSoraWeights,
  writeOpenSoraCheckpoint,
} from '../../../models/open-sora-plan/random-weights.js';
import { loadOpenSoraWeights, weightsFromArrays } from '../../../models/open-sora-plan/weights.js';
import { findBuiltinPattern } from '../../../patterns/index.js';
import { maxAbsDiff, randomArray, relativeError, TEST_CONFIG, TEST_LATENT } from './support.js';

const B = 2;
const L = 5;
const C = TEST_CONFIG.inChannels;
const X_LEN = B * C * TEST_LATENT.frames * TEST_LATENT.height * TEST_LATENT.width;
const GRID = { frames: 3, height: 4, width: 4 };
const weights = randomOpenSoraWeights(TEST_CONFIG, 42);
/**
 * Two float64 graphs that differ only in summation order agree to ~1e-15, but `predictNoise` returns float32, so
 * a last-bit difference can flip a rounding: compare at float32 resolution (a wrong mask moves outputs > 1e-4).
 */
const F32_OUTPUT = 1e-7;

/** Fresh inputs: latents ~ U(-1, 1) (scaled like unit noise), two timesteps, text with padding in element 0. */
function inputs(seed: number) {
  return {
    x: randomArray(seed, X_LEN, 1.7),
    timesteps: Float32Array.from([981, 37.5]),
    text: randomArray(seed + 1, B * L * TEST_CONFIG.captionChannels),
    textMask: Uint8Array.from([1, 1, 1, 0, 0, 1, 1, 1, 1, 1]),
  };
}

async function run(
  model: ReturnType<typeof createOpenSoraModel>,
  seed = 1,
  batch = B,
): Promise<Float32Array> {
  const i = inputs(seed);
  return model.predictNoise(i.x, i.timesteps, i.text, i.textMask, batch);
}

function builtin(name: string, params: Record<string, number>, sizes = { t: 3, h: 4, w: 4 }) {
  const file = findBuiltinPattern(name)!.file;
  return compileSource({ name: file, text: readFileSync(file, 'utf8') }, { pattern: name, params, sizes });
}

const plan = (json: object) =>
  parseLayerPlan(
    { format: 'tessera.layer-plan/1', layers: 2, sizes: { t: 3, h: 4, w: 4 }, ...json },
    '/tmp/plan.json',
  );

describe('the whole graph', () => {
  it('returns [B, C, T, H, W] finite values that depend on the input', async () => {
    const model = createOpenSoraModel(TEST_CONFIG, weights, { latent: TEST_LATENT, precision: 'float64' });
    expect(model.latent).toEqual({ channels: 4, ...TEST_LATENT });
    expect(model.grid).toEqual(GRID);
    const a = await run(model, 1);
    const b = await run(model, 3);
    expect(a).toHaveLength(X_LEN);
    expect(a.every(Number.isFinite)).toBe(true);
    expect(relativeError(a, b)).toBeGreaterThan(1e-2);
  });

  it('reports the time the last call spent in attention', async () => {
    const model = createOpenSoraModel(TEST_CONFIG, weights, { latent: TEST_LATENT });
    expect(model.lastAttentionMs()).toBeUndefined();
    const start = performance.now();
    await run(model);
    const total = performance.now() - start;
    const ms = model.lastAttentionMs()!;
    expect(ms).toBeGreaterThan(0);
    expect(ms).toBeLessThanOrEqual(total);
  });

  it('float32 and float64 arithmetic agree (relative error < 1e-4)', async () => {
    const hi = await run(
      createOpenSoraModel(TEST_CONFIG, weights, { latent: TEST_LATENT, precision: 'float64' }),
    );
    const lo = await run(
      createOpenSoraModel(TEST_CONFIG, weights, { latent: TEST_LATENT, precision: 'float32' }),
    );
    const err = relativeError(lo, hi);
    expect(err).toBeLessThan(1e-4);
    expect(err).toBeGreaterThan(0);
  });

  it('a batch of two equals the two elements run one by one (own timestep, own text mask)', async () => {
    const model = createOpenSoraModel(TEST_CONFIG, weights, { latent: TEST_LATENT, precision: 'float64' });
    const i = inputs(5);
    const both = await model.predictNoise(i.x, i.timesteps, i.text, i.textMask, 2);
    const half = X_LEN / 2;
    const textHalf = L * TEST_CONFIG.captionChannels;
    for (const b of [0, 1]) {
      const one = await model.predictNoise(
        i.x.slice(b * half, (b + 1) * half),
        i.timesteps.slice(b, b + 1),
        i.text.slice(b * textHalf, (b + 1) * textHalf),
        i.textMask.slice(b * L, (b + 1) * L),
        1,
      );
      expect(maxAbsDiff(both.subarray(b * half, (b + 1) * half), one)).toBeLessThan(1e-12);
    }
  });

  it('ignores padded text tokens and responds to real ones', async () => {
    const model = createOpenSoraModel(TEST_CONFIG, weights, { latent: TEST_LATENT, precision: 'float64' });
    const i = inputs(7);
    const base = await model.predictNoise(i.x, i.timesteps, i.text, i.textMask, B);
    const padded = i.text.slice();
    const cc = TEST_CONFIG.captionChannels;
    for (let c = 0; c < cc; c++) padded[3 * cc + c] = 50; // element 0, token 3: padding
    expect(await model.predictNoise(i.x, i.timesteps, padded, i.textMask, B)).toEqual(base);
    const real = i.text.slice();
    for (let c = 0; c < cc; c++) real[cc + c] = real[cc + c]! + 0.5; // element 0, token 1: real
    const changed = await model.predictNoise(i.x, i.timesteps, real, i.textMask, B);
    expect(maxAbsDiff(changed.subarray(0, X_LEN / 2), base.subarray(0, X_LEN / 2))).toBeGreaterThan(1e-6);
    expect(changed.subarray(X_LEN / 2)).toEqual(base.subarray(X_LEN / 2));
  });

  it('loads a written checkpoint to the same results as the weights in memory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-graph-'));
    try {
      const path = join(dir, 'model.safetensors');
      await writeOpenSoraCheckpoint(path, weights, 'float32');
      const loaded = await loadOpenSoraWeights(path, TEST_CONFIG);
      const a = await run(createOpenSoraModel(TEST_CONFIG, loaded, { latent: TEST_LATENT }));
      const b = await run(createOpenSoraModel(TEST_CONFIG, weights, { latent: TEST_LATENT }));
      expect(a).toEqual(b);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('rejects inputs of the wrong size with the tensor named', async () => {
    const model = createOpenSoraModel(TEST_CONFIG, weights, { latent: TEST_LATENT });
    const i = inputs(1);
    await expect(model.predictNoise(i.x.subarray(1), i.timesteps, i.text, i.textMask, B)).rejects.toThrow(
      /tensor 'x': expected \[2, 4, 3, 8, 8\]/,
    );
    await expect(model.predictNoise(i.x, i.timesteps.subarray(1), i.text, i.textMask, B)).rejects.toThrow(
      /'timesteps'/,
    );
    await expect(model.predictNoise(i.x, i.timesteps, i.text.subarray(1), i.textMask, B)).rejects.toThrow(
      /'text'/,
    );
    await expect(model.predictNoise(i.x, i.timesteps, i.text, i.textMask.subarray(1), B)).rejects.toThrow(
      /'textMask'/,
    );
    expect(() =>
      createOpenSoraModel(TEST_CONFIG, weights, { latent: { frames: 3, height: 7, width: 8 } }),
    ).toThrow(/multiples of the patch/);
  });
});

describe('per-layer attention plans', () => {
  it('a plan of `full` everywhere equals the dense path: bit for bit with one key block, to float32 output rounding with many', async () => {
    const dense = await run(
      createOpenSoraModel(TEST_CONFIG, weights, { latent: TEST_LATENT, precision: 'float64' }),
    );
    const fullPlan = plan({ patterns: { full: { builtin: 'full' } }, default: 'full' });
    const oneBlock = createOpenSoraModel(TEST_CONFIG, weights, {
      latent: TEST_LATENT,
      precision: 'float64',
      layerPlan: await planLayers(fullPlan, GRID, { blockQ: 64, blockK: 64 }, null),
    });
    expect(oneBlock.attention.every((a) => a.kind === 'plan')).toBe(true);
    expect(await run(oneBlock)).toEqual(dense);
    const manyBlocks = createOpenSoraModel(TEST_CONFIG, weights, {
      latent: TEST_LATENT,
      precision: 'float64',
      layerPlan: await planLayers(fullPlan, GRID, { blockQ: 16, blockK: 10 }, null),
    });
    expect(relativeError(await run(manyBlocks), dense)).toBeLessThan(F32_OUTPUT);
  });

  it('a sparse plan changes the output only through attention: it equals dense attention under the element mask', async () => {
    const tile = builtin('attention_tile', { a: 1 });
    const layerPlan = plan({
      patterns: { full: { builtin: 'full' }, tile: { builtin: 'attention_tile', params: { a: 1 } } },
      default: 'tile',
      assign: { '0': 'full' },
    });
    const oracle = await run(
      createOpenSoraModel(TEST_CONFIG, weights, {
        latent: TEST_LATENT,
        precision: 'float64',
        attention: [{ kind: 'dense' }, maskedAttention(tile, GRID)],
      }),
    );
    const dense = await run(
      createOpenSoraModel(TEST_CONFIG, weights, { latent: TEST_LATENT, precision: 'float64' }),
    );
    expect(relativeError(oracle, dense)).toBeGreaterThan(1e-4);
    // Frame-aligned blocks (16 tokens a frame) give empty blocks; 12 x 12 blocks give partial ones too.
    for (const [blockQ, blockK, kind] of [
      [16, 8, 'empty'],
      [12, 12, 'partial'],
    ] as const) {
      const sparse = createOpenSoraModel(TEST_CONFIG, weights, {
        latent: TEST_LATENT,
        precision: 'float64',
        layerPlan: await planLayers(layerPlan, GRID, { blockQ, blockK }, null),
      });
      const spec = sparse.attention[1]!;
      expect(spec.kind === 'plan' && spec.plan.stats[kind]).toBeGreaterThan(0);
      expect(sparse.attention[0]!.kind === 'plan' && sparse.attention[0]!.plan.stats.empty).toBe(0);
      expect(relativeError(await run(sparse), oracle)).toBeLessThan(F32_OUTPUT);
    }
  });

  it('maps a tiled, padded layout back to frame-major tokens', async () => {
    // 2 x 3 x 3 tiles on a 3 x 4 x 4 grid: tokens reordered tile by tile, edge tiles padded.
    const tiled = builtin('sliding_tile', { wt: 1, wh: 1, ww: 2 }, {
      t: 3,
      h: 4,
      w: 4,
      tt: 2,
      th: 3,
      tw: 3,
    } as never);
    expect(tiled.layout.length).toBeGreaterThan(48);
    const viaPlan = createOpenSoraModel(TEST_CONFIG, weights, {
      latent: TEST_LATENT,
      precision: 'float64',
      attention: [planAttention(tiled, GRID, { blockQ: 8, blockK: 8 }), { kind: 'dense' }],
    });
    const viaMask = createOpenSoraModel(TEST_CONFIG, weights, {
      latent: TEST_LATENT,
      precision: 'float64',
      attention: [maskedAttention(tiled, GRID), { kind: 'dense' }],
    });
    expect(relativeError(await run(viaPlan), await run(viaMask))).toBeLessThan(F32_OUTPUT);
  });

  it('rejects plans that do not fit the model', async () => {
    const wrongLayers = parseLayerPlan(
      { format: 'tessera.layer-plan/1', layers: 3, patterns: { full: { builtin: 'full' } }, default: 'full' },
      '/tmp/p.json',
    );
    const compiledWrongLayers = await planLayers(wrongLayers, GRID, undefined, null);
    expect(() =>
      createOpenSoraModel(TEST_CONFIG, weights, {
        latent: TEST_LATENT,
        layerPlan: compiledWrongLayers,
      }),
    ).toThrow(/p\.json: \$\.layers: the plan has 3 layers but the model has 2/);
    const wrongSizes = parseLayerPlan(
      {
        format: 'tessera.layer-plan/1',
        layers: 2,
        sizes: { t: 8, h: 4, w: 4 },
        patterns: { full: { builtin: 'full' } },
        default: 'full',
      },
      '/tmp/p.json',
    );
    await expect(planLayers(wrongSizes, GRID, undefined, null)).rejects.toThrow(/\$\.sizes\.t: is 8/);
    const otherGrid = await planLayers(
      parseLayerPlan(
        {
          format: 'tessera.layer-plan/1',
          layers: 2,
          patterns: { full: { builtin: 'full' } },
          default: 'full',
        },
        '/tmp/q.json',
      ),
      { frames: 2, height: 4, width: 4 },
      undefined,
      null,
    );
    expect(() =>
      createOpenSoraModel(TEST_CONFIG, weights, { latent: TEST_LATENT, layerPlan: otherGrid }),
    ).toThrow(/q\.json: \$\.sizes: compiled for a 2 x 4 x 4 token grid/);
    expect(() => planAttention(builtin('full', {}, { t: 2, h: 4, w: 4 }), GRID)).toThrow(
      /laid out on \[2, 4, 4\]/,
    );
  });
});

describe('gated residuals', () => {
  it('with every gate and the cross-attention output zeroed, the blocks are the identity', async () => {
    const d = 24;
    const arrays = new Map(weights.names.map((n) => [n, weights.get(n).data.slice()]));
    const zero = (name: string, from = 0, to = arrays.get(name)!.length) =>
      arrays.get(name)!.fill(0, from, to);
    // gate_msa and gate_mlp are rows 2 and 5 of (table + adaln_single.linear(silu(emb))).
    for (const row of [2, 5]) {
      zero('adaln_single.linear.weight', row * d * d, (row + 1) * d * d);
      zero('adaln_single.linear.bias', row * d, (row + 1) * d);
      for (const layer of [0, 1])
        zero(`transformer_blocks.${layer}.scale_shift_table`, row * d, (row + 1) * d);
    }
    for (const layer of [0, 1]) {
      zero(`transformer_blocks.${layer}.attn2.to_out.0.weight`);
      zero(`transformer_blocks.${layer}.attn2.to_out.0.bias`);
    }
    const gated = weightsFromArrays(TEST_CONFIG, arrays);
    const model = createOpenSoraModel(TEST_CONFIG, gated, { latent: TEST_LATENT, precision: 'float64' });
    const i = inputs(11);
    const out = await model.predictNoise(i.x, i.timesteps, i.text, i.textMask, B);
    expect(relativeError(out, naiveEmbedThenOutput(arrays, i.x, i.timesteps))).toBeLessThan(F32_OUTPUT);
  });
});

/**
 * Patch conv, timestep MLP, final LayerNorm + modulation + proj_out + unpatchify, written directly from the
 * OpenSoraT2V definitions: what the network computes when every block is the identity.
 */
function naiveEmbedThenOutput(
  w: Map<string, Float32Array>,
  x: Float32Array,
  timesteps: Float32Array,
): Float64Array {
  const [D, T, H, W, Hp, Wp] = [24, 3, 8, 8, 4, 4];
  const get = (n: string) => w.get(n)!;
  const lin = (v: number[], name: string) => {
    const wt = get(`${name}.weight`);
    const b = get(`${name}.bias`);
    const out = b.length;
    return Array.from({ length: out }, (_, o) =>
      v.reduce((s, vi, i) => s + vi * wt[o * v.length + i]!, b[o]!),
    );
  };
  const silu = (v: number[]) => v.map((z) => z / (1 + Math.exp(-z)));
  const result = new Float64Array(X_LEN);
  for (let b = 0; b < B; b++) {
    const half = TEST_CONFIG.timestepChannels / 2;
    const t = timesteps[b]!;
    const feats = [
      ...Array.from({ length: half }, (_, i) => Math.cos(t * Math.exp((-Math.log(10000) * i) / half))),
      ...Array.from({ length: half }, (_, i) => Math.sin(t * Math.exp((-Math.log(10000) * i) / half))),
    ];
    const emb = lin(
      silu(lin(feats, 'adaln_single.emb.timestep_embedder.linear_1')),
      'adaln_single.emb.timestep_embedder.linear_2',
    );
    const table = get('scale_shift_table');
    const shift = emb.map((e, k) => table[k]! + e);
    const scale = emb.map((e, k) => table[D + k]! + e);
    for (let f = 0; f < T; f++)
      for (let ph = 0; ph < Hp; ph++)
        for (let pw = 0; pw < Wp; pw++) {
          const conv = get('pos_embed.proj.weight');
          const token = Array.from({ length: D }, (_, o) => {
            let s = get('pos_embed.proj.bias')[o]!;
            for (let c = 0; c < C; c++)
              for (let i = 0; i < 2; i++)
                for (let j = 0; j < 2; j++)
                  s +=
                    conv[((o * C + c) * 2 + i) * 2 + j]! *
                    x[(((b * C + c) * T + f) * H + 2 * ph + i) * W + 2 * pw + j]!;
            return s;
          });
          const mean = token.reduce((a, v) => a + v, 0) / D;
          const variance = token.reduce((a, v) => a + (v - mean) ** 2, 0) / D;
          const normed = token.map(
            (v, k) => ((v - mean) / Math.sqrt(variance + 1e-6)) * (1 + scale[k]!) + shift[k]!,
          );
          const patch = lin(normed, 'proj_out'); // (i, j, c) with c innermost
          for (let i = 0; i < 2; i++)
            for (let j = 0; j < 2; j++)
              for (let c = 0; c < C; c++)
                result[(((b * C + c) * T + f) * H + 2 * ph + i) * W + 2 * pw + j] =
                  patch[(i * 2 + j) * C + c]!;
        }
  }
  return result;
}
