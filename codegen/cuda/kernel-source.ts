/**
 * Render the CUDA C++ source of the block-sparse attention forward kernel for one plan, head dim and dtype:
 * a header comment, `tessera.cuh`, the pattern's decode and mask functions (only when something is masked),
 * the compile-time constants, the parameter struct, the key walk and the kernel. The source is
 * self-contained (no #include), so NVRTC and nvcc compile it as is.
 */

import type { BlockPlan } from '../../compiler/plan.js';
import { type Diagnostic, TesseraError } from '../../dsl/diagnostics.js';
import { START_OF_FILE } from '../../dsl/source.js';
import { TESSERA_CUH } from './device-helpers.js';
import { renderCudaMaskFunctions } from './eager-mask.js';
import { renderKernelBody } from './kernel-body.js';
import { renderParamStruct } from './kernel-params.js';
import { keysNeedPaddingMask, MASK_MODE, renderKeyWalk } from './key-walk.js';

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

/** What to instantiate. */
export interface CudaKernelOptions {
  readonly headDim: number;
  readonly dtype: CudaDType;
  /** Defaults to {@link defaultCudaTuning} of the head dim and plan. */
  readonly tuning?: CudaKernelTuning;
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
  /** Grid x: query blocks, in `plan.schedule` order; grid y is batch * heads, chosen at launch. */
  readonly gridX: number;
  readonly headDim: number;
  readonly dtype: CudaDType;
}

function codegenError(plan: BlockPlan, code: `TP4${number}`, message: string, hint: string): TesseraError {
  const diagnostic: Diagnostic = {
    code,
    severity: 'error',
    message,
    hint,
    range: START_OF_FILE,
    file: plan.pattern.key,
  };
  return new TesseraError([diagnostic]);
}

/** Throw a TP4xx error unless the CUDA kernel can be built for this plan and these options. */
export function checkCudaKernelOptions(plan: BlockPlan, options: CudaKernelOptions): void {
  if (!(CUDA_BLOCK_Q as readonly number[]).includes(plan.blockQ)) {
    throw codegenError(
      plan,
      'TP401',
      `the CUDA kernel needs blockQ in {${CUDA_BLOCK_Q.join(', ')}}, the plan has ${plan.blockQ}`,
      'build the plan with blockQ = 128 (or 64)',
    );
  }
  const tileK = options.tuning?.tileK ?? CUDA_TILE_K;
  if (tileK % CUDA_TILE_K !== 0 || plan.blockK % tileK !== 0) {
    throw codegenError(
      plan,
      'TP402',
      `the CUDA kernel needs blockK to be a multiple of its key tile ${tileK} (itself a multiple of ${CUDA_TILE_K}), the plan has ${plan.blockK}`,
      'build the plan with blockK = 128 (or 64)',
    );
  }
  if (!(CUDA_HEAD_DIMS as readonly number[]).includes(options.headDim)) {
    throw codegenError(
      plan,
      'TP403',
      `the CUDA kernel supports head dims ${CUDA_HEAD_DIMS.join(', ')}, got ${options.headDim}`,
      'pad the head dim up to the next supported size',
    );
  }
  if (options.dtype !== 'bfloat16' && options.dtype !== 'float16') {
    throw codegenError(
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

/** One instantiation (head dim, dtype) wrapped in its own namespace, so several share one source file. */
function renderInstance(plan: BlockPlan, options: CudaKernelOptions): InstanceParts {
  checkCudaKernelOptions(plan, options);
  const { headDim, dtype } = options;
  const short = DTYPE_SHORT[dtype];
  const tuning = options.tuning ?? defaultCudaTuning(headDim, plan);
  const needs = maskNeeds(plan, tuning.tileK);
  const threads = (plan.blockQ / tuning.warpRows) * 32;
  const pitch = headDim + 8;
  const tokenBytes = 4 * (1 + plan.pattern.layout.axisNames.length);
  const sharedBytes =
    (plan.blockQ + 4 * tuning.tileK) * pitch * 2 + (needs.decodeKeys ? 2 * tuning.tileK * tokenBytes : 0);
  const name = cudaSymbol(`tessera_fwd_${plan.key}_d${headDim}_${short}`);
  const text = [
    `// ---- head dim ${headDim}, ${dtype}: kernel ${name}, ${threads} threads, ${sharedBytes} B dynamic shared memory`,
    `namespace tp_d${headDim}_${short} {`,
    `constexpr int kHeadDim = ${headDim};`,
    `constexpr int kBlockQ = ${plan.blockQ};   // plan query block`,
    `constexpr int kWarpRows = ${tuning.warpRows};   // query rows per warp`,
    'constexpr int kRowGroups = kWarpRows / 16;   // 16-row mma groups per warp',
    `constexpr int kBlockK = ${plan.blockK};   // plan key block`,
    `constexpr int kTileK = ${tuning.tileK};     // keys per pipeline stage`,
    'constexpr int kSubTiles = kBlockK / kTileK;',
    `constexpr int kSeqLen = ${plan.seqLen};`,
    'constexpr int kThreads = kBlockQ / kWarpRows * 32;',
    'constexpr int kChunks = kHeadDim / 8;   // 16-byte chunks per row',
    '// Shared rows are padded by 16 bytes: an odd number of 16-byte chunks per row keeps ldmatrix conflict-free.',
    'constexpr int kPitch = kHeadDim + 8;',
    `constexpr int kMaskNone = ${MASK_MODE.none};`,
    `constexpr int kMaskPadding = ${MASK_MODE.padding};   // full tile holding padding keys`,
    `constexpr int kMaskElements = ${MASK_MODE.elements};  // partial tile: tp_allowed per element`,
    '',
    `TP_DEVICE void tp_mma(float (&d)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) { tp_mma_${short}(d, a, b0, b1); }`,
    `TP_DEVICE unsigned tp_pack(float lo, float hi) { return tp_pack_${short}(lo, hi); }`,
    '',
    renderParamStruct(),
    '',
    renderKeyWalk(plan, tuning.tileK),
    '',
    renderKernelBody({
      kernelName: name,
      ...needs,
      minBlocksPerSm: tuning.minBlocksPerSm,
      qInRegisters: tuning.qInRegisters,
      scoreChunkUnroll: tuning.scoreChunkUnroll,
    }),
    `}  // namespace tp_d${headDim}_${short}`,
    '',
  ].join('\n');
  return { kernel: { name, threads, sharedBytes, gridX: plan.numQBlocks, headDim, dtype }, text };
}

/** A source file holding several instantiations of one plan's kernel. */
export interface CudaModule {
  readonly source: string;
  readonly kernels: readonly Omit<CudaKernel, 'source'>[];
}

/**
 * Render one source file with a kernel per (head dim, dtype) for a plan: a header comment, `tessera.cuh`,
 * the pattern's decode and mask functions (only when something is masked), then each instantiation.
 * Throws TP4xx {@link TesseraError}s for shapes the kernel does not support.
 */
export function renderCudaModule(plan: BlockPlan, instances: readonly CudaKernelOptions[]): CudaModule {
  const parts = instances.map((o) => renderInstance(plan, o));
  // The pattern's mask functions go in when any instance decodes (tile sizes may differ per instance).
  const allNeeds = [
    DEFAULT_CUDA_TUNING,
    ...instances.map((o) => o.tuning ?? defaultCudaTuning(o.headDim, plan)),
  ].map((t) => maskNeeds(plan, t.tileK));
  const needsMaskFunctions = allNeeds.some((n) => n.decodeKeys || n.queryPadding);
  const s = plan.stats;
  const lines = [
    '// Generated by tessera (codegen/cuda). DO NOT EDIT.',
    `// Pattern ${plan.pattern.key}, plan ${plan.key}: ${plan.seqLen} tokens, blocks ${plan.blockQ} x ${plan.blockK}.`,
    `// Blocks: ${s.full} full, ${s.partial} partial, ${s.empty} empty of ${s.total} (sparsity ${(100 * s.sparsity).toFixed(1)}%);` +
      ` key walk: ${plan.closedForm ? `closed form '${plan.closedForm.kind}'` : 'CSR tables'}.`,
    `// Kernels: ${parts.map((p) => p.kernel.name).join(', ')}; fp32 accumulation, grid (query blocks, batch * heads).`,
    '',
    TESSERA_CUH,
  ];
  if (needsMaskFunctions) lines.push(renderCudaMaskFunctions(plan.pattern), '');
  for (const p of parts) lines.push(p.text);
  return { source: lines.join('\n'), kernels: parts.map((p) => p.kernel) };
}

/** Render the kernel for one head dim and dtype. Throws TP4xx {@link TesseraError}s for unsupported shapes. */
export function renderCudaKernel(plan: BlockPlan, options: CudaKernelOptions): CudaKernel {
  const module = renderCudaModule(plan, [options]);
  return { ...module.kernels[0]!, source: module.source };
}
