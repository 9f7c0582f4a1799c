import { describe, expect, it } from 'vitest';
import {
  DEFAULT_CUDA_TUNING,
  defaultCudaTuning,
  W32_CUDA_TUNING,
} from '../../../codegen/cuda/kernel-options.js';
import { renderCudaKernel } from '../../../codegen/cuda/module.js';
import { TesseraError } from '../../../dsl/diagnostics.js';
import { builtinPlan } from '../../device/builtin-plans.js';

const plan = builtinPlan('attention_tile', { sizes: { t: 2, h: 8, w: 16 }, params: { a: 1 } }, 128);

describe('renderCudaKernel options', () => {
  it.each([
    [{ blockQ: 32 }, 96, 'bfloat16', 'TP401'],
    [{ blockK: 96 }, 96, 'bfloat16', 'TP402'],
    [{}, 80, 'bfloat16', 'TP403'],
    [{}, 64, 'float32', 'TP404'],
  ])('rejects %o d%i %s with %s', (override, headDim, dtype, code) => {
    const bad = { ...plan, ...override };
    try {
      renderCudaKernel(bad, { headDim, dtype: dtype as 'bfloat16' });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(TesseraError);
      expect((e as TesseraError).diagnostics[0]!.code).toBe(code);
    }
  });
});

describe('renderCudaKernel tuning', () => {
  it('rejects a key tile that does not divide the plan key block (TP402)', () => {
    const small = builtinPlan('attention_tile', { sizes: { t: 2, h: 8, w: 16 }, params: { a: 1 } }, 64);
    expect(() =>
      renderCudaKernel(small, {
        headDim: 64,
        dtype: 'bfloat16',
        tuning: { ...DEFAULT_CUDA_TUNING, tileK: 128 },
      }),
    ).toThrow(/key tile 128/);
  });

  it.each([16, 32] as const)('gives each warp %i query rows', (warpRows) => {
    const k = renderCudaKernel(plan, {
      headDim: 96,
      dtype: 'bfloat16',
      tuning: { ...DEFAULT_CUDA_TUNING, warpRows },
    });
    // A warp is 32 threads; the plan's 128 query rows are split evenly over the warps.
    expect(k.threads).toBe((plan.blockQ / warpRows) * 32);
    expect(k.source).toContain(`using Kernel = TpAttentionSm80<96, TpBf16, 64, ${warpRows}, true, 0>;`);
  });

  it('renders the per-plan default tuning when no tuning is given', () => {
    for (const headDim of [64, 96, 128]) {
      const implicit = renderCudaKernel(plan, { headDim, dtype: 'float16' });
      const tuning = defaultCudaTuning(headDim, plan);
      expect(implicit).toEqual(renderCudaKernel(plan, { headDim, dtype: 'float16', tuning }));
    }
  });

  it('uses 32-row warps only where they were shown spill-free (128-row blocks, d64/d96, unmasked, closed-form walk)', () => {
    const dense = builtinPlan('full', { sizes: { t: 2, h: 8, w: 16 } }, 128);
    const dense64 = builtinPlan('full', { sizes: { t: 2, h: 8, w: 16 } }, 64);
    // 160-token frames cut by 128-row blocks: partial blocks.
    const partial = builtinPlan('attention_tile', { sizes: { t: 3, h: 8, w: 20 }, params: { a: 1 } }, 128);
    // Whole frames per block: the `units` walk, nothing masked; sliding tiles: CSR tables, nothing masked.
    const units = builtinPlan('causal', { sizes: { t: 4, h: 8, w: 16 }, params: { token: false } }, 128);
    const csr = builtinPlan('sliding_tile', {}, 128);
    expect(partial.partial.indices.length).toBeGreaterThan(0);
    expect([units.closedForm?.kind, units.partial.indices.length]).toEqual(['units', 0]);
    expect([csr.closedForm, csr.partial.indices.length]).toEqual([null, 0]);
    expect(dense.partial.indices.length).toBe(0);
    const cases = [
      [dense, 64, W32_CUDA_TUNING],
      [dense, 96, W32_CUDA_TUNING],
      [dense, 128, DEFAULT_CUDA_TUNING],
      [partial, 64, DEFAULT_CUDA_TUNING],
      [partial, 96, DEFAULT_CUDA_TUNING],
      [partial, 128, DEFAULT_CUDA_TUNING],
      [units, 96, W32_CUDA_TUNING],
      [csr, 96, DEFAULT_CUDA_TUNING],
      [dense64, 96, DEFAULT_CUDA_TUNING],
    ] as const;
    for (const [p, headDim, want] of cases) expect(defaultCudaTuning(headDim, p)).toBe(want);
    // The chosen tuning reaches the instance: 4 warps of 32 rows, Q from shared memory, the S loop unrolled by 2,
    // two CTAs per SM.
    const k = renderCudaKernel(dense, { headDim: 96, dtype: 'bfloat16' });
    expect(k.threads).toBe(128);
    expect(k.source).toContain('__launch_bounds__(128, 2)');
    expect(k.source).toContain('using Kernel = TpAttentionSm80<96, TpBf16, 64, 32, false, 2>;');
  });
});
