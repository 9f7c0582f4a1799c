/**
 * Per-head attention through the model runtime: a layer plan that gives heads different patterns equals
 * running each head with its own single pattern, checked against the element-mask oracle (dense attention
 * under the pattern's mask, no block plan) on fresh random inputs.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileSource } from '../../../compiler/frontend.js';
import { parseLayerPlan, planLayers } from '../../../compiler/layer-plan.js';
import { maskedAttention, planAttention } from '../../../models/open-sora-plan/layer-attention.js';
import { createOpenSoraModel } from '../../../models/open-sora-plan/network.js';
import { randomOpenSoraWeights } from '../../../models/open-sora-plan/random-weights.js';
import { findBuiltinPattern } from '../../../patterns/index.js';
import type { CpuTensor } from '../../../runtime/cpu/cpu-tensor.js';
import { createCpuOps } from '../../../runtime/cpu/model-ops.js';
import type { HeadAttentionSpec, SelfAttentionSpec } from '../../../runtime/model-ops.js';
import { randomArray, relativeError, TEST_CONFIG, TEST_LATENT } from './support.js';

const GRID = { frames: 3, height: 4, width: 4 };
const SIZES = { t: 3, h: 4, w: 4 };

function builtin(name: string, params: Record<string, number> = {}, sizes: Record<string, number> = SIZES) {
  const file = findBuiltinPattern(name)!.file;
  return compileSource({ name: file, text: readFileSync(file, 'utf8') }, { pattern: name, params, sizes });
}

const spatial = builtin('spatial');
const temporal = builtin('temporal');
// Tiles of 2 x 3 x 3 on the 3 x 4 x 4 grid: tokens reordered tile by tile and edge tiles padded.
const tiled = builtin('sliding_tile', { wt: 1, wh: 1, ww: 2 }, { ...SIZES, tt: 2, th: 3, tw: 3 });

describe('per-head self-attention on the CPU ops', () => {
  const ops = createCpuOps('float64');
  const N = GRID.frames * GRID.height * GRID.width;
  const headDim = 4;

  it('equals each head attending alone through its own pattern (fresh inputs per run)', () => {
    // Heads 0, 1 and 4 share one plan (two runs of it), 2-3 a tiled padded layout, 5 dense.
    const byPattern = {
      spatial: planAttention(spatial, GRID, { blockQ: 8, blockK: 8 }),
      tiled: planAttention(tiled, GRID, { blockQ: 8, blockK: 8 }),
    };
    const perHead: HeadAttentionSpec[] = [
      byPattern.spatial,
      byPattern.spatial,
      byPattern.tiled,
      byPattern.tiled,
      byPattern.spatial,
      { kind: 'dense' },
    ];
    const oracleOf = (h: number): SelfAttentionSpec =>
      h === 5 ? { kind: 'dense' } : maskedAttention(h === 2 || h === 3 ? tiled : spatial, GRID);
    const H = perHead.length;
    const D = H * headDim;
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1 << 30 }), fc.integer({ min: 1, max: 2 }), (seed, B) => {
        const t = (s: number): CpuTensor => ({
          shape: [B, N, D],
          data: Float64Array.from(randomArray(seed + s, B * N * D, 2)),
        });
        const [q, k, v] = [t(0), t(1), t(2)];
        const got = ops.selfAttention(q, k, v, H, { kind: 'heads', perHead }).data;
        const column = (x: CpuTensor, h: number): CpuTensor => {
          const out = new Float64Array(B * N * headDim);
          for (let r = 0; r < B * N; r++)
            out.set(x.data.subarray(r * D + h * headDim, r * D + (h + 1) * headDim), r * headDim);
          return { shape: [B, N, headDim], data: out };
        };
        for (let h = 0; h < H; h++) {
          const want = ops.selfAttention(column(q, h), column(k, h), column(v, h), 1, oracleOf(h)).data;
          expect(relativeError(column({ shape: q.shape, data: got }, h).data, want)).toBeLessThan(1e-12);
        }
      }),
      { numRuns: 6 },
    );
  });

  it('refuses a per-head spec whose head count is not the call', () => {
    const x: CpuTensor = { shape: [1, N, 2 * headDim], data: new Float64Array(N * 2 * headDim).fill(0.5) };
    const spec: SelfAttentionSpec = { kind: 'heads', perHead: [{ kind: 'dense' }] };
    expect(() => ops.selfAttention(x, x, x, 2, spec)).toThrow(/covers 1 heads but the call has 2/);
  });
});

describe('a per-head layer plan through the model', () => {
  const weights = randomOpenSoraWeights(TEST_CONFIG, 7);
  const B = 2;
  const L = 5;
  const X_LEN = B * TEST_CONFIG.inChannels * TEST_LATENT.frames * TEST_LATENT.height * TEST_LATENT.width;
  const run = (model: ReturnType<typeof createOpenSoraModel>, seed: number) =>
    model.predictNoise(
      randomArray(seed, X_LEN, 1.7),
      Float32Array.from([981, 37.5]),
      randomArray(seed + 1, B * L * TEST_CONFIG.captionChannels),
      Uint8Array.from([1, 1, 1, 0, 0, 1, 1, 1, 1, 1]),
      B,
    );
  const model = (attention: readonly SelfAttentionSpec[]) =>
    createOpenSoraModel(TEST_CONFIG, weights, { latent: TEST_LATENT, precision: 'float64', attention });
  const layerPlan = (heads: number) =>
    parseLayerPlan(
      {
        format: 'tessera.layer-plan/1',
        layers: 2,
        heads,
        sizes: SIZES,
        patterns: {
          full: { builtin: 'full' },
          spatial: { builtin: 'spatial' },
          temporal: { builtin: 'temporal' },
        },
        default: 'full',
        assign: { '1': { heads: { '0': 'spatial', '1': 'temporal' } } },
      },
      '/tmp/per-head-plan.json',
    );

  it('equals the element-mask oracle of each head, and differs from either pattern on every head', async () => {
    const compiled = await planLayers(layerPlan(2), GRID, { blockQ: 12, blockK: 12 }, null);
    const planned = createOpenSoraModel(TEST_CONFIG, weights, {
      latent: TEST_LATENT,
      precision: 'float64',
      layerPlan: compiled,
    });
    const spec = planned.attention[1]!;
    expect(spec.kind).toBe('heads');
    const [m0, m1] = [maskedAttention(spatial, GRID), maskedAttention(temporal, GRID)];
    for (const seed of [1, 5]) {
      const got = await run(planned, seed);
      const oracle = await run(model([{ kind: 'dense' }, { kind: 'heads', perHead: [m0, m1] }]), seed);
      // predictNoise returns float32: a last-bit flip is the only difference two float64 graphs may show.
      expect(relativeError(got, oracle)).toBeLessThan(1e-7);
      for (const single of [m0, m1]) {
        expect(relativeError(got, await run(model([{ kind: 'dense' }, single]), seed))).toBeGreaterThan(1e-4);
      }
    }
  });

  it('refuses a plan whose head count is not the model, naming $.heads', async () => {
    // A split of two heads does not cover three: the plan itself is refused.
    expect(() => layerPlan(3)).toThrow(/\$\.assign\.1\.heads: heads 2 have no pattern/);
    const fourHeads = parseLayerPlan(
      {
        format: 'tessera.layer-plan/1',
        layers: 2,
        heads: 4,
        sizes: SIZES,
        patterns: { full: { builtin: 'full' } },
        default: 'full',
      },
      '/tmp/p.json',
    );
    const compiled = await planLayers(fourHeads, GRID, undefined, null);
    expect(() =>
      createOpenSoraModel(TEST_CONFIG, weights, {
        latent: TEST_LATENT,
        precision: 'float64',
        layerPlan: compiled,
      }),
    ).toThrow(/\$\.heads: the plan has 4 heads but the model has 2/);
  });

  it('a pattern that reads head equals the same split written as head ranges', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-head-'));
    try {
      const file = join(dir, 'svg.tile');
      await writeFile(
        file,
        'layout video(t, h, w)\n\npattern svg(split: int = 1) on video {\n  attend if head < split then q.t == k.t else q.h == k.h && q.w == k.w\n}\n',
      );
      const json = {
        format: 'tessera.layer-plan/1',
        layers: 2,
        heads: 2,
        sizes: SIZES,
        patterns: { full: { builtin: 'full' }, svg: { file: 'svg.tile' } },
        default: 'full',
        assign: { '1': 'svg' },
      };
      const compiled = await planLayers(
        parseLayerPlan(json, join(dir, 'plan.json')),
        GRID,
        { blockQ: 12, blockK: 12 },
        null,
      );
      const svg = compiled.instances.get('svg')!;
      expect('perHead' in svg && svg.perHead.map((p) => p.plan.key)).toEqual([
        'svg_split1_head0_t3x4x4_b12x12',
        'svg_split1_head1_t3x4x4_b12x12',
      ]);
      const viaHead = createOpenSoraModel(TEST_CONFIG, weights, {
        latent: TEST_LATENT,
        precision: 'float64',
        layerPlan: compiled,
      });
      const viaRanges = createOpenSoraModel(TEST_CONFIG, weights, {
        latent: TEST_LATENT,
        precision: 'float64',
        layerPlan: await planLayers(layerPlan(2), GRID, { blockQ: 12, blockK: 12 }, null),
      });
      expect(relativeError(await run(viaHead, 3), await run(viaRanges, 3))).toBeLessThan(1e-7);
      // Without the head count the plan cannot evaluate the pattern per head.
      const { heads: _, ...noHeads } = json;
      await expect(
        planLayers(parseLayerPlan(noHeads, join(dir, 'plan.json')), GRID, undefined, null),
      ).rejects.toThrow(/\$\.heads: instance "svg" reads `head`/);
      // Four heads with split 2: heads 0-1 share one plan, 2-3 another.
      const four = await planLayers(
        parseLayerPlan(
          {
            ...json,
            heads: 4,
            patterns: { ...json.patterns, svg: { file: 'svg.tile', params: { split: 2 } } },
          },
          join(dir, 'plan.json'),
        ),
        GRID,
        { blockQ: 12, blockK: 12 },
        null,
      );
      const perHead = (four.layers[1] as { perHead: unknown[] }).perHead;
      expect([perHead[0] === perHead[1], perHead[1] === perHead[2], perHead[2] === perHead[3]]).toEqual([
        true,
        false,
        true,
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
