/**
 * GEMMs on a CUDA device through cuBLASLt (loaded at run time by the addon, like libcuda): bf16 or fp16 inputs,
 * fp32 accumulation, bf16 / fp16 / fp32 output, an optional bias epilogue, strided batches. Shapes are
 * row-major as the model uses them; the addon maps them onto cuBLASLt's column-major operands.
 */
import { TensorError } from '../../core/tensor.js';
import { type CudaDevice, CudaUnavailableError, type DeviceTensor } from './device.js';
import { loadNative, type NativeCuda, type NativeGemmDesc } from './native-binding.js';

/** Element types the GEMM reads and writes. */
export type GemmDType = 'bfloat16' | 'float16' | 'float32';

/** One (batched) product C = alpha * A op(B) (+ bias), row-major, addresses with element offsets. */
export interface GemmCall {
  readonly a: DeviceTensor;
  readonly b: DeviceTensor;
  readonly c: DeviceTensor;
  readonly bias?: DeviceTensor;
  /** Element offsets into a, b, c (e.g. a head's columns); default 0. */
  readonly offsets?: { readonly a?: number; readonly b?: number; readonly c?: number };
  readonly m: number;
  readonly n: number;
  readonly k: number;
  /** Leading dimensions (row strides, elements); default: packed (k, k or n, n). */
  readonly lda?: number;
  readonly ldb?: number;
  readonly ldc?: number;
  /** B is [N, K] (y = x W^T, the default) rather than [K, N]. */
  readonly transB?: boolean;
  /** Batch count and element strides between batch entries (default 1, 0). */
  readonly batch?: number;
  readonly strides?: { readonly a: number; readonly b: number; readonly c: number };
  readonly alpha?: number;
}

/** cuBLASLt's workspace: 32 MiB, what PyTorch gives it on Hopper. */
const WORKSPACE_BYTES = 32 * 1024 * 1024;

/** Whether cuBLASLt can be loaded here (never throws). */
export function cublasLtAvailable(): { available: boolean; reason: string } {
  const { native, reason } = loadNative();
  if (native === null) return { available: false, reason };
  const probe = native.gemmProbe();
  return { available: probe.available, reason: probe.reason };
}

/** cuBLASLt GEMMs on one device (the addon caches descriptors and algorithms per problem shape). */
export class CudaGemm {
  private readonly workspace: DeviceTensor;

  private constructor(
    private readonly device: CudaDevice,
    private readonly native: NativeCuda,
  ) {
    this.workspace = device.empty('uint8', [WORKSPACE_BYTES], 'cublasLt workspace');
  }

  /** GEMMs on `device`; throws {@link CudaUnavailableError} with the reason when libcublasLt cannot be loaded. */
  static open(device: CudaDevice): CudaGemm {
    const { native, reason } = loadNative();
    if (native === null) throw new CudaUnavailableError(reason);
    const probe = native.gemmProbe();
    if (!probe.available) throw new CudaUnavailableError(probe.reason);
    return new CudaGemm(device, native);
  }

  /** Enqueue one product (asynchronous, on the default stream like the kernels). */
  run(call: GemmCall): void {
    const { a, b, c, m, n, k } = call;
    const transB = call.transB ?? true;
    const inType = dtypeOf('a', a);
    if (dtypeOf('b', b) !== inType) throw new TensorError('b', `expected ${inType} like a, got ${b.dtype}`);
    const outType = dtypeOf('c', c);
    // cuBLASLt pairs fp32 inputs only with an fp32 output.
    if (inType === 'float32' && outType !== 'float32')
      throw new TensorError('c', `float32 inputs need a float32 output, got ${outType}`);
    if (call.bias && call.bias.dtype !== c.dtype)
      throw new TensorError('bias', `expected ${c.dtype} like the output, got ${call.bias.dtype}`);
    const size = (t: DeviceTensor) => t.bytes / (t.dtype === 'float32' ? 4 : 2);
    const lda = call.lda ?? k;
    const ldb = call.ldb ?? (transB ? k : n);
    const ldc = call.ldc ?? n;
    const batch = call.batch ?? 1;
    const strides = call.strides ?? { a: 0, b: 0, c: 0 };
    const off = { a: call.offsets?.a ?? 0, b: call.offsets?.b ?? 0, c: call.offsets?.c ?? 0 };
    // The last element each operand touches must lie inside its allocation.
    const last = (rows: number, cols: number, ld: number, stride: number, o: number) =>
      o + (batch - 1) * stride + (rows - 1) * ld + cols;
    const checks: [string, DeviceTensor, number][] = [
      ['a', a, last(m, k, lda, strides.a, off.a)],
      ['b', b, transB ? last(n, k, ldb, strides.b, off.b) : last(k, n, ldb, strides.b, off.b)],
      ['c', c, last(m, n, ldc, strides.c, off.c)],
    ];
    for (const [name, t, end] of checks) {
      if (end > size(t))
        throw new TensorError(name, `GEMM ${m}x${n}x${k} reads past the end (${end} > ${size(t)} elements)`);
    }
    if (m === 0 || n === 0) return;
    const item = (t: DeviceTensor) => BigInt(t.dtype === 'float32' ? 4 : 2);
    const desc: NativeGemmDesc = {
      a: a.ptr + BigInt(off.a) * item(a),
      b: b.ptr + BigInt(off.b) * item(b),
      c: c.ptr + BigInt(off.c) * item(c),
      bias: call.bias?.ptr ?? 0n,
      workspace: this.workspace.ptr,
      workspaceBytes: WORKSPACE_BYTES,
      m,
      n,
      k,
      lda,
      ldb,
      ldc,
      transB,
      batch,
      strideA: strides.a,
      strideB: strides.b,
      strideC: strides.c,
      alpha: call.alpha ?? 1,
      inType,
      outType,
    };
    this.native.gemm(desc);
  }

  /** Release the workspace. */
  dispose(): void {
    this.device.free(this.workspace);
  }
}

function dtypeOf(name: string, t: DeviceTensor): GemmDType {
  if (t.dtype === 'bfloat16' || t.dtype === 'float16' || t.dtype === 'float32') return t.dtype;
  throw new TensorError(name, `GEMM operands are bfloat16, float16 or float32, got ${t.dtype}`);
}
