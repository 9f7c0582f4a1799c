/**
 * Self- and cross-attention of the graph on the CPU, through the reference kernels of runtime/cpu: dense
 * attention (optionally under an element mask) and block-sparse attention over a compiled plan. A plan's layout
 * may reorder and pad tokens, so Q, K, V are scattered into layout order before the call and the output is
 * gathered back; the identity layout skips the copies.
 */
import { planElementMask } from '../../compiler/plan/element-mask.js';
import { TensorError } from '../../core/tensor.js';
import { attentionRuns } from '../head-specs.js';
import type { HeadAttentionSpec, OpPrecision, SelfAttentionSpec } from '../model-ops.js';
import { blockSparseAttention, denseAttention } from './attention.js';
import { type CpuTensor, expectDims } from './cpu-tensor.js';

function headGeometry(
  name: string,
  q: CpuTensor,
  heads: number,
): { B: number; N: number; D: number; headDim: number } {
  if (q.shape.length !== 3) throw new TensorError(name, `expected [B, N, D], got [${q.shape.join(', ')}]`);
  const [B, N, D] = q.shape as [number, number, number];
  const headDim = D / heads;
  if (!Number.isInteger(headDim))
    throw new TensorError(name, `width ${D} is not a multiple of ${heads} heads`);
  return { B, N, D, headDim };
}

/** True when the plan's layout is the natural token order with no padding. */
function isIdentity(tokenOf: Int32Array, n: number): boolean {
  if (tokenOf.length !== n) return false;
  for (let i = 0; i < n; i++) if (tokenOf[i] !== i) return false;
  return true;
}

/** Copy rows of [B, N, D] into layout order [B, L, D] (padding rows stay zero). */
function scatter(
  src: CpuTensor,
  tokenOf: Int32Array,
  B: number,
  N: number,
  D: number,
): Float64Array | Float32Array {
  const L = tokenOf.length;
  const out = src.data instanceof Float32Array ? new Float32Array(B * L * D) : new Float64Array(B * L * D);
  for (let b = 0; b < B; b++)
    for (let i = 0; i < L; i++) {
      const n = tokenOf[i]!;
      if (n >= 0) out.set(src.data.subarray((b * N + n) * D, (b * N + n + 1) * D), (b * L + i) * D);
    }
  return out;
}

/** Columns `from .. from + width` of every row of [rows, D] as their own [rows, width] array. */
function columns(t: CpuTensor, rows: number, D: number, from: number, width: number): CpuTensor {
  const out =
    t.data instanceof Float32Array ? new Float32Array(rows * width) : new Float64Array(rows * width);
  for (let r = 0; r < rows; r++) out.set(t.data.subarray(r * D + from, r * D + from + width), r * width);
  return { shape: [...t.shape.slice(0, -1), width], data: out };
}

/**
 * Self-attention over video tokens as `spec` says. A per-head spec runs each run of adjacent heads that share
 * a spec on its own columns.
 */
export function selfAttention(
  precision: OpPrecision,
  q: CpuTensor,
  k: CpuTensor,
  v: CpuTensor,
  heads: number,
  spec: SelfAttentionSpec,
): CpuTensor {
  const { B, N, D, headDim } = headGeometry('q', q, heads);
  expectDims('k', k, q.shape);
  expectDims('v', v, q.shape);
  const runs = attentionRuns(spec, heads);
  if (runs.length === 1) return headsAttention(precision, q, k, v, heads, runs[0]!.value);
  const out = precision === 'float32' ? new Float32Array(B * N * D) : new Float64Array(B * N * D);
  for (const run of runs) {
    const [from, width] = [run.first * headDim, run.count * headDim];
    const part = (t: CpuTensor) => columns(t, B * N, D, from, width);
    const o = headsAttention(precision, part(q), part(k), part(v), run.count, run.value);
    for (let r = 0; r < B * N; r++) out.set(o.data.subarray(r * width, (r + 1) * width), r * D + from);
  }
  return { shape: q.shape, data: out };
}

/** Self-attention of heads that all attend as `spec` says. */
function headsAttention(
  precision: OpPrecision,
  q: CpuTensor,
  k: CpuTensor,
  v: CpuTensor,
  heads: number,
  spec: HeadAttentionSpec,
): CpuTensor {
  const { B, N, D, headDim } = headGeometry('q', q, heads);
  const options = { precision };
  if (spec.kind !== 'plan') {
    const allowed = spec.kind === 'masked' ? spec.allowed : () => true;
    const inputs = {
      q: q.data,
      k: k.data,
      v: v.data,
      layout: 'bshd' as const,
      batch: B,
      heads,
      seqLen: N,
      headDim,
    };
    return { shape: q.shape, data: denseAttention(inputs, allowed, options).out };
  }
  const { plan, tokenOf } = spec;
  const layout = plan.pattern.layout;
  const mask = { allowed: planElementMask(plan).allowed, isReal: (i: number) => tokenOf[i]! >= 0 };
  if (isIdentity(tokenOf, N)) {
    const inputs = {
      q: q.data,
      k: k.data,
      v: v.data,
      layout: 'bshd' as const,
      batch: B,
      heads,
      seqLen: N,
      headDim,
    };
    return { shape: q.shape, data: blockSparseAttention(inputs, plan, mask, options).out };
  }
  const L = layout.length;
  const inputs = {
    q: scatter(q, tokenOf, B, N, D),
    k: scatter(k, tokenOf, B, N, D),
    v: scatter(v, tokenOf, B, N, D),
    layout: 'bshd' as const,
    batch: B,
    heads,
    seqLen: L,
    headDim,
  };
  const result = blockSparseAttention(inputs, plan, mask, options).out;
  const out = precision === 'float32' ? new Float32Array(B * N * D) : new Float64Array(B * N * D);
  for (let b = 0; b < B; b++)
    for (let i = 0; i < L; i++) {
      const n = tokenOf[i]!;
      if (n >= 0) out.set(result.subarray((b * L + i) * D, (b * L + i + 1) * D), (b * N + n) * D);
    }
  return { shape: q.shape, data: out };
}

/**
 * Cross-attention to text tokens, one batch element at a time (each has its own padding mask); an element with
 * no real text token attends over all its keys (see `ModelOps.crossAttention`).
 */
export function crossAttention(
  precision: OpPrecision,
  q: CpuTensor,
  k: CpuTensor,
  v: CpuTensor,
  heads: number,
  keyMask: Uint8Array,
): CpuTensor {
  const { B, N, D, headDim } = headGeometry('q', q, heads);
  const L = k.shape[1] ?? 0;
  expectDims('k', k, [B, L, D]);
  expectDims('v', v, [B, L, D]);
  if (keyMask.length !== B * L)
    throw new TensorError('text mask', `expected ${B * L} entries [B, L], got ${keyMask.length}`);
  const out = precision === 'float32' ? new Float32Array(B * N * D) : new Float64Array(B * N * D);
  for (let b = 0; b < B; b++) {
    const inputs = {
      q: q.data.subarray(b * N * D, (b + 1) * N * D),
      k: k.data.subarray(b * L * D, (b + 1) * L * D),
      v: v.data.subarray(b * L * D, (b + 1) * L * D),
      layout: 'bshd' as const,
      batch: 1,
      heads,
      seqLen: N,
      kvLen: L,
      headDim,
    };
    const row = b * L;
    // No real key: upstream's -10000 bias shifts every score equally, so the row attends over all L keys.
    const anyReal = keyMask.subarray(row, row + L).some((m) => m !== 0);
    const allowed = anyReal ? (_qi: number, ki: number) => keyMask[row + ki] !== 0 : () => true;
    const result = denseAttention(inputs, allowed, { precision });
    out.set(result.out, b * N * D);
  }
  return { shape: q.shape, data: out };
}
