/**
 * The WGSL kernels on a real GPU's WebGPU adapter (Dawn on Vulkan), run by `npm run test:gpu:webgpu` on a GPU
 * machine, never by CI (CI runs the same kernels on llvmpipe through vitest). Every variant the adapter
 * offers (f32, f16 I/O with `shader-f16`, the subgroup kernel with `subgroups`) on random built-in patterns,
 * sizes, block sizes, head dims and token layouts, against the float64 CPU reference on the same (rounded)
 * inputs, with poisoned outputs; then a small timing table. Without an adapter every test is skipped with
 * the reason. Intensity: TESSERA_TEST_RUNS (default 16).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { compiledElementMask } from '../../compiler/classify/element-mask.js';
import type { BlockPlan } from '../../compiler/plan/plan.js';
import { relativeError } from '../../core/error-metrics.js';
import { roundToDType } from '../../core/tensor.js';
import { denseAttention } from '../../runtime/cpu/attention.js';
import type { WebGpuBackend } from '../../runtime/webgpu/backend.js';
import { createNodeWebGpuBackend } from '../../runtime/webgpu/node-gpu.js';
import { builtinPlan } from './builtin-plans.js';
import { randomValues } from './cases.js';

const runs = Number(process.env.TESSERA_TEST_RUNS ?? 16);

/** Bounds on ||out - ref|| / ||ref||: f32 arithmetic throughout, or f16 storage of Q, K, V and the output. */
const TOLERANCE = { f32: 1e-4, f16: 1e-2 } as const;

interface Case {
  readonly plan: BlockPlan;
  readonly heads: number;
  readonly headDim: number;
  readonly layout: 'bshd' | 'bhsd';
  readonly seed: number;
}

const caseArb: fc.Arbitrary<Case> = fc
  .record({
    pattern: fc.constantFrom('attention_tile', 'full', 'frame_window', 'causal', 'text_video'),
    frames: fc.integer({ min: 2, max: 12 }),
    height: fc.integer({ min: 2, max: 12 }),
    width: fc.integer({ min: 2, max: 16 }),
    block: fc.constantFrom(16, 32, 48, 64),
    heads: fc.integer({ min: 1, max: 3 }),
    headDim: fc.constantFrom(32, 64, 96, 128),
    layout: fc.constantFrom('bshd' as const, 'bhsd' as const),
    seed: fc.nat(1_000_000),
  })
  .map((r) => {
    const sizes: Record<string, number> = { t: r.frames, h: r.height, w: r.width };
    if (r.pattern === 'text_video') sizes.l = 7;
    const params =
      r.pattern === 'attention_tile' || r.pattern === 'text_video'
        ? { a: 1 + (r.seed % r.frames) }
        : undefined;
    const plan = builtinPlan(r.pattern, { sizes, ...(params ? { params } : {}) }, r.block);
    return { plan, heads: r.heads, headDim: r.headDim, layout: r.layout, seed: r.seed };
  });

let backend: WebGpuBackend | undefined;
let reason = '';

before(async () => {
  try {
    backend = await createNodeWebGpuBackend();
    const info = backend.capabilities.adapter;
    console.log(
      `adapter: ${JSON.stringify(info)}; f16 ${backend.capabilities.f16}, subgroups ${backend.capabilities.subgroups}`,
    );
  } catch (error) {
    reason = (error as Error).message.split('\n')[0]!;
  }
});
after(() => backend?.dispose());

/** Variants the adapter offers. */
function variants(b: WebGpuBackend): { io: 'f32' | 'f16'; subgroups: boolean }[] {
  const out: { io: 'f32' | 'f16'; subgroups: boolean }[] = [{ io: 'f32', subgroups: false }];
  if (b.capabilities.f16) out.push({ io: 'f16', subgroups: false });
  if (b.capabilities.subgroups) out.push({ io: 'f32', subgroups: true });
  if (b.capabilities.f16 && b.capabilities.subgroups) out.push({ io: 'f16', subgroups: true });
  return out;
}

describe('WGSL kernels on a GPU adapter', () => {
  it('match the float64 reference in every variant the adapter offers', async (t) => {
    if (!backend) return t.skip(`no WebGPU adapter: ${reason}`);
    const b = backend;
    for (const variant of variants(b)) {
      await fc.assert(
        fc.asyncProperty(caseArb, async (c) => {
          const n = c.plan.seqLen * c.heads * c.headDim;
          const dtype = variant.io === 'f16' ? 'float16' : 'float32';
          const values = (salt: number) =>
            randomValues(n, c.seed + salt, 1).map((x) => roundToDType(dtype, x));
          const [q, k, v] = [values(0), values(1), values(2)];
          const shape = { batch: 1, heads: c.heads, headDim: c.headDim, layout: c.layout } as const;
          const got = await b.attention(c.plan, q, k, v, { ...shape, ...variant, poison: true });
          const ref = denseAttention(
            { q, k, v, ...shape, seqLen: c.plan.seqLen },
            compiledElementMask(c.plan.pattern),
          );
          const error = relativeError(got.out, ref.out);
          assert.ok(
            got.out.every(Number.isFinite),
            `${c.plan.key} ${JSON.stringify(variant)}: non-finite output`,
          );
          assert.ok(
            error < TOLERANCE[variant.io],
            `${c.plan.key} ${JSON.stringify(variant)} hd${c.headDim}: error ${error}`,
          );
          for (let i = 0; i < ref.lse.length; i++) {
            const r = ref.lse[i]!;
            const g = got.lse[i]!;
            if (r === Number.NEGATIVE_INFINITY) assert.equal(g, r, `lse[${i}] of a fully masked row`);
            else assert.ok(Math.abs(g - r) < 1e-2 * Math.max(1, Math.abs(r)), `lse[${i}] ${g} vs ${r}`);
          }
        }),
        { numRuns: runs },
      );
      console.log(`variant ${JSON.stringify(variant)}: ${runs} random cases passed`);
    }
  });

  it('times full attention and Attention Tile masks at a video shape', async (t) => {
    if (!backend) return t.skip(`no WebGPU adapter: ${reason}`);
    const b = backend;
    const sizes = { t: 8, h: 16, w: 24 };
    const heads = 8;
    const headDim = 64;
    const rows: string[] = [];
    let denseMs = 0;
    for (const [pattern, params] of [
      ['full', {}],
      ['attention_tile', { a: 4 }],
      ['attention_tile', { a: 2 }],
      ['attention_tile', { a: 1 }],
    ] as const) {
      const plan = builtinPlan(pattern, { sizes, params }, 64);
      const n = plan.seqLen * heads * headDim;
      const [q, k, v] = [randomValues(n, 1, 1), randomValues(n, 2, 1), randomValues(n, 3, 1)].map((x) =>
        Float32Array.from(x),
      );
      for (const variant of variants(b)) {
        const prepared = await b.prepare(plan, q!, k!, v!, {
          batch: 1,
          heads,
          headDim,
          layout: 'bshd',
          ...variant,
        });
        for (let i = 0; i < 3; i++) await prepared.run();
        const times: number[] = [];
        for (let i = 0; i < 10; i++) {
          const start = performance.now();
          await prepared.run();
          times.push(performance.now() - start);
        }
        times.sort((x, y) => x - y);
        const ms = times[5]!;
        if (pattern === 'full' && !variant.subgroups && variant.io === 'f32') denseMs = ms;
        const flops = 4 * plan.stats.allowedPairs * headDim * heads;
        rows.push(
          `${plan.key.padEnd(40)} ${JSON.stringify(variant).padEnd(32)} density ${(1 - plan.stats.sparsity).toFixed(3)}  ${ms.toFixed(3)} ms  ${(flops / ms / 1e6).toFixed(1)} GFLOP/s  vs dense f32 ${(ms / denseMs).toFixed(3)}`,
        );
      }
    }
    console.log(
      `median of 10 runs (submit + wait), ${sizes.t}x${sizes.h}x${sizes.w} tokens, ${heads} heads x ${headDim}, block 64\n${rows.join('\n')}`,
    );
    assert.ok(denseMs > 0);
  });
});
