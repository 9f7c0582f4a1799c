/**
 * The CUDA implementation of the graph's operations ({@link ModelOps}): bf16 activations and weights, fp32
 * modulation vectors, fp32 math everywhere; GEMMs through cuBLASLt, elementwise and fused ops through the
 * generated op kernels of codegen/cuda/ops, self-attention through the compiled pattern kernels. Launches are
 * asynchronous on the device's stream; `download` and `settle` (around timed attention) synchronise.
 *
 * Memory: every op returns a tensor of the ops' {@link DeviceArena}; callers scope lifetimes with
 * `mark` / `release` (see {@link createCudaOpenSoraModel} for whole forward passes) and upload weights inside
 * `persistent`. A whole pass can run on a memory plan and be replayed as a CUDA graph: {@link CudaStepGraph}.
 */

import { TensorError } from '../../core/tensor.js';
import type { ModelOps } from '../model-ops.js';
import { CudaDenseOps } from './dense-ops.js';
import { CudaDevice } from './device.js';
import { type CudaTensor, DeviceArena } from './device-arena.js';
import { CudaGemm } from './gemm.js';
import { CudaModelAttention, deviceView } from './model-attention.js';
import { ModelKernels } from './op-kernels.js';

export type { ArenaPlan, CudaOpDType, CudaTensor } from './device-arena.js';
export { DeviceArena } from './device-arena.js';
export { type AllocationTrace, type MemoryPlan, MemoryPlanError, planMemory } from './memory-plan.js';

/** Options of {@link createCudaOps}. */
export interface CudaOpsOptions {
  /** An open device (default: open `ordinal`). */
  readonly device?: CudaDevice;
  readonly ordinal?: number;
  /**
   * Let {@link ModelOps.settle} synchronise, so the model's wall-clock timer around each attention call (its
   * attention share) measures the attention alone; default true. Off for benchmarks that time with device events. Never
   * while a CUDA graph is captured (a capture cannot synchronise; its replays are timed as a whole).
   */
  readonly syncAttention?: boolean;
}

/** The CUDA ops plus what a caller needs to manage device memory and time. */
export interface CudaOps extends ModelOps<CudaTensor> {
  readonly device: CudaDevice;
  readonly arena: DeviceArena;
  /** The generated kernels (device-side weight initialisation uses them). */
  readonly kernels: ModelKernels;
  /** A position in the allocation order. */
  mark(): number;
  /** Return every tensor allocated after `mark` to the pool, except `keep`. */
  release(mark: number, keep?: readonly CudaTensor[]): void;
  /** Run `fn` with its allocations kept for good (weights). */
  persistent<R>(fn: () => R): R;
  /** Wait for all queued work. */
  synchronize(): void;
  /** Free everything (the device too when the ops opened it). */
  dispose(): void;
}

/**
 * CUDA model ops on a device. Throws `CudaUnavailableError` with the reason when CUDA, NVRTC or cuBLASLt
 * cannot be used here.
 */
export function createCudaOps(options: CudaOpsOptions = {}): CudaOps {
  const owned = options.device === undefined;
  const device = options.device ?? CudaDevice.open(options.ordinal ?? 0);
  const gemm = CudaGemm.open(device);
  const arena = new DeviceArena(device);
  const kernels = new ModelKernels(device);
  const dense = new CudaDenseOps(device, arena, kernels, gemm);
  const attention = new CudaModelAttention(device, arena, kernels, gemm);
  const sync = options.syncAttention ?? true;
  const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
  /** Host fp32 values in a pooled fp32 tensor (the copy is queued after earlier work, so pooled reuse is safe). */
  const hostToDevice = (data: Float32Array): CudaTensor => {
    const t = arena.tensor('float32', [data.length], 'host data', true);
    device.write(t.buffer.ptr, data);
    return t;
  };
  return {
    name: `cuda bfloat16 (${device.info.name})`,
    precision: 'float32',
    device,
    arena,
    kernels,
    upload(data, shape) {
      if (data.length !== count(shape))
        throw new TensorError(
          'upload',
          `shape [${shape.join(', ')}] needs ${count(shape)} elements, got ${data.length}`,
        );
      // Into pooled buffers (fp32 staging, then rounded to bf16 on the device), so per-pass inputs reuse memory.
      const out = arena.tensor('bfloat16', shape, 'upload');
      const mark = arena.mark();
      const staging = hostToDevice(data);
      device.convertElements('toBfloat16', staging.buffer.ptr, out.buffer.ptr, data.length);
      arena.release(mark);
      return out;
    },
    download(t) {
      return device.download(deviceView(device, t, t.shape)).data as Float32Array;
    },
    reshape(t, shape) {
      if (count(shape) !== count(t.shape))
        throw new TensorError('reshape', `cannot view [${t.shape.join(', ')}] as [${shape.join(', ')}]`);
      return { dtype: t.dtype, shape: [...shape], buffer: t.buffer };
    },
    linear: (x, w, b) => dense.linear(x, w, b),
    layerNorm: (x, eps) => dense.layerNorm(x, eps),
    modulate: (x, mod, shiftRow, scaleRow) => dense.modulate(x, mod, shiftRow, scaleRow),
    // One tp_layer_norm launch with the modulation applied before the bf16 store.
    layerNormModulate: (x, eps, mod, shiftRow, scaleRow) =>
      dense.layerNorm(x, eps, { t: mod, shiftRow, scaleRow }),
    gatedAdd: (x, y, mod, gateRow) => dense.gatedAdd(x, y, mod, gateRow),
    add: (x, y) => dense.gatedAdd(x, y, null, 0),
    geluTanh: (x) => dense.activation('geluTanh', x),
    silu: (x) => dense.activation('silu', x),
    modulationRows: (table, emb) => dense.modulationRows(table, emb),
    timestepFeatures(timesteps, channels) {
      const mark = arena.mark();
      const features = dense.timestepFeatures(hostToDevice(Float32Array.from(timesteps)), channels);
      arena.release(mark, [features]);
      return features;
    },
    patchify: (x, patch) => dense.patchify(x, patch),
    unpatchify: (y, grid, patch, channels) => dense.unpatchify(y, grid, patch, channels),
    rope3d: (x, heads, grid, rope, firstFrame) => dense.rope3d(x, heads, grid, rope, firstFrame),
    selfAttention: (q, k, v, heads, spec) => attention.self(q, k, v, heads, spec),
    crossAttention: (q, k, v, heads, keyMask) => attention.cross(q, k, v, heads, keyMask),
    settle() {
      if (sync && !device.capturing) device.synchronize();
    },
    mark: () => arena.mark(),
    release: (mark, keep) => arena.release(mark, keep),
    persistent: (fn) => arena.persistent(fn),
    synchronize: () => device.synchronize(),
    dispose() {
      device.synchronize();
      attention.dispose();
      gemm.dispose();
      arena.trim();
      if (owned) device.dispose();
    },
  };
}

export { type CudaExecution, type CudaPass, CudaStepGraph, type CudaStepStats } from './step-graph.js';
