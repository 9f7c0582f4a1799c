/**
 * What a CUDA attention kernel instance is: head dim, dtype, kernel family and tuning, checked against a plan
 * (TP4xx errors for what the kernels cannot build), and the launch facts they imply (symbol, threads, dynamic
 * shared memory, key tile). The kernels themselves are the templates of codegen/cuda/kernels; module.ts
 * instantiates them.
 */

import type { BlockPlan } from '../../compiler/plan/plan.js';
import { planError } from '../common/diagnostics.js';
import { splitPredicate } from '../common/split-mask.js';
import { keysNeedPaddingMask } from './key-walk.js';

/** Element types the kernel reads and writes (fp32 accumulation either way). */
export type CudaDType = 'bfloat16' | 'float16';

/** Head dims the kernel is instantiated for. */
export const CUDA_HEAD_DIMS = [64, 96, 128] as const;

/** Query block sizes the kernel supports: 16 rows per warp (4 or 8 warps) or 32 (2 or 4 warps). */
export const CUDA_BLOCK_Q = [64, 128] as const;

/** Keys per inner tile; plan key blocks must be a multiple of it. */
export const CUDA_TILE_K = 64;

/**
 * Performance knobs that do not change what the kernel computes; `bench/cuda-attention.ts` times the
 * alternatives side by side (see bench/RESULTS.md) and {@link defaultCudaTuning} picks the measured winner.
 */
export interface CudaKernelTuning {
  /** Keys per pipeline stage: 64, or the whole plan key block (fewer barriers, more live registers). */
  readonly tileK: number;
  /** `__launch_bounds__` minimum CTAs per SM: 2 caps registers at 128 so two CTAs share an SM. */
  readonly minBlocksPerSm: 1 | 2;
  /** Q fragments held in registers across the key loop, or reloaded from shared memory per tile. */
  readonly qInRegisters: boolean;
  /**
   * Query rows per warp: 16, or 32 (two 16-row mma groups share every K and V fragment loaded from shared
   * memory, halving ldmatrix traffic per mma, with half the warps per CTA).
   */
  readonly warpRows: 16 | 32;
  /** Unroll factor of the S loop over 16-column head-dim chunks (0: full unroll); see `KernelBodyOptions`. */
  readonly scoreChunkUnroll: number;
}

/**
 * The base kernel: 16 query rows per warp, Q in registers, one CTA per SM, 64-key tiles. It fits every head
 * dim and mask without register spills, so it is the fallback of {@link defaultCudaTuning} and the reference
 * the variant benchmark (`bench/cuda-variants.ts`) times the others against. Not itself every kernel's
 * default any more: see {@link defaultCudaTuning}.
 */
export const DEFAULT_CUDA_TUNING: CudaKernelTuning = {
  tileK: CUDA_TILE_K,
  minBlocksPerSm: 1,
  qInRegisters: true,
  warpRows: 16,
  scoreChunkUnroll: 0,
};

/**
 * 4 warps x 32 query rows, Q reloaded from shared memory per tile, two CTAs per SM (255-register cap), the S
 * loop's head-dim chunks unrolled by 2: halves the K/V ldmatrix traffic per mma, the limiter of the base
 * kernel (11-15% faster on an H100, bench/RESULTS.md). The unroll by 2 is what keeps it spill-free.
 */
export const W32_CUDA_TUNING: CudaKernelTuning = {
  tileK: CUDA_TILE_K,
  minBlocksPerSm: 2,
  qInRegisters: false,
  warpRows: 32,
  scoreChunkUnroll: 2,
};

/**
 * The tuning a kernel gets unless the caller asks otherwise: the fastest one that compiles without register
 * spills for sm_80 and sm_90 (test/codegen/cuda/nvcc.test.ts checks every built-in pattern). That is
 * {@link W32_CUDA_TUNING} for 128-row query blocks at head dims 64 and 96 when nothing is masked (no partial
 * blocks, no padding) and the key walk is closed-form (`dense` or `units`); {@link DEFAULT_CUDA_TUNING}
 * otherwise. The 32-row warp sits at its 255-register cap, and the decoded tokens and mask code of partial
 * tiles, or the CSR walk's table reads, tipped hd96 kernels into 8-48 B of spills with nvcc 13; head dim 128
 * cannot hold two 16-row groups of accumulators; 64-row blocks were not measured. Timed at hd96 only (hd64 is
 * spill-free and shares the ldmatrix argument, but has no timing of its own yet).
 */
export function defaultCudaTuning(headDim: number, plan: BlockPlan): CudaKernelTuning {
  if (plan.blockQ !== 128 || (headDim !== 64 && headDim !== 96) || plan.closedForm === null) {
    return DEFAULT_CUDA_TUNING;
  }
  const needs = maskNeeds(plan, W32_CUDA_TUNING.tileK);
  return needs.decodeKeys || needs.queryPadding ? DEFAULT_CUDA_TUNING : W32_CUDA_TUNING;
}

/**
 * Which kernel: `mma` is the FlashAttention-2-style kernel on `mma.sync` (sm_80 and newer, tessera/attention_sm80.cuh);
 * `wgmma` the Hopper kernels on warpgroup `wgmma.mma_async` (sm_90a only): by default the warp-specialised one
 * (tessera/attention_sm90_ws.cuh) on 128-row query blocks, the original (tessera/attention_sm90.cuh) otherwise.
 */
export type CudaKernelFamily = 'mma' | 'wgmma';

/** The compile target a family needs beyond the device's own: `wgmma` exists only on sm_90a. */
export const FAMILY_ARCH: Record<CudaKernelFamily, string | null> = { mma: null, wgmma: 'sm_90a' };

/** Performance knobs of the `wgmma` kernel; they do not change what it computes. */
export interface WgmmaKernelTuning {
  /** Keys per tile, the N of the S product: 128 (fewer barriers, 64 accumulator registers) or 64. */
  readonly tileK: 64 | 128;
  /** `__launch_bounds__` minimum CTAs per SM. */
  readonly minBlocksPerSm: 1 | 2;
  /**
   * The warp-specialised kernel (tessera/attention_sm90_ws.cuh: a TMA producer warpgroup, two consumer
   * warpgroups, a ring of K/V stages); absent: the original kernel (tessera/attention_sm90.cuh).
   */
  readonly warpSpecialized?: WarpSpecializedTuning;
}

/** Knobs of the warp-specialised `wgmma` kernel. */
export interface WarpSpecializedTuning {
  /** The two consumer warpgroups take turns issuing their products (named barriers). */
  readonly pingPong: boolean;
  /** At most one CTA per multiprocessor, each walking work items gridDim.x apart (longest first). */
  readonly persistent: boolean;
}

/**
 * The warp-specialised kernel's default for a plan: consumers in ping-pong; a persistent grid, whose CTAs claim
 * work items from a counter in the heaviest-first order (greedy), on every plan except dense attention at head
 * dim 128, where one CTA per work item measured 1% faster. On an H200 the persistent grid ran every mask 1.4-5.6%
 * faster (the 8-frame Attention Tile masks most: the per-CTA start and end overlap a neighbouring item's tiles)
 * and dense d96 0.4-3.4% faster (bench/RESULTS.md, 2026-12-04). Dense d64 is not measured and follows d96.
 */
export function defaultWsTuning(plan: BlockPlan, headDim: number): WarpSpecializedTuning {
  const dense = plan.stats.partial === 0 && plan.stats.full === plan.stats.total;
  return { pingPong: true, persistent: !(dense && headDim >= 128) };
}

/** Threads of the warp-specialised kernel: one producer and two consumer warpgroups. */
const WS_THREADS = 384;
/** Most K/V stages the warp-specialised kernel keeps (more did not fit or did not pay). */
const WS_MAX_STAGES = 4;

/**
 * Bytes between neighbouring core matrices of a row group in the `wgmma` kernel's shared layout: 128 (the
 * core matrix) plus 16, so the 16-byte chunks of one row fall in different banks (tessera/wgmma.cuh).
 */
const CORE_STRIDE = 144;

/** K/V pipeline depth of the `wgmma` kernel (tessera/attention_sm90.cuh). */
const WGMMA_STAGES = 3;

/** The `wgmma` kernel's default: 128-key tiles, one CTA of two warpgroups per SM. */
export const DEFAULT_WGMMA_TUNING: WgmmaKernelTuning = { tileK: 128, minBlocksPerSm: 1 };

/** What to instantiate. */
export interface CudaKernelOptions {
  readonly headDim: number;
  readonly dtype: CudaDType;
  /** Defaults to `mma`, which runs everywhere; the runtime picks `wgmma` on sm_90 devices. */
  readonly family?: CudaKernelFamily;
  /** `mma` only; defaults to {@link defaultCudaTuning} of the head dim and plan. */
  readonly tuning?: CudaKernelTuning;
  /** `wgmma` only; defaults to {@link DEFAULT_WGMMA_TUNING}, or 64-key tiles when the plan's blockK is 64. */
  readonly wgmmaTuning?: WgmmaKernelTuning;
  /**
   * `wgmma` only, when no `wgmmaTuning` is given: the warp-specialised kernel with these knobs on the plans it
   * supports (128-row query blocks), the original kernel on the others; `false`: the original kernel. Defaults
   * to {@link defaultWsTuning}.
   */
  readonly warpSpecialized?: WarpSpecializedTuning | false;
}

/** A rendered kernel and how to launch it. */
export interface CudaKernel {
  /** The `extern "C"` symbol. */
  readonly name: string;
  readonly source: string;
  /** Threads per CTA. */
  readonly threads: number;
  /** Dynamic shared memory per CTA, in bytes. */
  readonly sharedBytes: number;
  /**
   * CTAs per (batch, head): one per query block. The launch's 1-d grid is this times batch * heads, in the
   * order of codegen/cuda/cta-order.ts.
   */
  readonly ctasPerHead: number;
  /**
   * The grid is at most one CTA per multiprocessor and each CTA walks the work items gridDim.x apart (the
   * kernel reads their count from the `ctas` parameter).
   */
  readonly persistent: boolean;
  readonly headDim: number;
  readonly dtype: CudaDType;
  readonly family: CudaKernelFamily;
  /** Keys per tile (the `wgmma` kernel's tensor-map boxes are this tall). */
  readonly tileK: number;
}

/** Throw a TP4xx error unless the CUDA kernel can be built for this plan and these options. */
export function checkCudaKernelOptions(plan: BlockPlan, options: CudaKernelOptions): void {
  if (!(CUDA_BLOCK_Q as readonly number[]).includes(plan.blockQ)) {
    throw planError(
      plan,
      'TP401',
      `the CUDA kernel needs blockQ in {${CUDA_BLOCK_Q.join(', ')}}, the plan has ${plan.blockQ}`,
      'build the plan with blockQ = 128 (or 64)',
    );
  }
  const tileK = instanceTileK(plan, options);
  if (tileK % CUDA_TILE_K !== 0 || plan.blockK % tileK !== 0) {
    throw planError(
      plan,
      'TP402',
      `the CUDA kernel needs blockK to be a multiple of its key tile ${tileK} (itself a multiple of ${CUDA_TILE_K}), the plan has ${plan.blockK}`,
      'build the plan with blockK = 128 (or 64)',
    );
  }
  if (options.family === 'wgmma' && wgmmaTuningFor(plan, options).warpSpecialized) {
    if (plan.blockQ !== 128) {
      throw planError(
        plan,
        'TP401',
        `the warp-specialised wgmma kernel needs blockQ = 128 (two consumer warpgroups of 64 rows), the plan has ${plan.blockQ}`,
        'build the plan with blockQ = 128, or use the plain wgmma kernel',
      );
    }
    if (wsStages(plan, options.headDim, tileK) === 0) {
      throw planError(
        plan,
        'TP409',
        `the warp-specialised wgmma kernel with ${tileK}-key tiles at head dim ${options.headDim} does not fit two K/V stages in sm_90's ${SM90_MAX_SHARED_BYTES} B of shared memory`,
        'use 64-key tiles',
      );
    }
  } else if (options.family === 'wgmma') {
    const bytes = wgmmaSharedBytes(plan, options.headDim, tileK);
    if (bytes > SM90_MAX_SHARED_BYTES) {
      throw planError(
        plan,
        'TP409',
        `the wgmma kernel with ${tileK}-key tiles at head dim ${options.headDim} needs ${bytes} B of shared memory, sm_90 allows ${SM90_MAX_SHARED_BYTES}`,
        'use 64-key tiles (the default picks them where 128 do not fit)',
      );
    }
  }
  if (!(CUDA_HEAD_DIMS as readonly number[]).includes(options.headDim)) {
    throw planError(
      plan,
      'TP403',
      `the CUDA kernel supports head dims ${CUDA_HEAD_DIMS.join(', ')}, got ${options.headDim}`,
      'pad the head dim up to the next supported size',
    );
  }
  if (options.dtype !== 'bfloat16' && options.dtype !== 'float16') {
    throw planError(
      plan,
      'TP404',
      `the CUDA kernel reads bfloat16 or float16, got ${String(options.dtype)}`,
      'convert the inputs to bfloat16 or float16',
    );
  }
}

/** A C identifier from a plan key (`attention_tile_a2_t8x45x80_b128x128` stays as it is). */
export function cudaSymbol(text: string): string {
  return text.replace(/[^A-Za-z0-9_]/g, '_');
}

const DTYPE_SHORT: Record<CudaDType, string> = { bfloat16: 'bf16', float16: 'fp16' };

/** What a plan needs masked at a key tile size (the kernel templates decide the same from the pattern header). */
export function maskNeeds(plan: BlockPlan, tileK: number) {
  const elementMask = plan.partial.indices.length > 0;
  const keyPadding = keysNeedPaddingMask(plan, tileK);
  const queryPadding = plan.queryBlockHasPadding.some((x) => x !== 0);
  return { elementMask, keyPadding, queryPadding, decodeKeys: elementMask || keyPadding };
}

/** Dynamic shared memory a CTA may have on sm_90 (227 KB). */
export const SM90_MAX_SHARED_BYTES = 232448;

/**
 * Dynamic shared memory of a `wgmma` instance, laid out as TpAttentionSm90 (attention_sm90.cuh) lays it out:
 * kStages K and V tiles, Q in the row-group layout, the decoded key terms and run-opening marks of each stage
 * (16-byte aligned), the mbarriers. The module checks the two agree (a static_assert per instance).
 */
function wgmmaSharedBytes(plan: BlockPlan, headDim: number, tileK: number): number {
  const decodeKeys = maskNeeds(plan, tileK).decodeKeys;
  const q = 2 * WGMMA_STAGES * tileK * headDim * 2;
  const tokens = q + (plan.blockQ / 8) * (headDim / 8) * CORE_STRIDE;
  const runs = roundUp(tokens + (decodeKeys ? WGMMA_STAGES * tileK * tokenBytes(plan) : 0), 16);
  const bars = roundUp(runs + (decodeKeys ? WGMMA_STAGES * (tileK / 32) * 4 : 0), 8);
  return bars + 8 * WGMMA_STAGES;
}

const roundUp = (n: number, to: number) => Math.ceil(n / to) * to;

/**
 * Dynamic shared memory of the warp-specialised kernel with `stages` K/V stages, laid out as TpAttentionSm90Ws
 * lays it out: K and V stages, Q (128-byte core-matrix stride), key terms and run marks per stage, each stage's
 * mode word and next-item word, the full and empty mbarriers.
 */
function wsSharedBytes(plan: BlockPlan, headDim: number, tileK: number, stages: number): number {
  const decodeKeys = maskNeeds(plan, tileK).decodeKeys;
  const q = 2 * stages * tileK * headDim * 2;
  const tokens = q + plan.blockQ * headDim * 2;
  const runs = roundUp(tokens + (decodeKeys ? stages * tileK * tokenBytes(plan) : 0), 16);
  const modes = runs + (decodeKeys ? stages * (tileK / 32) * 4 : 0);
  return roundUp(modes + 8 * stages, 8) + 16 * stages; // a mode and a next-item word per stage
}

/** The deepest K/V ring (at most {@link WS_MAX_STAGES}) that fits in shared memory; 0 when not even 2 do. */
export function wsStages(plan: BlockPlan, headDim: number, tileK: number): number {
  for (let stages = WS_MAX_STAGES; stages >= 2; stages--) {
    if (wsSharedBytes(plan, headDim, tileK, stages) <= SM90_MAX_SHARED_BYTES) return stages;
  }
  return 0;
}

/**
 * The `wgmma` tuning of an instance: the one asked for, else {@link DEFAULT_WGMMA_TUNING} where the plan's
 * blockK and the shared memory allow 128-key tiles (head dim 128 with masks does not), 64-key tiles otherwise.
 */
export function wgmmaTuningFor(plan: BlockPlan, options: CudaKernelOptions): WgmmaKernelTuning {
  if (options.wgmmaTuning) return options.wgmmaTuning;
  const ws = options.warpSpecialized ?? defaultWsTuning(plan, options.headDim);
  if (ws && plan.blockQ === 128) {
    // 128-key tiles where three stages fit (the ring hides the load latency), 64-key tiles otherwise.
    const tileK = plan.blockK % 128 === 0 && wsStages(plan, options.headDim, 128) >= 3 ? 128 : 64;
    if (plan.blockK % tileK === 0 && wsStages(plan, options.headDim, tileK) >= 2) {
      return { tileK, minBlocksPerSm: 1, warpSpecialized: ws };
    }
  }
  const fits =
    plan.blockK % DEFAULT_WGMMA_TUNING.tileK === 0 &&
    wgmmaSharedBytes(plan, options.headDim, DEFAULT_WGMMA_TUNING.tileK) <= SM90_MAX_SHARED_BYTES;
  return fits ? DEFAULT_WGMMA_TUNING : { ...DEFAULT_WGMMA_TUNING, tileK: 64 };
}

/** Keys per tile of an instance: its family's tuning, asked for or default. */
export function instanceTileK(plan: BlockPlan, options: CudaKernelOptions): number {
  return options.family === 'wgmma'
    ? wgmmaTuningFor(plan, options).tileK
    : (options.tuning ?? defaultCudaTuning(options.headDim, plan)).tileK;
}

/** Bytes of one key's mask terms (`TpKeyTerms`: the segment and one int per key-side term of the split mask). */
function tokenBytes(plan: BlockPlan): number {
  return 4 * (1 + splitPredicate(plan.pattern.predicate).terms.k.length);
}

/** An instance's launch facts and tuning, for module.ts to instantiate the template and for the manifest. */
export type CudaInstance =
  | { readonly kernel: Omit<CudaKernel, 'source'>; readonly family: 'mma'; readonly tuning: CudaKernelTuning }
  | {
      readonly kernel: Omit<CudaKernel, 'source'>;
      readonly family: 'wgmma';
      readonly tuning: WgmmaKernelTuning;
      /** K/V stages in shared memory. */
      readonly stages: number;
    };

/** The launch facts of one instance; throws TP4xx errors for what the kernels cannot build. */
export function cudaInstance(plan: BlockPlan, options: CudaKernelOptions): CudaInstance {
  checkCudaKernelOptions(plan, options);
  const { headDim, dtype } = options;
  const short = DTYPE_SHORT[dtype];
  if (options.family === 'wgmma') {
    const tuning = wgmmaTuningFor(plan, options);
    const ws = tuning.warpSpecialized;
    const kernel = {
      name: cudaSymbol(`tessera_fwd90${ws ? 'ws' : ''}_${plan.key}_d${headDim}_${short}`),
      threads: ws ? WS_THREADS : (plan.blockQ / 64) * 128,
      sharedBytes: ws
        ? wsSharedBytes(plan, headDim, tuning.tileK, wsStages(plan, headDim, tuning.tileK))
        : wgmmaSharedBytes(plan, headDim, tuning.tileK),
      ctasPerHead: plan.numQBlocks,
      persistent: ws?.persistent ?? false,
      headDim,
      dtype,
      family: 'wgmma' as const,
      tileK: tuning.tileK,
    };
    const stages = ws ? wsStages(plan, headDim, tuning.tileK) : WGMMA_STAGES;
    return { kernel, family: 'wgmma', tuning, stages };
  }
  const tuning = options.tuning ?? defaultCudaTuning(headDim, plan);
  const pitch = headDim + 8;
  const kernel = {
    name: cudaSymbol(`tessera_fwd_${plan.key}_d${headDim}_${short}`),
    threads: (plan.blockQ / tuning.warpRows) * 32,
    sharedBytes:
      (plan.blockQ + 4 * tuning.tileK) * pitch * 2 +
      (maskNeeds(plan, tuning.tileK).decodeKeys ? 2 * tuning.tileK * tokenBytes(plan) : 0),
    ctasPerHead: plan.numQBlocks,
    persistent: false,
    headDim,
    dtype,
    family: 'mma' as const,
    tileK: tuning.tileK,
  };
  return { kernel, family: 'mma', tuning };
}
