/**
 * The Hopper (`wgmma`) kernel's host-side contract, checked without a GPU: its parameter struct (tensor maps
 * first, 64-byte aligned, packed at the offsets the CUDA struct has), its tuning choice against the sm_90
 * shared-memory limit, and the errors for what it cannot build. The kernel itself runs in `npm run test:gpu`.
 */
import { describe, expect, it } from 'vitest';
import { SM90_MAX_SHARED_BYTES, wsStages } from '../../../codegen/cuda/kernel-options.js';
import {
  ATTN_PARAM_FIELDS,
  ATTN_PARAM_FIELDS_SM90A,
  ATTN_PARAM_STRUCT,
  type KernelParam,
  type ParamValues,
  packParams,
  paramLayout,
  renderParams,
} from '../../../codegen/cuda/kernel-params.js';
import { renderCudaKernel, renderCudaModule } from '../../../codegen/cuda/module.js';
import { TesseraError } from '../../../dsl/diagnostics.js';
import { builtinPlan } from '../../device/builtin-plans.js';
import { markedValues } from './param-oracle.js';

/** Distinct values per field, so a shifted offset reads back as the wrong field. */
const marked = markedValues(ATTN_PARAM_FIELDS_SM90A);

/** The attention struct's bytes. */
const packAttn = (values: ParamValues, fields: readonly KernelParam[]) =>
  packParams(fields, 'struct', values, 'tessera_fwd90_test');

describe('the wgmma kernel parameter struct', () => {
  it('puts the tensor maps first and every other field after them, at natural alignment', () => {
    const bytes = packAttn(marked, ATTN_PARAM_FIELDS_SM90A);
    expect(bytes.length).toBe(paramLayout(ATTN_PARAM_FIELDS_SM90A, 'struct').bytes);
    expect(bytes.length % 64).toBe(0);
    expect(bytes.slice(0, 128).every((b) => b === 1)).toBe(true);
    expect(bytes.slice(128, 256).every((b) => b === 2)).toBe(true);
    const view = new DataView(bytes.buffer);
    // The persistent grid's work counter (a pointer) right after the maps, then the common fields in the sm_80
    // order.
    const at = (name: string) => ATTN_PARAM_FIELDS_SM90A.findIndex((f) => f.name === name);
    expect(view.getBigInt64(256, true)).toBe(BigInt(1000 + at('work_counter')));
    expect(view.getBigInt64(264, true)).toBe(BigInt(1000 + at('q')));
    const plain = packAttn(
      Object.fromEntries(ATTN_PARAM_FIELDS.map((f) => [f.name, marked[f.name]!])),
      ATTN_PARAM_FIELDS,
    );
    expect(bytes.slice(264, 264 + plain.length - 4)).toEqual(plain.slice(0, plain.length - 4));
  });

  it('declares the same fields in the CUDA struct, tensor maps first', () => {
    const struct = renderParams(ATTN_PARAM_FIELDS_SM90A, 'struct', ATTN_PARAM_STRUCT).split('\n');
    expect(struct[1]).toMatch(/^ {2}TpTensorMap tmap_k;/);
    expect(struct[2]).toMatch(/^ {2}TpTensorMap tmap_v;/);
    expect(struct).toHaveLength(ATTN_PARAM_FIELDS_SM90A.length + 2);
  });

  it('rejects a tensor map of the wrong size and bytes for a number field', () => {
    expect(() => packAttn({ ...marked, tmap_v: new Uint8Array(64) }, ATTN_PARAM_FIELDS_SM90A)).toThrow(
      /tmap_v.*128 bytes/,
    );
    expect(() => packAttn({ ...marked, heads: new Uint8Array(4) }, ATTN_PARAM_FIELDS_SM90A)).toThrow(/heads/);
  });
});

describe('the wgmma kernel source', () => {
  const masked = builtinPlan('attention_tile', { sizes: { t: 3, h: 8, w: 20 }, params: { a: 1 } }, 128);
  const dense = builtinPlan('full', { sizes: { t: 2, h: 8, w: 16 } }, 128);

  it('fits the sm_90 shared memory with its default tiles at every head dim (original kernel)', () => {
    for (const plan of [masked, dense]) {
      for (const headDim of [64, 96, 128]) {
        const k = renderCudaKernel(plan, {
          headDim,
          dtype: 'bfloat16',
          family: 'wgmma',
          warpSpecialized: false,
        });
        expect(k.sharedBytes).toBeLessThanOrEqual(SM90_MAX_SHARED_BYTES);
        expect(k.threads).toBe(256);
        expect(k.family).toBe('wgmma');
        expect(k.persistent).toBe(false);
        // 128-key tiles where they fit; head dim 128 needs 64.
        expect(k.tileK).toBe(headDim === 128 ? 64 : 128);
        expect(k.source).toContain(`using Kernel = TpAttentionSm90<${headDim}, TpBf16, ${k.tileK}>;`);
        expect(k.source).toContain('const __grid_constant__ TpAttnParams p');
      }
    }
  });

  it('defaults to the warp-specialised kernel: 3 warpgroups, the deepest K/V ring that fits', () => {
    for (const plan of [masked, dense]) {
      for (const headDim of [64, 96, 128]) {
        const k = renderCudaKernel(plan, { headDim, dtype: 'bfloat16', family: 'wgmma' });
        expect(k.sharedBytes).toBeLessThanOrEqual(SM90_MAX_SHARED_BYTES);
        expect(k.threads).toBe(384);
        // A persistent grid claiming items, except dense attention at head dim 128 (defaultWsTuning).
        const persistent = !(plan === dense && headDim === 128);
        expect(k.persistent).toBe(persistent);
        expect(k.name).toMatch(/^tessera_fwd90ws_/);
        // 128-key tiles where three stages fit; head dim 128 with decoded key terms takes 64-key tiles.
        const stages = wsStages(plan, headDim, k.tileK);
        expect(stages).toBeGreaterThanOrEqual(3);
        expect(k.tileK).toBe(headDim === 128 && plan === masked ? 64 : 128);
        expect(k.source).toContain(
          `using Kernel = TpAttentionSm90Ws<${headDim}, TpBf16, ${k.tileK}, ${stages}, true, ${persistent}>;`,
        );
        expect(k.source).toContain('setmaxnreg.dec.sync.aligned.u32');
      }
    }
    // 64-row query blocks have one warpgroup's worth of rows: the original kernel.
    const small = builtinPlan('full', { sizes: { t: 2, h: 8, w: 16 } }, 64);
    expect(renderCudaKernel(small, { headDim: 96, dtype: 'bfloat16', family: 'wgmma' }).threads).toBe(128);
  });

  it('launches the grid asked for: persistent, or one CTA per work item', () => {
    for (const persistent of [true, false]) {
      const k = renderCudaKernel(dense, {
        headDim: 96,
        dtype: 'bfloat16',
        family: 'wgmma',
        warpSpecialized: { pingPong: false, persistent },
      });
      expect(k.persistent).toBe(persistent);
      expect(k.source).toContain(
        `using Kernel = TpAttentionSm90Ws<96, TpBf16, 128, 4, false, ${persistent}>;`,
      );
    }
  });

  it('names the shared-memory overflow of an explicit tuning (TP409)', () => {
    try {
      renderCudaKernel(masked, {
        headDim: 128,
        dtype: 'bfloat16',
        family: 'wgmma',
        wgmmaTuning: { tileK: 128, minBlocksPerSm: 1 },
      });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(TesseraError);
      const d = (e as TesseraError).diagnostics[0]!;
      expect(d.code).toBe('TP409');
      expect(d.message).toMatch(/128-key tiles at head dim 128 needs \d+ B of shared memory/);
    }
  });

  it('keeps one kernel family per source file', () => {
    expect(() =>
      renderCudaModule(dense, [
        { headDim: 96, dtype: 'bfloat16', family: 'mma' },
        { headDim: 96, dtype: 'bfloat16', family: 'wgmma' },
      ]),
    ).toThrow(/one kernel family/);
    const module = renderCudaModule(dense, [
      { headDim: 96, dtype: 'float16', family: 'wgmma', warpSpecialized: false },
    ]);
    expect(module.family).toBe('wgmma');
    expect(module.source).toContain('// Target: sm_90a only');
    expect(module.source).toContain('using Kernel = TpAttentionSm90<96, TpFp16, 128>;');
    expect(module.source).toContain('wgmma.mma_async.sync.aligned.m64n" #N "k16.f32." PTX_T "." PTX_T');
  });
});
