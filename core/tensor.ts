/**
 * Host tensors: a dtype, a shape, element strides and a typed array holding the elements.
 *
 * Half-precision dtypes have no typed array in Node 20, so `float16` and `bfloat16` elements are stored as their
 * IEEE bit patterns in a `Uint16Array`; {@link encodeValues} / {@link decodeValues} convert them exactly
 * (round to nearest, ties to even, straight from the float64 value so there is no double rounding).
 */
import { UserError } from './errors.js';

/** Element types a host tensor can hold. */
export type DType = 'float64' | 'float32' | 'float16' | 'bfloat16' | 'int32' | 'uint8';

/** The typed array that stores each dtype. */
export interface DTypeStorage {
  float64: Float64Array;
  float32: Float32Array;
  float16: Uint16Array;
  bfloat16: Uint16Array;
  int32: Int32Array;
  uint8: Uint8Array;
}

/** A host tensor. `strides` count elements, not bytes; element (i0, i1, ...) sits at sum(ik * strides[k]). */
export interface Tensor<D extends DType = DType> {
  readonly dtype: D;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly data: DTypeStorage[D];
}

/** The error for a tensor that does not have the shape, dtype or size an operation needs. */
export class TensorError extends UserError {
  /** The tensor's name as the caller knows it (`q`, `kv_indices`, `blocks.0.attn1.to_q.weight`). */
  readonly tensor: string;

  constructor(tensor: string, message: string) {
    super(`tensor '${tensor}': ${message}`);
    this.tensor = tensor;
  }
}

const STORAGE: {
  [D in DType]: { new (length: number): DTypeStorage[D]; readonly BYTES_PER_ELEMENT: number };
} = {
  float64: Float64Array,
  float32: Float32Array,
  float16: Uint16Array,
  bfloat16: Uint16Array,
  int32: Int32Array,
  uint8: Uint8Array,
};

/** Every dtype, in a fixed order (for tests and option validation). */
export const DTYPES: readonly DType[] = ['float64', 'float32', 'float16', 'bfloat16', 'int32', 'uint8'];

/** Bytes per element of a dtype. */
export function itemSize(dtype: DType): number {
  return STORAGE[dtype].BYTES_PER_ELEMENT;
}

/** Number of elements of a shape (1 for a scalar shape `[]`). */
export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major (C order) element strides of a shape. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

/** True when the strides are the row-major strides of the shape (size-1 axes may have any stride). */
export function isContiguous(t: Tensor): boolean {
  const expected = contiguousStrides(t.shape);
  return t.shape.every((d, i) => d === 1 || t.strides[i] === expected[i]);
}

function checkShape(name: string, shape: readonly number[]): void {
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new TensorError(name, `shape [${shape.join(', ')}] must hold non-negative integers`);
  }
}

/** A new zero-filled contiguous tensor. */
export function zeros<D extends DType>(dtype: D, shape: readonly number[], name = 'tensor'): Tensor<D> {
  checkShape(name, shape);
  return {
    dtype,
    shape: [...shape],
    strides: contiguousStrides(shape),
    data: new STORAGE[dtype](elementCount(shape)),
  };
}

/**
 * Wrap existing storage as a contiguous tensor. The storage must be the dtype's typed array and hold exactly
 * the shape's element count; the error names the tensor and the expected size.
 */
export function fromStorage<D extends DType>(
  dtype: D,
  shape: readonly number[],
  data: DTypeStorage[D],
  name = 'tensor',
): Tensor<D> {
  checkShape(name, shape);
  if (!(data instanceof STORAGE[dtype])) {
    throw new TensorError(
      name,
      `${dtype} data must be a ${STORAGE[dtype].name}, got ${data.constructor.name}`,
    );
  }
  const n = elementCount(shape);
  if (data.length !== n) {
    throw new TensorError(name, `shape [${shape.join(', ')}] needs ${n} elements, got ${data.length}`);
  }
  return { dtype, shape: [...shape], strides: contiguousStrides(shape), data };
}

/** A contiguous tensor of `dtype` holding `values` (numbers rounded exactly to the dtype). */
export function fromValues<D extends DType>(
  dtype: D,
  shape: readonly number[],
  values: ArrayLike<number>,
  name = 'tensor',
): Tensor<D> {
  return fromStorage(dtype, shape, encodeValues(dtype, values), name);
}

/**
 * Throw a {@link TensorError} unless `t` has exactly `shape` (and `dtype` when given). Use it at every API
 * boundary so a wrong input fails with the tensor's name and the shape that was expected.
 */
export function expectShape(name: string, t: Tensor, shape: readonly number[], dtype?: DType): void {
  const same = t.shape.length === shape.length && t.shape.every((d, i) => d === shape[i]);
  if (!same) {
    throw new TensorError(name, `expected shape [${shape.join(', ')}], got [${t.shape.join(', ')}]`);
  }
  if (dtype !== undefined && t.dtype !== dtype) {
    throw new TensorError(name, `expected dtype ${dtype}, got ${t.dtype}`);
  }
}

/** Element offset of a multi-index. */
export function offsetOf(t: Tensor, index: readonly number[]): number {
  let o = 0;
  for (let i = 0; i < index.length; i++) o += index[i]! * t.strides[i]!;
  return o;
}

/** A contiguous copy of `t` (or `t` itself when it already is contiguous and its storage has no extra elements). */
export function contiguous<D extends DType>(t: Tensor<D>): Tensor<D> {
  const n = elementCount(t.shape);
  if (isContiguous(t) && t.data.length === n) return t;
  const out = zeros(t.dtype, t.shape);
  const index = new Array<number>(t.shape.length).fill(0);
  for (let i = 0; i < n; i++) {
    out.data[i] = t.data[offsetOf(t, index)]!;
    // Advance the multi-index in row-major order.
    for (let axis = index.length - 1; axis >= 0; axis--) {
      index[axis]!++;
      if (index[axis]! < t.shape[axis]!) break;
      index[axis] = 0;
    }
  }
  return out;
}

/** The two token layouts of attention operands: [B, S, H, D] (`bshd`) and [B, H, S, D] (`bhsd`). */
export type AttentionLayout = 'bshd' | 'bhsd';

/** Element strides of an attention operand, by logical axis. */
export interface AttentionStrides {
  readonly batch: number;
  readonly seq: number;
  readonly head: number;
  readonly dim: number;
}

/** Shape of an attention operand of `batch x seq x heads x dim` in a layout. */
export function attentionShape(
  layout: AttentionLayout,
  batch: number,
  seq: number,
  heads: number,
  dim: number,
): number[] {
  return layout === 'bshd' ? [batch, seq, heads, dim] : [batch, heads, seq, dim];
}

/** Contiguous strides of an attention operand in a layout, by logical axis. */
export function attentionStrides(
  layout: AttentionLayout,
  seq: number,
  heads: number,
  dim: number,
): AttentionStrides {
  return layout === 'bshd'
    ? { batch: seq * heads * dim, seq: heads * dim, head: dim, dim: 1 }
    : { batch: heads * seq * dim, head: seq * dim, seq: dim, dim: 1 };
}

// ---------------------------------------------------------------------------------------------------------
// Exact conversions to and from the 16-bit float formats.

/**
 * Round a number to a binary float format with `expBits` exponent bits and `mantBits` stored mantissa bits
 * (round to nearest, ties to even; overflow to infinity; NaN to the canonical quiet NaN) and return its bits.
 * Works on the float64 value directly: scaling by powers of two is exact in float64 for both formats' ranges,
 * so the only rounding is the one the format needs.
 */
function roundToBits(x: number, expBits: number, mantBits: number): number {
  const signBit = 1 << (expBits + mantBits);
  const expMax = (1 << expBits) - 1;
  const infBits = expMax << mantBits;
  if (Number.isNaN(x)) return infBits | (1 << (mantBits - 1));
  const sign = x < 0 || Object.is(x, -0) ? signBit : 0;
  const a = Math.abs(x);
  if (a === Number.POSITIVE_INFINITY) return sign | infBits;
  if (a === 0) return sign;
  const bias = (1 << (expBits - 1)) - 1;
  const emin = 1 - bias;
  // floor(log2(a)) exactly: Math.log2 can be off by one near powers of two, so correct it.
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  const subnormal = e < emin;
  const quantum = 2 ** ((subnormal ? emin : e) - mantBits);
  const scaled = a / quantum;
  let m = Math.floor(scaled);
  const rest = scaled - m;
  if (rest > 0.5 || (rest === 0.5 && m % 2 === 1)) m++;
  if (subnormal) {
    // m <= 2^mantBits; m == 2^mantBits encodes the smallest normal (exponent field 1), which is the same integer.
    return sign | m;
  }
  if (m === 2 ** (mantBits + 1)) {
    m /= 2;
    e++;
  }
  const biased = e + bias;
  if (biased >= expMax) return sign | infBits;
  return sign | (biased << mantBits) | (m - 2 ** mantBits);
}

function bitsToNumber(bits: number, expBits: number, mantBits: number): number {
  const sign = bits & (1 << (expBits + mantBits)) ? -1 : 1;
  const expField = (bits >> mantBits) & ((1 << expBits) - 1);
  const mant = bits & ((1 << mantBits) - 1);
  const bias = (1 << (expBits - 1)) - 1;
  if (expField === (1 << expBits) - 1) return mant === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
  if (expField === 0) return sign * mant * 2 ** (1 - bias - mantBits);
  return sign * (2 ** mantBits + mant) * 2 ** (expField - bias - mantBits);
}

/** IEEE binary16 bits of `x`, rounded to nearest even. */
export function toFloat16Bits(x: number): number {
  return roundToBits(x, 5, 10);
}

/** The value of IEEE binary16 bits. */
export function fromFloat16Bits(bits: number): number {
  return bitsToNumber(bits & 0xffff, 5, 10);
}

/** bfloat16 bits of `x` (the top half of a binary32), rounded to nearest even. */
export function toBfloat16Bits(x: number): number {
  return roundToBits(x, 8, 7);
}

/** The value of bfloat16 bits. */
export function fromBfloat16Bits(bits: number): number {
  return bitsToNumber(bits & 0xffff, 8, 7);
}

/** Round `x` to the nearest value representable in `dtype` (integers truncate toward zero and wrap). */
export function roundToDType(dtype: DType, x: number): number {
  switch (dtype) {
    case 'float64':
      return x;
    case 'float32':
      return Math.fround(x);
    case 'float16':
      return fromFloat16Bits(toFloat16Bits(x));
    case 'bfloat16':
      return fromBfloat16Bits(toBfloat16Bits(x));
    case 'int32':
      return x | 0;
    case 'uint8':
      return x & 0xff;
  }
}

/** Storage for `dtype` holding `values`, converted exactly (half types as bits). */
export function encodeValues<D extends DType>(dtype: D, values: ArrayLike<number>): DTypeStorage[D] {
  const out = new STORAGE[dtype](values.length);
  if (dtype === 'float16' || dtype === 'bfloat16') {
    const toBits = dtype === 'float16' ? toFloat16Bits : toBfloat16Bits;
    for (let i = 0; i < values.length; i++) out[i] = toBits(values[i]!);
  } else {
    for (let i = 0; i < values.length; i++) out[i] = values[i]!;
  }
  return out;
}

/** The elements of a tensor as float64 numbers, in row-major order of its shape. */
export function decodeValues(t: Tensor): Float64Array {
  const c = contiguous(t);
  const out = new Float64Array(c.data.length);
  if (c.dtype === 'float16' || c.dtype === 'bfloat16') {
    const fromBits = c.dtype === 'float16' ? fromFloat16Bits : fromBfloat16Bits;
    for (let i = 0; i < out.length; i++) out[i] = fromBits(c.data[i]!);
  } else {
    out.set(c.data);
  }
  return out;
}
