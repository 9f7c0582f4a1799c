/**
 * GPU verification of the CUDA kernel (run by `npm run test:gpu`, never by CI): random patterns, layouts,
 * block sizes, head dims, dtypes and token layouts against the float64 CPU reference on the same (rounded)
 * inputs. Outputs are poisoned before each run; the checks are the SPEC §4 ones: relative error under 1e-2,
 * the log-sum-exp, fully masked rows exactly 0 and never NaN. Without a GPU every test is skipped with the
 * reason. Intensity: TESSERA_TEST_RUNS (default 24). With TESSERA_FLEX_DIR set, one case is also exported
 * for the FlexAttention comparison (bench/gpu/flex_compare.py).
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { CudaKernelFamily } from '../../codegen/cuda/kernel-options.js';
import { writeFlexBlockMask } from '../../codegen/flex/block-mask.js';
import { renderFlexMaskMod } from '../../codegen/flex/mask-mod.js';
import { compiledElementMask } from '../../compiler/classify/element-mask.js';
import { relativeError } from '../../core/error-metrics.js';
import { writeSafetensors } from '../../core/safetensors.js';
import { fromStorage, roundToDType, TensorError } from '../../core/tensor.js';
import { denseAttention } from '../../runtime/cpu/attention.js';
import type { AttentionInputs } from '../../runtime/cpu/attention-inputs.js';
import type { CudaAttentionOptions } from '../../runtime/cuda/attention.js';
import { CudaAttention, CudaDevice, createCudaBackend, cudaAvailable } from '../../runtime/cuda/index.js';
import { perHeadAttention } from '../../runtime/per-head-attention.js';
import { builtinPlan } from './builtin-plans.js';
import { type GpuCase, gpuCaseArb, randomValues } from './cases.js';

const runs = Number(process.env.TESSERA_TEST_RUNS ?? 24);
const gpu = cudaAvailable();
const skip = gpu.available ? false : `no CUDA: ${gpu.reason.split('\n')[0]}`;

/** Tolerances per dtype, with the reason. */
const TOLERANCE = {
  // bf16 keeps 8 significant bits: P (rounded to bf16 for the PV product) costs up to ~2^-9 per term.
  bfloat16: { out: 1e-2, lse: 2e-3 },
  // fp16 keeps 11 bits; the same bound holds with room to spare.
  float16: { out: 1e-2, lse: 2e-3 },
} as const;

function inputsFor(c: GpuCase): AttentionInputs {
  const S = c.plan.seqLen;
  const n = c.batch * S * c.heads * c.headDim;
  const round = (x: Float64Array) => x.map((v) => roundToDType(c.dtype, v));
  return {
    q: round(randomValues(n, c.seed, 1)),
    k: round(randomValues(n, c.seed + 1, 1)),
    v: round(randomValues(n, c.seed + 2, 1)),
    layout: c.layout,
    batch: c.batch,
    heads: c.heads,
    seqLen: S,
    headDim: c.headDim,
  };
}

/** Check one case; returns a message on failure (fast-check reports the case). */
async function checkCase(backend: Awaited<ReturnType<typeof createCudaBackend>>, c: GpuCase): Promise<void> {
  const inputs = inputsFor(c);
  const ref = denseAttention(inputs, compiledElementMask(c.plan.pattern));
  const got = await backend.attention(c.plan, inputs, c.dtype);
  const tol = TOLERANCE[c.dtype];
  const where = `${c.plan.key} d${c.headDim} ${c.dtype} ${c.layout} b${c.batch} h${c.heads}`;
  for (let i = 0; i < got.out.length; i++)
    assert.ok(Number.isFinite(got.out[i]!), `${where}: out[${i}] = ${got.out[i]} (unwritten or NaN)`);
  const err = relativeError(got.out, ref.out);
  assert.ok(err < tol.out, `${where}: relative error ${err.toExponential(3)} >= ${tol.out}`);
  for (let i = 0; i < ref.lse.length; i++) {
    const r = ref.lse[i]!;
    const g = got.lse[i]!;
    if (r === Number.NEGATIVE_INFINITY) {
      assert.equal(g, Number.NEGATIVE_INFINITY, `${where}: lse[${i}] = ${g}, expected -inf (no allowed key)`);
    } else {
      assert.ok(
        Math.abs(g - r) <= tol.lse * Math.max(1, Math.abs(r)),
        `${where}: lse[${i}] = ${g}, expected ${r}`,
      );
    }
  }
  // Rows with no allowed key (padding rows too) must be exactly 0.
  const S = c.plan.seqLen;
  const D = c.headDim;
  for (let b = 0; b < c.batch; b++) {
    for (let h = 0; h < c.heads; h++) {
      for (let s = 0; s < S; s++) {
        if (ref.lse[(b * c.heads + h) * S + s] !== Number.NEGATIVE_INFINITY) continue;
        const base = c.layout === 'bshd' ? ((b * S + s) * c.heads + h) * D : ((b * c.heads + h) * S + s) * D;
        for (let d = 0; d < D; d++) assert.equal(got.out[base + d], 0, `${where}: masked row ${s} not zero`);
      }
    }
  }
}

/** Kernel families this GPU runs: `mma` everywhere, `wgmma` on sm_90 too. */
function familiesHere(): CudaKernelFamily[] {
  const device = CudaDevice.open();
  try {
    return device.arch === 'sm_90' ? ['wgmma', 'mma'] : ['mma'];
  } finally {
    device.dispose();
  }
}

/** The kernels to check: each family, and on sm_90 the warp-specialised wgmma kernel (ping-pong, persistent). */
function kernelsHere(): { name: string; options: CudaAttentionOptions }[] {
  return familiesHere().flatMap((family) => [
    { name: family, options: { family } },
    ...(family === 'wgmma'
      ? [{ name: 'wgmma-ws', options: { family, warpSpecialized: { pingPong: true, persistent: true } } }]
      : []),
  ]);
}

describe('CUDA attention kernel on the GPU', { skip }, () => {
  for (const { name, options } of skip ? [] : kernelsHere())
    it(`${name} kernel: matches the float64 reference on ${runs} random cases`, async () => {
      const backend = createCudaBackend(0, options);
      try {
        // More work items (query blocks x heads: 8 x 24) than an H100 or H200 has multiprocessors, with partial
        // tiles and both layouts: a persistent grid claims several items per CTA from its counter, and the second
        // layout runs the same compiled kernel (the backend keeps it per plan), so it finds the counter the first
        // launch's last CTA reset; a counter left over would skip items and leave rows unwritten.
        const plan = builtinPlan('attention_tile', { sizes: { t: 4, h: 16, w: 16 }, params: { a: 1 } }, 128);
        for (const layout of ['bshd', 'bhsd'] as const)
          await checkCase(backend, {
            plan,
            headDim: 96,
            dtype: 'bfloat16',
            layout,
            batch: 1,
            heads: 24,
            seed: 777,
          });
        await fc.assert(
          fc.asyncProperty(gpuCaseArb, async (c) => {
            await checkCase(backend, c);
          }),
          {
            numRuns: runs,
            seed: Number(process.env.TESSERA_TEST_SEED ?? Date.now() % 2 ** 31),
            endOnFailure: true,
          },
        );
      } finally {
        await backend.dispose();
      }
    });

  it("per-head plans (a kernel per run of heads sharing a plan) match each head's float64 reference", async () => {
    const sizes = { t: 3, h: 8, w: 16 };
    const plans = [
      builtinPlan('attention_tile', { sizes, params: { a: 1 } }, 128),
      builtinPlan('spatial', { sizes }, 128),
      builtinPlan('frame_window', { sizes, params: { r: 1 } }, 128),
    ];
    const perHead = [plans[0]!, plans[1]!, plans[1]!, plans[2]!, plans[0]!];
    const H = perHead.length;
    for (const family of familiesHere()) {
      const backend = createCudaBackend(0, { family });
      try {
        for (const headDim of [64, 96, 128]) {
          const c: GpuCase = {
            plan: plans[0]!,
            batch: 2,
            heads: H,
            headDim,
            dtype: 'bfloat16',
            layout: 'bshd',
            seed: 5,
          };
          const inputs = inputsFor(c);
          const got = await perHeadAttention(backend, perHead, inputs, 'bfloat16');
          const S = inputs.seqLen;
          perHead.forEach((plan, h) => {
            // Head h alone, [B, S, 1, D], against the dense reference under its own pattern.
            const pick = (x: ArrayLike<number>) => {
              const y = new Float64Array(2 * S * headDim);
              for (let r = 0; r < 2 * S; r++)
                for (let d = 0; d < headDim; d++) y[r * headDim + d] = x[(r * H + h) * headDim + d]!;
              return y;
            };
            const alone = { ...inputs, heads: 1, q: pick(inputs.q), k: pick(inputs.k), v: pick(inputs.v) };
            const ref = denseAttention(alone, compiledElementMask(plan.pattern));
            const err = relativeError(pick(got.out), ref.out);
            const where = `${family} head ${h} (${plan.key}) d${headDim}`;
            assert.ok(err < TOLERANCE.bfloat16.out, `${where}: relative error ${err}`);
          });
        }
      } finally {
        await backend.dispose();
      }
    }
  });

  it('a head map launches over some heads only and leaves the others unwritten', () => {
    const device = CudaDevice.open();
    try {
      const plan = builtinPlan('frame_window', { sizes: { t: 3, h: 8, w: 16 }, params: { r: 1 } }, 128);
      const [B, S, H, D] = [2, plan.seqLen, 4, 64];
      const c: GpuCase = { plan, batch: B, heads: H, headDim: D, dtype: 'bfloat16', layout: 'bshd', seed: 9 };
      const inputs = inputsFor(c);
      const shape = [B, S, H, D];
      const up = (name: string, x: ArrayLike<number>) =>
        device.upload(fromStorage('float32', shape, Float32Array.from(x), name), 'bfloat16', name);
      const [q, k, v] = [up('q', inputs.q), up('k', inputs.k), up('v', inputs.v)];
      const out = device.empty('bfloat16', shape, 'out');
      const lse = device.empty('float32', [B, 2, S], 'lse');
      const heads = [3, 1];
      const bytes = device.uploadBytes(Int32Array.from(heads), 'head map');
      const headMap = { ...bytes, dtype: 'int32' as const, shape: [2], strides: [1] };
      const attention = new CudaAttention(device, plan, D, 'bfloat16');
      try {
        device.fillBytes(out, 0xff);
        attention.run({ q, k, v, out, lse, layout: 'bshd', headMap });
        device.synchronize(attention.kernel.name);
        const got = device.download(out).data as Float32Array;
        const gotLse = device.download(lse).data as Float32Array;
        const ref = denseAttention(inputs, compiledElementMask(plan.pattern));
        const head = (x: ArrayLike<number>, h: number) => {
          const y = new Float64Array(B * S * D);
          for (let r = 0; r < B * S; r++) for (let d = 0; d < D; d++) y[r * D + d] = x[(r * H + h) * D + d]!;
          return y;
        };
        heads.forEach((h, slot) => {
          const err = relativeError(head(got, h), head(ref.out, h));
          assert.ok(err < TOLERANCE.bfloat16.out, `head ${h} (slot ${slot}): relative error ${err}`);
          for (let b = 0; b < B; b++)
            for (let s = 0; s < S; s++) {
              const r = ref.lse[(b * H + h) * S + s]!;
              const g = gotLse[(b * 2 + slot) * S + s]!;
              assert.ok(
                Math.abs(g - r) <= TOLERANCE.bfloat16.lse * Math.max(1, Math.abs(r)),
                `lse of head ${h}`,
              );
            }
        });
        for (const h of [0, 2])
          assert.ok(head(got, h).every(Number.isNaN), `head ${h} is not in the map and must stay unwritten`);
      } finally {
        attention.dispose();
        for (const t of [q, k, v, out, lse, bytes]) device.free(t);
      }
    } finally {
      device.dispose();
    }
  });

  it('names the tensor and the expected sizes on a shape mismatch', () => {
    const device = CudaDevice.open();
    try {
      const plan = builtinPlan('attention_tile', { sizes: { t: 2, h: 8, w: 16 }, params: { a: 1 } }, 128);
      const attention = new CudaAttention(device, plan, 64, 'bfloat16');
      const q = device.empty('bfloat16', [1, plan.seqLen, 2, 64], 'q');
      const k = device.empty('bfloat16', [1, plan.seqLen + 1, 2, 64], 'k');
      assert.throws(
        () => attention.run({ q, k: k, v: q, layout: 'bshd' }),
        (e: unknown) => e instanceof TensorError && e.tensor === 'k',
      );
      const wrongType = device.empty('float16', [1, plan.seqLen, 2, 64], 'v');
      assert.throws(
        () => attention.run({ q, k: q, v: wrongType, layout: 'bshd' }),
        /expected dtype bfloat16/,
      );
    } finally {
      device.dispose();
    }
  });

  it('exports a case for the FlexAttention comparison', {
    skip: process.env.TESSERA_FLEX_DIR ? false : 'TESSERA_FLEX_DIR not set',
  }, async () => {
    const dir = process.env.TESSERA_FLEX_DIR!;
    mkdirSync(dir, { recursive: true });
    // 8 frames of 400 tokens: 3200 = 25 blocks of 128, frames not block-aligned, so partial blocks exercise mask_mod.
    const plan = builtinPlan('attention_tile', { sizes: { t: 8, h: 16, w: 25 }, params: { a: 2 } }, 128);
    const c: GpuCase = {
      plan,
      headDim: 96,
      dtype: 'bfloat16',
      layout: 'bhsd',
      batch: 1,
      heads: 2,
      seed: 12345,
    };
    const inputs = inputsFor(c);
    const backend = createCudaBackend();
    try {
      const got = await backend.attention(plan, inputs, 'bfloat16');
      const shape = [c.batch, c.heads, plan.seqLen, c.headDim];
      const f32 = (name: string, dims: number[], data: ArrayLike<number>) =>
        [name, fromStorage('float32', dims, Float32Array.from(data), name)] as const;
      await writeSafetensors(join(dir, 'flex_case.tensors.safetensors'), [
        f32('q', shape, inputs.q),
        f32('k', shape, inputs.k),
        f32('v', shape, inputs.v),
        f32('out', shape, got.out),
        f32('lse', [c.batch, c.heads, plan.seqLen], got.lse),
      ]);
      await writeFlexBlockMask(join(dir, 'flex_case.blockmask.safetensors'), plan);
      writeFileSync(join(dir, 'flex_case.mask_mod.py'), renderFlexMaskMod(plan.pattern));
      writeFileSync(
        join(dir, 'flex_case.json'),
        JSON.stringify({ plan: plan.key, blockQ: plan.blockQ, blockK: plan.blockK, seqLen: plan.seqLen }),
      );
    } finally {
      await backend.dispose();
    }
  });
});
