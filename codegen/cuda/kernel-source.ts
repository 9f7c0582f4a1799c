/**
 * Render the CUDA C++ source of the block-sparse attention forward kernel for one plan, head dim and dtype:
 * a header comment, `tessera.cuh`, the pattern's decode and mask functions (only when something is masked),
 * the compile-time constants, the parameter struct, the key walk and the kernel. The source is
 * self-contained (no #include), so NVRTC and nvcc compile it as is.
 */

import type { BlockPlan } from '../../compiler/plan/plan.js';
import { planError } from '../common/diagnostics.js';
import { splitPredicate } from '../common/split-mask.js';
import { TESSERA_CUH } from './device-helpers.js';
import { renderCudaMaskFunctions } from './eager-mask.js';
import { renderKernelBody } from './kernel-body.js';
import {
  ATTN_PARAM_FIELDS,
  ATTN_PARAM_FIELDS_SM90A,
  ATTN_PARAM_STRUCT,
  renderParams,
} from './kernel-params.js';
import { renderKeyTermHelpers } from './key-runs.js';
import { keysNeedPaddingMask, MASK_MODE, renderKeyWalk } from './key-walk.js';
import { renderWgmmaKernelBody } from './wgmma-body.js';
import { renderWgmmaHelpers } from './wgmma-helpers.js';

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
 * Which kernel: `mma` is the FlashAttention-2-style kernel on `mma.sync` (sm_80 and newer, kernel-body.ts);
 * `wgmma` the Hopper kernel on warpgroup `wgmma.mma_async` (sm_90a only, wgmma-body.ts).
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
}

/**
 * Bytes between neighbouring core matrices of a row group in the `wgmma` kernel's shared layout: 128 (the
 * core matrix) plus 16, so the 16-byte chunks of one row fall in different banks (wgmma-helpers.ts).
 */
const CORE_STRIDE = 144;

/** K/V pipeline depth of the `wgmma` kernel (see wgmma-body.ts). */
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
  if (options.family === 'wgmma') {
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

interface InstanceParts {
  readonly kernel: Omit<CudaKernel, 'source'>;
  readonly text: string;
}

/** What a plan needs masked, decided once for every instantiation. */
function maskNeeds(plan: BlockPlan, tileK: number) {
  const elementMask = plan.partial.indices.length > 0;
  const keyPadding = keysNeedPaddingMask(plan, tileK);
  const queryPadding = plan.queryBlockHasPadding.some((x) => x !== 0);
  return { elementMask, keyPadding, queryPadding, decodeKeys: elementMask || keyPadding };
}

/** Dynamic shared memory a CTA may have on sm_90 (227 KB). */
export const SM90_MAX_SHARED_BYTES = 232448;

/** Shared memory of a `wgmma` instantiation: Q, kStages K and V tiles, and the stages' decoded key tokens. */
function wgmmaSharedBytes(plan: BlockPlan, headDim: number, tileK: number): number {
  return wgmmaSharedLayout(plan, headDim, tileK, maskNeeds(plan, tileK).decodeKeys).bytes;
}

/**
 * Byte offsets of the `wgmma` kernel's shared memory: kStages K tiles, kStages V tiles (64-byte swizzled slabs,
 * so first, on 1024-byte boundaries), Q in the row-group layout, the decoded key terms and the run-opening
 * marks of each stage (key-runs.ts; 16-byte aligned), the mbarriers.
 */
function wgmmaSharedLayout(plan: BlockPlan, headDim: number, tileK: number, decodeKeys: boolean) {
  const q = 2 * WGMMA_STAGES * tileK * headDim * 2;
  const tokens = q + (plan.blockQ / 8) * (headDim / 8) * CORE_STRIDE;
  const runs = roundUp(tokens + (decodeKeys ? WGMMA_STAGES * tileK * tokenBytes(plan) : 0), 16);
  const bars = roundUp(runs + (decodeKeys ? WGMMA_STAGES * (tileK / 32) * 4 : 0), 8);
  return { q, tokens, runs, bars, bytes: bars + 8 * WGMMA_STAGES };
}

const roundUp = (n: number, to: number) => Math.ceil(n / to) * to;

/**
 * The `wgmma` tuning of an instantiation: the one asked for, else {@link DEFAULT_WGMMA_TUNING} where the plan's
 * blockK and the shared memory allow 128-key tiles (head dim 128 with masks does not), 64-key tiles otherwise.
 */
function wgmmaTuningFor(plan: BlockPlan, options: CudaKernelOptions): WgmmaKernelTuning {
  if (options.wgmmaTuning) return options.wgmmaTuning;
  const fits =
    plan.blockK % DEFAULT_WGMMA_TUNING.tileK === 0 &&
    wgmmaSharedBytes(plan, options.headDim, DEFAULT_WGMMA_TUNING.tileK) <= SM90_MAX_SHARED_BYTES;
  return fits ? DEFAULT_WGMMA_TUNING : { ...DEFAULT_WGMMA_TUNING, tileK: 64 };
}

/** Keys per tile of an instantiation: its family's tuning, asked for or default. */
function instanceTileK(plan: BlockPlan, options: CudaKernelOptions): number {
  return options.family === 'wgmma'
    ? wgmmaTuningFor(plan, options).tileK
    : (options.tuning ?? defaultCudaTuning(options.headDim, plan)).tileK;
}

/** Bytes of one key's mask terms (`TpKeyTerms`: the segment and one int per key-side term of the split mask). */
function tokenBytes(plan: BlockPlan): number {
  return 4 * (1 + splitPredicate(plan.pattern.predicate).terms.k.length);
}

/** The constants both families share, as CUDA lines. */
function commonConstants(plan: BlockPlan, headDim: number, tileK: number): string[] {
  return [
    `constexpr int kHeadDim = ${headDim};`,
    `constexpr int kBlockQ = ${plan.blockQ};   // plan query block`,
    `constexpr int kBlockK = ${plan.blockK};   // plan key block`,
    `constexpr int kTileK = ${tileK};     // keys per pipeline stage`,
    'constexpr int kSubTiles = kBlockK / kTileK;',
    `constexpr int kSeqLen = ${plan.seqLen};`,
    `constexpr int kNumQBlocks = ${plan.numQBlocks};   // CTAs per (batch, head)`,
    'constexpr int kChunks = kHeadDim / 8;   // 16-byte chunks per row',
    `constexpr int kMaskNone = ${MASK_MODE.none};`,
    `constexpr int kMaskPadding = ${MASK_MODE.padding};   // full tile holding padding keys`,
    `constexpr int kMaskElements = ${MASK_MODE.elements};  // partial tile: tp_allowed per element`,
  ];
}

/**
 * An instantiation's text: a header line, then the constants both families share and `lines`, inside its own
 * namespace (so several instantiations share one source file).
 */
function instanceParts(
  plan: BlockPlan,
  kernel: Omit<CudaKernel, 'source'>,
  label: string,
  namespace: string,
  lines: readonly string[],
): InstanceParts {
  const text = [
    `// ---- head dim ${kernel.headDim}, ${kernel.dtype}${label}: kernel ${kernel.name}, ${kernel.threads} threads, ${kernel.sharedBytes} B dynamic shared memory`,
    `namespace ${namespace} {`,
    ...commonConstants(plan, kernel.headDim, kernel.tileK),
    ...lines,
    `}  // namespace ${namespace}`,
    '',
  ].join('\n');
  return { kernel, text };
}

/** One `wgmma` instantiation (sm_90a): two warpgroups per 128-row query block. */
function renderWgmmaInstance(plan: BlockPlan, options: CudaKernelOptions): InstanceParts {
  const { headDim, dtype } = options;
  const short = DTYPE_SHORT[dtype];
  const tuning = wgmmaTuningFor(plan, options);
  const needs = maskNeeds(plan, tuning.tileK);
  const layout = wgmmaSharedLayout(plan, headDim, tuning.tileK, needs.decodeKeys);
  const kernel = {
    name: cudaSymbol(`tessera_fwd90_${plan.key}_d${headDim}_${short}`),
    threads: (plan.blockQ / 64) * 128,
    sharedBytes: layout.bytes,
    ctasPerHead: plan.numQBlocks,
    headDim,
    dtype,
    family: 'wgmma' as const,
    tileK: tuning.tileK,
  };
  return instanceParts(plan, kernel, ', sm_90a wgmma', `tp90_d${headDim}_${short}`, [
    'constexpr int kThreads = kBlockQ / 64 * 128;   // one warpgroup per 64 query rows',
    `constexpr int kCoreStride = ${CORE_STRIDE};   // bytes from one 8 x 16-byte core matrix to the next along a row`,
    'constexpr int kGroupBytes = kChunks * kCoreStride;   // one 8-row group of the shared row-group layout',
    'constexpr int kSlabs = kHeadDim / 32;          // 32-column slabs of a K/V tile (64-byte swizzle)',
    'constexpr int kSlabBytes = kTileK * 64;',
    'constexpr int kTileBytes = kSlabs * kSlabBytes;',
    `constexpr int kQOffset = ${layout.q};     // shared-memory byte offsets: Q, decoded key tokens, mbarriers`,
    `constexpr int kTokOffset = ${layout.tokens};`,
    `constexpr int kRunOffset = ${layout.runs};`,
    `constexpr int kBarOffset = ${layout.bars};`,
    `constexpr int kStages = ${WGMMA_STAGES};   // K/V tiles in shared memory: j - 1 (its P V runs), j, j + 1 (loading)`,
    '',
    `TP_DEVICE unsigned tp_pack(float lo, float hi) { return tp_pack_${short}(lo, hi); }`,
    renderWgmmaHelpers(dtype, tuning.tileK, headDim),
    '',
    renderParams(ATTN_PARAM_FIELDS_SM90A, 'struct', ATTN_PARAM_STRUCT),
    '',
    renderKeyWalk(plan, tuning.tileK),
    '',
    renderWgmmaKernelBody({
      kernelName: kernel.name,
      tileK: tuning.tileK,
      headDim,
      ...needs,
      minBlocksPerSm: tuning.minBlocksPerSm,
    }),
  ]);
}

/** One instantiation (head dim, dtype) wrapped in its own namespace, so several share one source file. */
function renderInstance(plan: BlockPlan, options: CudaKernelOptions): InstanceParts {
  checkCudaKernelOptions(plan, options);
  if (options.family === 'wgmma') return renderWgmmaInstance(plan, options);
  const { headDim, dtype } = options;
  const short = DTYPE_SHORT[dtype];
  const tuning = options.tuning ?? defaultCudaTuning(headDim, plan);
  const needs = maskNeeds(plan, tuning.tileK);
  const pitch = headDim + 8;
  const kernel = {
    name: cudaSymbol(`tessera_fwd_${plan.key}_d${headDim}_${short}`),
    threads: (plan.blockQ / tuning.warpRows) * 32,
    sharedBytes:
      (plan.blockQ + 4 * tuning.tileK) * pitch * 2 +
      (needs.decodeKeys ? 2 * tuning.tileK * tokenBytes(plan) : 0),
    ctasPerHead: plan.numQBlocks,
    headDim,
    dtype,
    family: 'mma' as const,
    tileK: tuning.tileK,
  };
  return instanceParts(plan, kernel, '', `tp_d${headDim}_${short}`, [
    `constexpr int kWarpRows = ${tuning.warpRows};   // query rows per warp`,
    'constexpr int kRowGroups = kWarpRows / 16;   // 16-row mma groups per warp',
    'constexpr int kThreads = kBlockQ / kWarpRows * 32;',
    '// Shared rows are padded by 16 bytes: an odd number of 16-byte chunks per row keeps ldmatrix conflict-free.',
    'constexpr int kPitch = kHeadDim + 8;',
    '',
    `TP_DEVICE void tp_mma(float (&d)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) { tp_mma_${short}(d, a, b0, b1); }`,
    `TP_DEVICE unsigned tp_pack(float lo, float hi) { return tp_pack_${short}(lo, hi); }`,
    '',
    renderParams(ATTN_PARAM_FIELDS, 'struct', ATTN_PARAM_STRUCT),
    '',
    renderKeyWalk(plan, tuning.tileK),
    '',
    renderKernelBody({
      kernelName: kernel.name,
      ...needs,
      minBlocksPerSm: tuning.minBlocksPerSm,
      qInRegisters: tuning.qInRegisters,
      scoreChunkUnroll: tuning.scoreChunkUnroll,
    }),
  ]);
}

/** A source file holding several instantiations of one plan's kernel, all of one family. */
export interface CudaModule {
  readonly source: string;
  readonly kernels: readonly Omit<CudaKernel, 'source'>[];
  readonly family: CudaKernelFamily;
}

/**
 * Render one source file with a kernel per (head dim, dtype) for a plan: a header comment, `tessera.cuh`,
 * the pattern's decode and mask functions (only when something is masked), then each instantiation.
 * Throws TP4xx {@link TesseraError}s for shapes the kernel does not support.
 */
export function renderCudaModule(plan: BlockPlan, instances: readonly CudaKernelOptions[]): CudaModule {
  const family = instances[0]?.family ?? 'mma';
  if (instances.some((o) => (o.family ?? 'mma') !== family)) {
    throw new RangeError(
      'renderCudaModule: every instantiation of one source file must be of one kernel family',
    );
  }
  const parts = instances.map((o) => renderInstance(plan, o));
  // The pattern's mask functions go in when any instance decodes (tile sizes may differ per instance).
  const tileKs = [DEFAULT_CUDA_TUNING.tileK, ...instances.map((o) => instanceTileK(plan, o))];
  const allNeeds = tileKs.map((tileK) => maskNeeds(plan, tileK));
  const needsMaskFunctions = allNeeds.some((n) => n.decodeKeys || n.queryPadding);
  const s = plan.stats;
  const lines = [
    '// Generated by tessera (codegen/cuda). DO NOT EDIT.',
    `// Pattern ${plan.pattern.key}, plan ${plan.key}: ${plan.seqLen} tokens, blocks ${plan.blockQ} x ${plan.blockK}.`,
    `// Blocks: ${s.full} full, ${s.partial} partial, ${s.empty} empty of ${s.total} (sparsity ${(100 * s.sparsity).toFixed(1)}%);` +
      ` key walk: ${plan.closedForm ? `closed form '${plan.closedForm.kind}'` : 'CSR tables'}.`,
    `// Kernels: ${parts.map((p) => p.kernel.name).join(', ')}; fp32 accumulation; 1-d grid of query blocks x batch x heads (codegen/cuda/cta-order.ts).`,
    ...(FAMILY_ARCH[family] ? [`// Target: ${FAMILY_ARCH[family]} only (warpgroup wgmma).`] : []),
    '',
    TESSERA_CUH,
  ];
  if (needsMaskFunctions)
    lines.push(renderCudaMaskFunctions(plan.pattern), renderKeyTermHelpers(plan.pattern), '');
  for (const p of parts) lines.push(p.text);
  return { source: lines.join('\n'), kernels: parts.map((p) => p.kernel), family };
}

/** Render the kernel for one head dim and dtype. Throws TP4xx {@link TesseraError}s for unsupported shapes. */
export function renderCudaKernel(plan: BlockPlan, options: CudaKernelOptions): CudaKernel {
  const module = renderCudaModule(plan, [options]);
  return { ...module.kernels[0]!, source: module.source };
}
