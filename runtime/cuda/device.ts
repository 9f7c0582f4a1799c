/**
 * One CUDA device: its facts, kernels JIT-compiled by NVRTC for its architecture (through the cubin cache),
 * device tensors (plain device allocations, never managed memory, and byte views into them), copies, launches,
 * event timing and CUDA graph capture. All work goes to the addon's one stream, in the order it is queued.
 */

import {
  CONVERT_KERNELS,
  type ConvertKernelRole,
  renderConvertKernelModule,
} from '../../codegen/cuda/ops/convert-kernels.js';
import { UserError } from '../../core/errors.js';
import {
  contiguousStrides,
  type DType,
  elementCount,
  itemSize,
  type Tensor,
  TensorError,
} from '../../core/tensor.js';
import { cachedCompile } from './cubin-cache.js';
import { type CudaGraph, captureGraph } from './graph.js';
import { loadNative, type NativeCuda, type NativeDeviceInfo, type NativeFunction } from './native-binding.js';
import { OpKernels } from './op-kernels.js';

/** The error for a CUDA backend that cannot run here (no addon, no driver, no device). */
export class CudaUnavailableError extends UserError {
  constructor(reason: string) {
    super(`CUDA backend unavailable: ${reason}`);
  }
}

/** A tensor in device memory: dtype, shape, element strides, the device it lives on and its address. */
export interface DeviceTensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  /** `cuda:<ordinal>`. */
  readonly device: string;
  readonly ptr: bigint;
  /** Bytes allocated at `ptr`. */
  readonly bytes: number;
  /** Set on a view ({@link byteView}): the allocation it lies in. Views are never freed themselves. */
  readonly base?: DeviceTensor;
}

/** `bytes` bytes of `base` from `offset` on, as a uint8 tensor (a view: freeing it is refused). */
export function byteView(base: DeviceTensor, offset: number, bytes: number, name = 'view'): DeviceTensor {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(bytes) || offset < 0 || bytes < 0)
    throw new TensorError(name, `offset ${offset} and size ${bytes} must be non-negative integers`);
  if (offset + bytes > base.bytes)
    throw new TensorError(
      name,
      `bytes [${offset}, ${offset + bytes}) lie outside the ${base.bytes}-byte allocation`,
    );
  return {
    dtype: 'uint8',
    shape: [bytes],
    strides: [1],
    device: base.device,
    ptr: base.ptr + BigInt(offset),
    bytes,
    base: base.base ?? base,
  };
}

/** A kernel ready to launch. */
export interface LoadedKernel {
  readonly name: string;
  readonly fn: bigint;
  readonly sharedBytes: number;
  readonly registers: number;
  /** Local memory per thread: non-zero means spills or a stack array. */
  readonly localBytes: number;
  /** True when the cubin came from the disk cache. */
  readonly cacheHit: boolean;
}

/** A CUDA device with the primary context current on this thread. */
export class CudaDevice {
  readonly info: NativeDeviceInfo;
  /** `sm_90` etc. */
  readonly arch: string;
  readonly name: string;
  private readonly native: NativeCuda;
  private readonly modules: bigint[] = [];
  private readonly allocations = new Set<bigint>();
  /** The upload / download conversion kernels, loaded on first use. */
  private convert: OpKernels<ConvertKernelRole> | null = null;
  /** True while {@link capture} records: host copies and synchronisation are refused then. */
  private capturingNow = false;

  private constructor(
    native: NativeCuda,
    info: NativeDeviceInfo,
    readonly ordinal: number,
  ) {
    this.native = native;
    this.info = info;
    this.arch = `sm_${info.major}${info.minor}`;
    this.name = `cuda:${ordinal}`;
  }

  /** Open device `ordinal`; throws {@link CudaUnavailableError} with the reason when CUDA cannot run here. */
  static open(ordinal = 0): CudaDevice {
    const { native, reason } = loadNative();
    if (native === null) throw new CudaUnavailableError(reason);
    const probe = native.probe();
    if (!probe.available) throw new CudaUnavailableError(probe.reason);
    if (ordinal < 0 || ordinal >= probe.devices) {
      throw new CudaUnavailableError(`device ${ordinal} requested, the driver reports ${probe.devices}`);
    }
    const info = native.init(ordinal);
    if (info.major < 8) {
      throw new CudaUnavailableError(
        `${info.name} is sm_${info.major}${info.minor}; tessera's kernels need sm_80 or newer`,
      );
    }
    return new CudaDevice(native, info, ordinal);
  }

  /**
   * Compile (or fetch from the cubin cache) and load `kernelName` from `source`, for `arch` (default: the
   * device's own; `sm_90a` for sources with architecture-specific instructions such as wgmma).
   */
  loadKernel(source: string, kernelName: string, sharedBytes: number, arch = this.arch): LoadedKernel {
    if (sharedBytes > this.info.maxSharedPerBlock) {
      throw new RangeError(
        `kernel ${kernelName} needs ${sharedBytes} B of shared memory, ${this.info.name} allows ${this.info.maxSharedPerBlock}`,
      );
    }
    if (arch !== this.arch && arch.replace(/a$/, '') !== this.arch) {
      throw new RangeError(`kernel ${kernelName} is built for ${arch}; ${this.info.name} is ${this.arch}`);
    }
    const { cubin, hit } = cachedCompile(source, arch, this.info.driverVersion, () =>
      this.native.compile(source, kernelName, arch),
    );
    const loaded: NativeFunction = this.native.loadFunction(cubin, kernelName, sharedBytes);
    this.modules.push(loaded.module);
    return {
      name: kernelName,
      fn: loaded.fn,
      sharedBytes,
      registers: loaded.registers,
      localBytes: loaded.localBytes,
      cacheHit: hit,
    };
  }

  /**
   * A tensor map for bulk tensor copies (TMA) over 16-bit elements at `ptr`: `dims` and `box` innermost first,
   * `strideBytes` for every dimension after the first, `swizzle` as CUtensorMapSwizzle (2: 64 bytes).
   */
  tensorMap(
    ptr: bigint,
    dims: readonly number[],
    strideBytes: readonly number[],
    box: readonly number[],
    swizzle: number,
  ): Uint8Array {
    return this.native.encodeTensorMap(ptr, dims, strideBytes, box, swizzle);
  }

  /**
   * Launch with one packed argument buffer; errors name the kernel. Asynchronous: see {@link synchronize}.
   * `singleParam`: the buffer is the kernel's one struct parameter, placed by the driver (needed for structs
   * aligned beyond 16 bytes, such as those holding tensor maps).
   */
  launch(
    kernel: LoadedKernel,
    grid: readonly [number, number, number],
    threads: number,
    args: Uint8Array,
    singleParam = false,
  ): void {
    this.native.launch(kernel.fn, kernel.name, grid, [threads, 1, 1], kernel.sharedBytes, args, singleParam);
  }

  /** Wait for all work; errors of earlier launches surface here, naming `kernelName` when given. */
  synchronize(kernelName?: string): void {
    this.refuseWhileCapturing('synchronize');
    this.native.synchronize(kernelName);
  }

  /** Whether {@link capture} is recording (work queued now is recorded, not run). */
  get capturing(): boolean {
    return this.capturingNow;
  }

  /**
   * Record the device work `record` queues into a CUDA graph (nothing of it runs now) and instantiate it.
   * Inside, host copies and synchronisation throw (they cannot be replayed); allocations are allowed but a
   * replay writes the addresses recorded, so everything the graph touches must outlive it.
   */
  capture(record: () => void): CudaGraph {
    this.refuseWhileCapturing('capture');
    this.capturingNow = true;
    try {
      return captureGraph(this.native, record);
    } finally {
      this.capturingNow = false;
    }
  }

  /**
   * Host bytes into device memory at `ptr`, ordered after the work queued before (the host array may change as
   * soon as this returns).
   */
  write(ptr: bigint, data: ArrayBufferView): void {
    this.refuseWhileCapturing('a host-to-device copy');
    this.native.copyToDevice(ptr, data);
  }

  /** An uninitialised contiguous device tensor. */
  empty(dtype: DType, shape: readonly number[], name = 'tensor'): DeviceTensor {
    if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new TensorError(name, `shape [${shape.join(', ')}] must hold non-negative integers`);
    }
    const bytes = elementCount(shape) * itemSize(dtype);
    const ptr = this.native.malloc(bytes);
    this.allocations.add(ptr);
    return { dtype, shape: [...shape], strides: contiguousStrides(shape), device: this.name, ptr, bytes };
  }

  /** Fill a tensor's bytes with one byte value (0xff gives NaN in every float type: a poison). */
  fillBytes(t: DeviceTensor, byteValue: number): void {
    this.native.fill(t.ptr, byteValue, t.bytes);
  }

  /** Raw bytes to a fresh device buffer (plan tables and the like). */
  uploadBytes(data: ArrayBufferView, name = 'buffer'): DeviceTensor {
    this.refuseWhileCapturing(`the upload of '${name}'`);
    const t = this.empty('uint8', [data.byteLength], name);
    this.native.copyToDevice(t.ptr, data);
    return t;
  }

  /**
   * A host tensor on the device as `dtype`. Float data bound for bfloat16 / float16 is sent as float32 and
   * converted on the device; otherwise the dtypes must match. The storage is copied as is, strides included.
   */
  upload(host: Tensor, dtype: DType = host.dtype, name = 'tensor'): DeviceTensor {
    const half = dtype === 'bfloat16' || dtype === 'float16';
    const fromFloat = host.dtype === 'float32' || host.dtype === 'float64';
    if (host.dtype !== dtype && !(half && fromFloat)) {
      throw new TensorError(name, `cannot upload ${host.dtype} as ${dtype}`);
    }
    this.refuseWhileCapturing(`the upload of '${name}'`);
    const n = host.data.length;
    if (host.dtype === dtype) {
      const t = this.allocLike(dtype, host, n, name);
      this.native.copyToDevice(t.ptr, host.data);
      return t;
    }
    const staging = this.empty('float32', [n], `${name} (float32 staging)`);
    try {
      this.native.copyToDevice(
        staging.ptr,
        host.data instanceof Float32Array ? host.data : Float32Array.from(host.data),
      );
      const t = this.allocLike(dtype, host, n, name);
      this.convertElements(dtype === 'bfloat16' ? 'toBfloat16' : 'toFloat16', staging.ptr, t.ptr, n);
      this.synchronize(name);
      return t;
    } finally {
      this.free(staging);
    }
  }

  /** A device tensor back on the host: 16-bit floats come back as float32 (converted on the device). */
  download(t: DeviceTensor): Tensor {
    this.refuseWhileCapturing('a download');
    const n = t.bytes / itemSize(t.dtype);
    if (t.dtype === 'bfloat16' || t.dtype === 'float16') {
      const staging = this.empty('float32', [n]);
      try {
        this.convertElements(t.dtype === 'bfloat16' ? 'fromBfloat16' : 'fromFloat16', t.ptr, staging.ptr, n);
        const data = new Float32Array(n);
        this.native.copyToHost(data, staging.ptr);
        return { dtype: 'float32', shape: t.shape, strides: t.strides, data };
      } finally {
        this.free(staging);
      }
    }
    const host: Tensor = { dtype: t.dtype, shape: t.shape, strides: t.strides, data: newStorage(t.dtype, n) };
    this.native.copyToHost(host.data, t.ptr);
    return host;
  }

  /** Release a device tensor (not a view: free the allocation it lies in). */
  free(t: DeviceTensor): void {
    if (t.base !== undefined)
      throw new RangeError(`a ${t.bytes}-byte view is not an allocation; free the allocation it lies in`);
    if (!this.allocations.delete(t.ptr)) return;
    this.native.free(t.ptr);
  }

  /**
   * Time `run` with device events: `warmup` untimed calls, then `iterations` timed one by one.
   * Returns the per-call milliseconds (take the median).
   */
  time(run: () => void, iterations: number, warmup = 3): number[] {
    for (let i = 0; i < warmup; i++) run();
    this.synchronize();
    const start = this.native.eventCreate();
    const end = this.native.eventCreate();
    const times: number[] = [];
    try {
      for (let i = 0; i < iterations; i++) {
        this.native.eventRecord(start);
        run();
        this.native.eventRecord(end);
        times.push(this.native.eventElapsed(start, end));
      }
    } finally {
      this.native.eventDestroy(start);
      this.native.eventDestroy(end);
    }
    return times;
  }

  /** Free every allocation and module this device object made. */
  dispose(): void {
    for (const ptr of this.allocations) this.native.free(ptr);
    this.allocations.clear();
    for (const m of this.modules.splice(0)) this.native.unloadModule(m);
    this.convert = null;
  }

  private refuseWhileCapturing(what: string): void {
    if (this.capturingNow)
      throw new RangeError(
        `${what} cannot happen while a CUDA graph is being captured (a replay could not repeat it); do it before the capture`,
      );
  }

  private allocLike(dtype: DType, host: Tensor, n: number, name: string): DeviceTensor {
    const t = this.empty(dtype, [n], name);
    return { ...t, shape: [...host.shape], strides: [...host.strides] };
  }

  /**
   * Convert `n` elements at device address `src` into `dst` with the conversion kernel of `role` (float32 to
   * bf16 / fp16 rounding to nearest even, or back), queued on the device's stream.
   */
  convertElements(role: ConvertKernelRole, src: bigint, dst: bigint, n: number): void {
    this.convert ??= new OpKernels(this, CONVERT_KERNELS, renderConvertKernelModule());
    this.convert.elementwise(role, n, { src, dst, n });
  }
}

function newStorage(dtype: DType, n: number): Tensor['data'] {
  switch (dtype) {
    case 'float64':
      return new Float64Array(n);
    case 'float32':
      return new Float32Array(n);
    case 'int32':
      return new Int32Array(n);
    case 'uint8':
      return new Uint8Array(n);
    default:
      return new Uint16Array(n);
  }
}
