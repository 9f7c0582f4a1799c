/**
 * Device memory for the CUDA model ops: tensors are views of pooled buffers. Buffers are reused by exact byte
 * size (a forward pass allocates the same few sizes over and over), and lifetimes are scoped rather than
 * tracked: everything allocated after a {@link DeviceArena.mark} goes back to the pool at
 * {@link DeviceArena.release}, except the tensors named to keep; allocations inside
 * {@link DeviceArena.persistent} (weights) are never released.
 */

import type { CudaDevice, DeviceTensor } from '../../cuda/device.js';
import { elementCount, TensorError } from '../../tensor.js';
import type { OpTensor } from '../ops.js';

/** Element types of the CUDA model tensors: bf16 activations and weights, fp32 modulation vectors. */
export type CudaOpDType = 'bfloat16' | 'float32';

/** A CUDA model tensor: a row-major shape over (a prefix of) a pooled device buffer. */
export interface CudaTensor extends OpTensor {
  readonly dtype: CudaOpDType;
  readonly buffer: DeviceTensor;
}

/** Pooled, scoped device buffers. */
export class DeviceArena {
  private readonly free = new Map<number, DeviceTensor[]>();
  /** Buffers handed out since the arena was made, in order (persistent ones are not listed). */
  private readonly live: DeviceTensor[] = [];
  private persistentDepth = 0;
  /** Bytes held by the arena in device buffers (live and pooled). */
  heldBytes = 0;

  constructor(private readonly device: CudaDevice) {}

  /**
   * A new tensor (uninitialised contents). `scratch` tensors are scoped even inside {@link persistent} (the
   * staging of a weight upload).
   */
  tensor(dtype: CudaOpDType, shape: readonly number[], name = 'activation', scratch = false): CudaTensor {
    if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0))
      throw new TensorError(name, `shape [${shape.join(', ')}] must hold non-negative integers`);
    // Round to 256 bytes so near sizes share buffers and every row start stays 16-byte aligned.
    const bytes = Math.max(256, Math.ceil((elementCount(shape) * (dtype === 'float32' ? 4 : 2)) / 256) * 256);
    let buffer = this.free.get(bytes)?.pop();
    if (buffer === undefined) {
      buffer = this.device.empty('uint8', [bytes], name);
      this.heldBytes += bytes;
    }
    if (this.persistentDepth === 0 || scratch) this.live.push(buffer);
    return { dtype, shape: [...shape], buffer };
  }

  /** Run `fn` with every allocation made in it kept for the arena's lifetime (weights). */
  persistent<R>(fn: () => R): R {
    this.persistentDepth++;
    try {
      return fn();
    } finally {
      this.persistentDepth--;
    }
  }

  /** A position in the allocation order, for {@link release}. */
  mark(): number {
    return this.live.length;
  }

  /** Return every buffer allocated after `mark` to the pool, except the buffers of `keep`. */
  release(mark: number, keep: readonly CudaTensor[] = []): void {
    const kept = new Set(keep.map((t) => t.buffer.ptr));
    const released = this.live.splice(mark);
    for (const buffer of released) {
      if (kept.has(buffer.ptr)) {
        this.live.push(buffer);
        continue;
      }
      const list = this.free.get(buffer.bytes) ?? [];
      list.push(buffer);
      this.free.set(buffer.bytes, list);
    }
  }

  /** Free the pooled (unused) buffers back to the device. */
  trim(): void {
    for (const list of this.free.values())
      for (const b of list) {
        this.device.free(b);
        this.heldBytes -= b.bytes;
      }
    this.free.clear();
  }
}
