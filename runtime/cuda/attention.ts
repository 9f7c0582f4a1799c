/**
 * Block-sparse attention on a CUDA device: the plan's kernel (rendered by codegen/cuda, JIT-compiled through
 * the cubin cache), its tables in device memory, and launches over [B, S, H, D] or [B, H, S, D] operands
 * described by their strides. Operands are checked once per call; a wrong shape, dtype, device or stride
 * names the tensor and what was expected.
 */
import { type CtaOrder, ctaOrder } from '../../codegen/cuda/cta-order.js';
import {
  type CudaDType,
  type CudaKernel,
  type CudaKernelFamily,
  FAMILY_ARCH,
  type WarpSpecializedTuning,
  type WgmmaKernelTuning,
} from '../../codegen/cuda/kernel-options.js';
import { ATTN_PARAM_FIELDS, ATTN_PARAM_FIELDS_SM90A, packParams } from '../../codegen/cuda/kernel-params.js';
import { renderCudaKernel } from '../../codegen/cuda/module.js';
import type { BlockPlan } from '../../compiler/plan/plan.js';
import { type AttentionLayout, TensorError } from '../../core/tensor.js';
import type { CudaDevice, DeviceTensor, LoadedKernel } from './device.js';

/** Operands of one call: Q, K, V (and optionally preallocated outputs) in one token layout. */
export interface CudaAttentionOperands {
  readonly q: DeviceTensor;
  readonly k: DeviceTensor;
  readonly v: DeviceTensor;
  /** [B, S, H, D] (`bshd`) or [B, H, S, D] (`bhsd`); the output uses the same. */
  readonly layout: AttentionLayout;
  /** Output tensor, same shape and dtype as q; allocated when absent. */
  readonly out?: DeviceTensor;
  /** fp32 [B, H, S]; allocated when absent. */
  readonly lse?: DeviceTensor;
  /** Softmax scale; default 1 / sqrt(headDim). */
  readonly scale?: number;
  /**
   * int32 [count]: compute only these heads of q, k, v (into the same heads of out), one launch for heads that
   * share this plan wherever they sit; lse is then [B, count, S]. Absent: every head, in order.
   */
  readonly headMap?: DeviceTensor;
}

/** Result tensors of a call. */
export interface CudaAttentionResult {
  readonly out: DeviceTensor;
  readonly lse: DeviceTensor;
}

/** CUtensorMapSwizzle of the `wgmma` kernel's K/V slabs. */
const TENSOR_MAP_SWIZZLE_64B = 2;

interface Axes {
  readonly batch: number;
  readonly seq: number;
  readonly heads: number;
  readonly dim: number;
  readonly strides: { readonly batch: number; readonly seq: number; readonly head: number };
}

/** Logical sizes and strides of an operand, checked against the kernel's needs. */
function axesOf(
  name: string,
  t: DeviceTensor,
  layout: AttentionLayout,
  dtype: CudaDType,
  device: string,
): Axes {
  if (t.device !== device) throw new TensorError(name, `is on ${t.device}, expected ${device}`);
  if (t.dtype !== dtype)
    throw new TensorError(name, `expected dtype ${dtype} (the kernel's), got ${t.dtype}`);
  if (t.shape.length !== 4)
    throw new TensorError(name, `expected 4 dimensions (${layout}), got [${t.shape.join(', ')}]`);
  const [s0, s1, s2, s3] = t.strides as [number, number, number, number];
  const [d0, d1, d2, d3] = t.shape as [number, number, number, number];
  const axes: Axes =
    layout === 'bshd'
      ? { batch: d0, seq: d1, heads: d2, dim: d3, strides: { batch: s0, seq: s1, head: s2 } }
      : { batch: d0, heads: d1, seq: d2, dim: d3, strides: { batch: s0, head: s1, seq: s2 } };
  if (s3 !== 1) throw new TensorError(name, `the head dim must be contiguous (stride 1), got stride ${s3}`);
  const { batch, seq, head } = axes.strides;
  if (batch % 8 !== 0 || seq % 8 !== 0 || head % 8 !== 0 || t.ptr % 16n !== 0n) {
    throw new TensorError(name, 'rows must start on 16-byte boundaries (strides multiples of 8 elements)');
  }
  return axes;
}

/** How to build a plan's kernel on a device. */
export interface CudaAttentionOptions {
  /** Default: {@link defaultKernelFamily} of the device. */
  readonly family?: CudaKernelFamily;
  /** `wgmma` kernels only. */
  readonly wgmmaTuning?: WgmmaKernelTuning;
  /** `wgmma` kernels only: the warp-specialised kernel where the plan allows it (codegen/cuda/kernel-options.ts). */
  readonly warpSpecialized?: WarpSpecializedTuning | false;
}

/**
 * The kernel family a device runs by default: `wgmma` on sm_90 (Hopper; 1.6x the `mma` kernel's dense rate,
 * bench/RESULTS.md), `mma` elsewhere. The environment variable TESSERA_CUDA_KERNEL (`mma` or `wgmma`)
 * overrides it, for comparing the two in a whole model run.
 */
export function defaultKernelFamily(device: CudaDevice): CudaKernelFamily {
  const forced = process.env.TESSERA_CUDA_KERNEL;
  if (forced !== undefined && forced !== '') {
    if (forced !== 'mma' && forced !== 'wgmma') {
      throw new RangeError(`TESSERA_CUDA_KERNEL must be 'mma' or 'wgmma', got '${forced}'`);
    }
    if (forced === 'wgmma' && device.arch !== 'sm_90') {
      throw new RangeError(
        `TESSERA_CUDA_KERNEL=wgmma needs an sm_90 device; ${device.info.name} is ${device.arch}`,
      );
    }
    return forced;
  }
  return device.arch === 'sm_90' ? 'wgmma' : 'mma';
}

/** CUDA's limit on gridDim.x. */
const MAX_GRID_X = 2 ** 31 - 1;

/** A plan compiled for one device, head dim and dtype; callable many times. */
export class CudaAttention {
  readonly kernel: CudaKernel;
  readonly loaded: LoadedKernel;
  private readonly tables: DeviceTensor[];
  private readonly tablePtrs: Record<string, bigint>;
  /** The launch's CTA order (codegen/cuda/cta-order.ts). */
  private readonly order: CtaOrder;

  constructor(
    private readonly device: CudaDevice,
    readonly plan: BlockPlan,
    headDim: number,
    readonly dtype: CudaDType,
    options: CudaAttentionOptions = {},
  ) {
    const family = options.family ?? defaultKernelFamily(device);
    this.kernel = renderCudaKernel(plan, {
      headDim,
      dtype,
      family,
      ...(options.wgmmaTuning ? { wgmmaTuning: options.wgmmaTuning } : {}),
      ...(options.warpSpecialized !== undefined ? { warpSpecialized: options.warpSpecialized } : {}),
    });
    this.loaded = device.loadKernel(
      this.kernel.source,
      this.kernel.name,
      this.kernel.sharedBytes,
      FAMILY_ARCH[family] ?? device.arch,
    );
    const upload = (name: string, data: ArrayBufferView) =>
      device.uploadBytes(data.byteLength > 0 ? data : new Int32Array(1), name);
    const entries: [string, ArrayBufferView][] = [
      ['schedule', plan.schedule],
      ['full_offsets', plan.full.offsets],
      ['full_indices', plan.full.indices],
      ['partial_offsets', plan.partial.offsets],
      ['partial_indices', plan.partial.indices],
      ['key_padding', plan.keyBlockHasPadding],
      // The persistent wgmma grid's work counter (next item, CTAs done): zero here, and the kernel's last CTA
      // zeroes it again, so launches in order on one stream (graphs too) need no reset. The other kernels ignore it.
      ['work_counter', new Int32Array(2)],
    ];
    this.tables = entries.map(([name, data]) => upload(`${plan.key}.${name}`, data));
    this.tablePtrs = Object.fromEntries(entries.map(([name], i) => [name, this.tables[i]!.ptr]));
    this.order = ctaOrder(plan, device.info.multiprocessors);
  }

  /** Launch the kernel (asynchronously); outputs are allocated when not given. */
  run(ops: CudaAttentionOperands): CudaAttentionResult {
    const device = this.device.name;
    const q = axesOf('q', ops.q, ops.layout, this.dtype, device);
    const k = axesOf('k', ops.k, ops.layout, this.dtype, device);
    const v = axesOf('v', ops.v, ops.layout, this.dtype, device);
    const D = this.kernel.headDim;
    for (const [name, a] of [
      ['q', q],
      ['k', k],
      ['v', v],
    ] as const) {
      if (a.seq !== this.plan.seqLen || a.dim !== D || a.batch !== q.batch || a.heads !== q.heads) {
        throw new TensorError(
          name,
          `expected ${ops.layout} sizes batch ${q.batch}, seq ${this.plan.seqLen} (plan '${this.plan.key}'), heads ${q.heads}, dim ${D}; got batch ${a.batch}, seq ${a.seq}, heads ${a.heads}, dim ${a.dim}`,
        );
      }
    }
    const out = ops.out ?? this.device.empty(this.dtype, ops.q.shape, 'out');
    const o = axesOf('out', out, ops.layout, this.dtype, device);
    if (o.batch !== q.batch || o.seq !== q.seq || o.heads !== q.heads || o.dim !== D) {
      throw new TensorError(
        'out',
        `expected shape [${ops.q.shape.join(', ')}], got [${out.shape.join(', ')}]`,
      );
    }
    const heads = this.launchHeads(ops.headMap, q.heads);
    const lseShape = [q.batch, heads, q.seq];
    const lse = ops.lse ?? this.device.empty('float32', lseShape, 'lse');
    if (lse.dtype !== 'float32' || lse.shape.join() !== lseShape.join() || lse.device !== device) {
      throw new TensorError(
        'lse',
        `expected float32 [${lseShape.join(', ')}] on ${device}, got ${lse.dtype} [${lse.shape.join(', ')}] on ${lse.device}`,
      );
    }
    const ctas = this.kernel.ctasPerHead * q.batch * heads;
    if (ctas > MAX_GRID_X) {
      throw new TensorError(
        'q',
        `batch * heads = ${q.batch * heads} times ${this.kernel.ctasPerHead} query blocks is ${ctas} CTAs, over the grid limit ${MAX_GRID_X}`,
      );
    }
    const scale = ops.scale ?? 1 / Math.sqrt(D);
    const values: Record<string, bigint | number> = {
      ...this.tablePtrs,
      q: ops.q.ptr,
      k: ops.k.ptr,
      v: ops.v.ptr,
      o: out.ptr,
      lse: lse.ptr,
      head_map: ops.headMap?.ptr ?? 0n,
      heads,
      heavy_blocks: this.order.heavyBlocks,
      lookahead: this.order.lookahead,
      scale_log2: scale * Math.LOG2E,
      ctas,
    };
    for (const [prefix, a] of [
      ['q', q],
      ['k', k],
      ['v', v],
      ['o', o],
    ] as const) {
      values[`${prefix}_batch`] = BigInt(a.strides.batch);
      values[`${prefix}_head`] = BigInt(a.strides.head);
      values[`${prefix}_seq`] = BigInt(a.strides.seq);
    }
    if (ctas > 0) {
      const wgmma = this.kernel.family === 'wgmma';
      const args = packParams(
        wgmma ? ATTN_PARAM_FIELDS_SM90A : ATTN_PARAM_FIELDS,
        'struct',
        wgmma ? { ...values, ...this.tensorMaps(ops.k, k, ops.v, v) } : values,
        this.kernel.name,
      );
      const grid = this.kernel.persistent ? Math.min(ctas, this.device.info.multiprocessors) : ctas;
      this.device.launch(this.loaded, [grid, 1, 1], this.kernel.threads, args, true);
    }
    return { out, lse };
  }

  /** Heads of the launch: the head map's length (checked: int32 [count], heads of q), or every head of q. */
  private launchHeads(headMap: DeviceTensor | undefined, heads: number): number {
    if (headMap === undefined) return heads;
    if (headMap.dtype !== 'int32' || headMap.shape.length !== 1 || headMap.shape[0]! < 1)
      throw new TensorError(
        'head map',
        `expected int32 [count] with count >= 1, got ${headMap.dtype} [${headMap.shape.join(', ')}]`,
      );
    if (headMap.device !== this.device.name)
      throw new TensorError('head map', `is on ${headMap.device}, expected ${this.device.name}`);
    const count = headMap.shape[0]!;
    if (count > heads) throw new TensorError('head map', `lists ${count} heads but q has ${heads}`);
    return count;
  }

  /**
   * The `wgmma` kernel's tensor maps of K and V: 4-d, the head dim innermost, then sequence, head and batch in
   * order of stride (the tensor-map rules), with boxes of 32 columns x the kernel's key tile and the 64-byte
   * swizzle; and which dimension holds the sequence, the head and the batch.
   */
  private tensorMaps(
    kt: DeviceTensor,
    k: Axes,
    vt: DeviceTensor,
    v: Axes,
  ): Record<string, number | Uint8Array> {
    const D = this.kernel.headDim;
    const encode = (t: DeviceTensor, a: Axes) => {
      const axes = [
        { name: 'seq', size: a.seq, stride: a.strides.seq },
        { name: 'head', size: a.heads, stride: a.strides.head },
        { name: 'batch', size: a.batch, stride: a.strides.batch },
      ].sort((x, y) => x.stride - y.stride || (x.name === 'seq' ? -1 : 1));
      const map = this.device.tensorMap(
        t.ptr,
        [D, ...axes.map((x) => x.size)],
        axes.map((x) => x.stride * 2),
        [32, ...axes.map((x) => (x.name === 'seq' ? this.kernel.tileK : 1))],
        TENSOR_MAP_SWIZZLE_64B,
      );
      const dim = (name: string) => 1 + axes.findIndex((x) => x.name === name);
      return { map, dims: { seq: dim('seq'), head: dim('head'), batch: dim('batch') } };
    };
    const km = encode(kt, k);
    const vm = encode(vt, v);
    if (JSON.stringify(km.dims) !== JSON.stringify(vm.dims)) {
      throw new TensorError('v', 'K and V must order their sequence, head and batch strides alike');
    }
    return {
      tmap_k: km.map,
      tmap_v: vm.map,
      tma_dim_seq: km.dims.seq,
      tma_dim_head: km.dims.head,
      tma_dim_batch: km.dims.batch,
    };
  }

  /** Free the plan tables (the kernel module lives as long as the device object). */
  dispose(): void {
    for (const t of this.tables) this.device.free(t);
  }
}
