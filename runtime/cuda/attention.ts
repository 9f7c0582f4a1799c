/**
 * Block-sparse attention on a CUDA device: the plan's kernel (rendered by codegen/cuda, JIT-compiled through
 * the cubin cache), its tables in device memory, and launches over [B, S, H, D] or [B, H, S, D] operands
 * described by their strides. Operands are checked once per call; a wrong shape, dtype, device or stride
 * names the tensor and what was expected.
 */
import { packAttnParams } from '../../codegen/cuda/kernel-params.js';
import { type CudaDType, type CudaKernel, renderCudaKernel } from '../../codegen/cuda/kernel-source.js';
import type { BlockPlan } from '../../compiler/plan.js';
import { type AttentionLayout, TensorError } from '../tensor.js';
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
}

/** Result tensors of a call. */
export interface CudaAttentionResult {
  readonly out: DeviceTensor;
  readonly lse: DeviceTensor;
}

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

/** A plan compiled for one device, head dim and dtype; callable many times. */
export class CudaAttention {
  readonly kernel: CudaKernel;
  readonly loaded: LoadedKernel;
  private readonly tables: DeviceTensor[];
  private readonly tablePtrs: Record<string, bigint>;

  constructor(
    private readonly device: CudaDevice,
    readonly plan: BlockPlan,
    headDim: number,
    readonly dtype: CudaDType,
  ) {
    this.kernel = renderCudaKernel(plan, { headDim, dtype });
    this.loaded = device.loadKernel(this.kernel.source, this.kernel.name, this.kernel.sharedBytes);
    const upload = (name: string, data: ArrayBufferView) =>
      device.uploadBytes(data.byteLength > 0 ? data : new Int32Array(1), name);
    const entries: [string, ArrayBufferView][] = [
      ['schedule', plan.schedule],
      ['full_offsets', plan.full.offsets],
      ['full_indices', plan.full.indices],
      ['partial_offsets', plan.partial.offsets],
      ['partial_indices', plan.partial.indices],
      ['key_padding', plan.keyBlockHasPadding],
    ];
    this.tables = entries.map(([name, data]) => upload(`${plan.key}.${name}`, data));
    this.tablePtrs = Object.fromEntries(entries.map(([name], i) => [name, this.tables[i]!.ptr]));
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
    const lseShape = [q.batch, q.heads, q.seq];
    const lse = ops.lse ?? this.device.empty('float32', lseShape, 'lse');
    if (lse.dtype !== 'float32' || lse.shape.join() !== lseShape.join() || lse.device !== device) {
      throw new TensorError(
        'lse',
        `expected float32 [${lseShape.join(', ')}] on ${device}, got ${lse.dtype} [${lse.shape.join(', ')}] on ${lse.device}`,
      );
    }
    if (q.batch * q.heads > 65535)
      throw new TensorError('q', `batch * heads = ${q.batch * q.heads} exceeds the grid limit 65535`);
    const scale = ops.scale ?? 1 / Math.sqrt(D);
    const values: Record<string, bigint | number> = {
      ...this.tablePtrs,
      q: ops.q.ptr,
      k: ops.k.ptr,
      v: ops.v.ptr,
      o: out.ptr,
      lse: lse.ptr,
      heads: q.heads,
      scale_log2: scale * Math.LOG2E,
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
    if (this.plan.numQBlocks > 0 && q.batch * q.heads > 0) {
      this.device.launch(
        this.loaded,
        [this.kernel.gridX, q.batch * q.heads, 1],
        this.kernel.threads,
        packAttnParams(values),
      );
    }
    return { out, lse };
  }

  /** Free the plan tables (the kernel module lives as long as the device object). */
  dispose(): void {
    for (const t of this.tables) this.device.free(t);
  }
}
