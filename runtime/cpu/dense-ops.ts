/**
 * CPU kernels for the per-token parts of the graph: linear layers, LayerNorm, adaLN modulation, gated
 * residuals and activations. Sums accumulate in float64; results are stored in the tensor's precision.
 */
import { TensorError } from '../../core/tensor.js';
import type { OpPrecision } from '../model-ops.js';
import { allocate, type CpuTensor, expectDims, rowsAndWidth } from './cpu-tensor.js';

/** y = x W^T + b over the last axis. */
export function linear(precision: OpPrecision, x: CpuTensor, w: CpuTensor, b: CpuTensor): CpuTensor {
  const { rows, width } = rowsAndWidth(x);
  const out = w.shape[0]!;
  expectDims('linear weight', w, [out, width]);
  expectDims('linear bias', b, [out]);
  const y = allocate(precision, [...x.shape.slice(0, -1), out]);
  const xs = x.data;
  const ws = w.data;
  for (let r = 0; r < rows; r++) {
    const xo = r * width;
    for (let o = 0; o < out; o++) {
      const wo = o * width;
      let acc = 0;
      for (let i = 0; i < width; i++) acc += xs[xo + i]! * ws[wo + i]!;
      y.data[r * out + o] = acc + b.data[o]!;
    }
  }
  return y;
}

/** Mean and 1 / sqrt(biased variance + eps) of `width` values of `data` from `o`: one LayerNorm row. */
function rowStats(
  data: ArrayLike<number>,
  o: number,
  width: number,
  eps: number,
): { mean: number; inv: number } {
  let mean = 0;
  for (let i = 0; i < width; i++) mean += data[o + i]!;
  mean /= width;
  let variance = 0;
  for (let i = 0; i < width; i++) {
    const d = data[o + i]! - mean;
    variance += d * d;
  }
  variance /= width;
  return { mean, inv: 1 / Math.sqrt(variance + eps) };
}

/** LayerNorm over the last axis without affine parameters: (x - mean) / sqrt(var + eps), biased variance. */
export function layerNorm(precision: OpPrecision, x: CpuTensor, eps: number): CpuTensor {
  const { rows, width } = rowsAndWidth(x);
  const y = allocate(precision, x.shape);
  for (let r = 0; r < rows; r++) {
    const o = r * width;
    const { mean, inv } = rowStats(x.data, o, width, eps);
    for (let i = 0; i < width; i++) y.data[o + i] = (x.data[o + i]! - mean) * inv;
  }
  return y;
}

/** Check x [B, N, D] against mod [B, K, D] and a row index. */
function modDims(
  x: CpuTensor,
  mod: CpuTensor,
  rowsUsed: readonly number[],
): { B: number; N: number; D: number; K: number } {
  if (x.shape.length !== 3) throw new TensorError('x', `expected [B, N, D], got [${x.shape.join(', ')}]`);
  const [B, N, D] = x.shape as [number, number, number];
  const K = mod.shape[1] ?? 0;
  expectDims('modulation', mod, [B, K, D]);
  for (const row of rowsUsed) {
    if (!Number.isInteger(row) || row < 0 || row >= K)
      throw new TensorError('modulation', `row ${row} is outside [0, ${K})`);
  }
  return { B, N, D, K };
}

/** x * (1 + scale) + shift with per-batch shift/scale rows of `mod`. */
export function modulate(
  precision: OpPrecision,
  x: CpuTensor,
  mod: CpuTensor,
  shiftRow: number,
  scaleRow: number,
): CpuTensor {
  const { B, N, D, K } = modDims(x, mod, [shiftRow, scaleRow]);
  const y = allocate(precision, x.shape);
  for (let b = 0; b < B; b++) {
    const shift = (b * K + shiftRow) * D;
    const scale = (b * K + scaleRow) * D;
    for (let n = 0; n < N; n++) {
      const o = (b * N + n) * D;
      for (let d = 0; d < D; d++)
        y.data[o + d] = x.data[o + d]! * (1 + mod.data[scale + d]!) + mod.data[shift + d]!;
    }
  }
  return y;
}

/**
 * LayerNorm over the last axis (no affine, biased variance) then x * (1 + scale) + shift with per-batch
 * shift/scale rows of `mod`, in one pass per row: the normalised value is modulated before it is stored, so
 * float32 storage rounds once; in float64 it is the same arithmetic as `modulate(layerNorm(x))`.
 */
export function layerNormModulate(
  precision: OpPrecision,
  x: CpuTensor,
  eps: number,
  mod: CpuTensor,
  shiftRow: number,
  scaleRow: number,
): CpuTensor {
  const { B, N, D, K } = modDims(x, mod, [shiftRow, scaleRow]);
  const y = allocate(precision, x.shape);
  const xs = x.data;
  const ms = mod.data;
  for (let b = 0; b < B; b++) {
    const shift = (b * K + shiftRow) * D;
    const scale = (b * K + scaleRow) * D;
    for (let n = 0; n < N; n++) {
      const o = (b * N + n) * D;
      const { mean, inv } = rowStats(xs, o, D, eps);
      for (let d = 0; d < D; d++)
        y.data[o + d] = (xs[o + d]! - mean) * inv * (1 + ms[scale + d]!) + ms[shift + d]!;
    }
  }
  return y;
}

/** x + gate * y with a per-batch gate row of `mod`. */
export function gatedAdd(
  precision: OpPrecision,
  x: CpuTensor,
  y: CpuTensor,
  mod: CpuTensor,
  gateRow: number,
): CpuTensor {
  const { B, N, D, K } = modDims(x, mod, [gateRow]);
  expectDims('y', y, x.shape);
  const out = allocate(precision, x.shape);
  for (let b = 0; b < B; b++) {
    const gate = (b * K + gateRow) * D;
    for (let n = 0; n < N; n++) {
      const o = (b * N + n) * D;
      for (let d = 0; d < D; d++) out.data[o + d] = x.data[o + d]! + mod.data[gate + d]! * y.data[o + d]!;
    }
  }
  return out;
}

/** x + y. */
export function add(precision: OpPrecision, x: CpuTensor, y: CpuTensor): CpuTensor {
  expectDims('y', y, x.shape);
  const out = allocate(precision, x.shape);
  for (let i = 0; i < out.data.length; i++) out.data[i] = x.data[i]! + y.data[i]!;
  return out;
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** Element-wise map. */
function map(precision: OpPrecision, x: CpuTensor, f: (v: number) => number): CpuTensor {
  const out = allocate(precision, x.shape);
  for (let i = 0; i < out.data.length; i++) out.data[i] = f(x.data[i]!);
  return out;
}

/** GELU with the tanh approximation (PyTorch `approximate="tanh"`). */
export function geluTanh(precision: OpPrecision, x: CpuTensor): CpuTensor {
  return map(precision, x, (v) => 0.5 * v * (1 + Math.tanh(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v))));
}

/** SiLU: x * sigmoid(x). */
export function silu(precision: OpPrecision, x: CpuTensor): CpuTensor {
  return map(precision, x, (v) => v / (1 + Math.exp(-v)));
}

/** table [K, D] + emb as [B, K, D], or emb [B, D] broadcast over the K rows. */
export function modulationRows(precision: OpPrecision, table: CpuTensor, emb: CpuTensor): CpuTensor {
  if (table.shape.length !== 2)
    throw new TensorError('table', `expected [K, D], got [${table.shape.join(', ')}]`);
  const [K, D] = table.shape as [number, number];
  const B = emb.shape[0] ?? 0;
  const width = emb.shape[1];
  if (emb.shape.length !== 2 || (width !== K * D && width !== D)) {
    throw new TensorError('embedding', `expected [B, ${K * D}] or [B, ${D}], got [${emb.shape.join(', ')}]`);
  }
  const broadcast = width === D && K !== 1;
  const out = allocate(precision, [B, K, D]);
  for (let b = 0; b < B; b++) {
    for (let k = 0; k < K; k++) {
      const e = b * width + (broadcast ? 0 : k * D);
      const o = (b * K + k) * D;
      for (let d = 0; d < D; d++) out.data[o + d] = table.data[k * D + d]! + emb.data[e + d]!;
    }
  }
  return out;
}
