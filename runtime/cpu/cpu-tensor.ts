/**
 * The CPU backend's tensor: a shape and a typed array in the working precision. Float32 mode stores every
 * intermediate in a Float32Array (each store rounds to float32) and accumulates sums in float64, as a GEMM with
 * a wide accumulator does; float64 mode is the oracle.
 */
import { TensorError } from '../../core/tensor.js';
import type { OpPrecision, OpTensor } from '../model-ops.js';

/** A CPU tensor. */
export interface CpuTensor extends OpTensor {
  readonly data: Float32Array | Float64Array;
}

/** Element count of a shape. */
export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** A zero tensor of `shape` in `precision`. */
export function allocate(precision: OpPrecision, shape: readonly number[]): CpuTensor {
  const n = sizeOf(shape);
  return { shape: [...shape], data: precision === 'float32' ? new Float32Array(n) : new Float64Array(n) };
}

/** Throw unless `t` has exactly `shape` (-1 matches any extent). */
export function expectDims(name: string, t: OpTensor, shape: readonly number[]): void {
  const ok = t.shape.length === shape.length && t.shape.every((d, i) => shape[i] === -1 || d === shape[i]);
  if (!ok) {
    const want = shape.map((d) => (d === -1 ? '*' : String(d))).join(', ');
    throw new TensorError(name, `expected shape [${want}], got [${t.shape.join(', ')}]`);
  }
}

/** The last axis and the product of the others. */
export function rowsAndWidth(t: OpTensor): { rows: number; width: number } {
  const width = t.shape[t.shape.length - 1] ?? 1;
  return { rows: width === 0 ? 0 : sizeOf(t.shape) / width, width };
}
