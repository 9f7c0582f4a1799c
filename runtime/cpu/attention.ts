/**
 * The CPU reference attention: the oracle every GPU backend is checked against (SPEC §4).
 *
 * `denseAttention` is the textbook softmax(mask(Q K^T * scale)) V over every allowed key, two passes per row
 * (max, then exp-sum). `blockSparseAttention` computes the same function the way the block-sparse kernels do:
 * it visits only the plan's key blocks, with a flash-style online softmax that rescales its running sum and
 * accumulator per key block. Both give out = 0 and lse = -Infinity on rows with no allowed key, never NaN.
 */
import type { BlockPlan } from '../../compiler/plan/plan.js';
import { TensorError } from '../../core/tensor.js';
import {
  type AttentionGeometry,
  type AttentionInputs,
  type AttentionOptions,
  type AttentionResult,
  allocateResult,
  attentionGeometry,
  packHeads,
} from './attention-inputs.js';

/** Element mask: may query token `qi` attend to key token `ki`? */
export type AllowedFn = (qi: number, ki: number) => boolean;

/** What the block-sparse reference needs besides the plan: the element mask and which tokens are padding. */
export interface BlockSparseMask {
  /** The pattern on real tokens (only consulted inside partial blocks). */
  readonly allowed: AllowedFn;
  /** False for padding tokens: they attend nothing and are attended by nothing. */
  readonly isReal: (index: number) => boolean;
}

/** Copy query row (b, qi, h) into `dst` in the working precision. */
function loadQuery(
  g: AttentionGeometry,
  q: ArrayLike<number>,
  b: number,
  qi: number,
  h: number,
  dst: Float64Array,
): void {
  const s = g.qStrides;
  const base = b * s.batch + qi * s.seq + h * s.head;
  const f32 = g.precision === 'float32';
  for (let d = 0; d < g.headDim; d++) dst[d] = rnd(q[base + d * s.dim]!, f32);
}

/**
 * Round to float32 in float32 mode. The inner loops call `Math.fround` directly rather than through a function
 * value: V8 then lowers it to a single conversion, where an indirect call made float32 mode ~10x slower.
 */
function rnd(x: number, f32: boolean): number {
  return f32 ? Math.fround(x) : x;
}

/** Scaled logit of query row `qRow` against key row `ki` of head slab `kvBase`. */
function logit(
  g: AttentionGeometry,
  qRow: Float64Array,
  kPacked: Float64Array | Float32Array,
  kvBase: number,
  ki: number,
): number {
  const D = g.headDim;
  const off = kvBase + ki * D;
  let dot = 0;
  if (g.precision === 'float32') {
    for (let d = 0; d < D; d++) dot = Math.fround(dot + Math.fround(qRow[d]! * kPacked[off + d]!));
    return Math.fround(dot * g.scale);
  }
  for (let d = 0; d < D; d++) dot += qRow[d]! * kPacked[off + d]!;
  return dot * g.scale;
}

/** acc += p * v[off .. off + D), rounding every step in float32 mode. */
function addScaled(
  acc: Float64Array,
  p: number,
  v: Float64Array | Float32Array,
  off: number,
  D: number,
  f32: boolean,
): void {
  if (f32) {
    for (let d = 0; d < D; d++) acc[d] = Math.fround(acc[d]! + Math.fround(p * v[off + d]!));
  } else {
    for (let d = 0; d < D; d++) acc[d]! += p * v[off + d]!;
  }
}

/** Write one output row and its lse; `acc` holds the unnormalised weighted sum, `sum` the softmax denominator. */
function storeRow(
  g: AttentionGeometry,
  result: AttentionResult,
  b: number,
  qi: number,
  h: number,
  acc: Float64Array,
  sum: number,
  max: number,
): void {
  const s = g.qStrides;
  const base = b * s.batch + qi * s.seq + h * s.head;
  const lseIndex = (b * g.heads + h) * g.seqLen + qi;
  if (sum === 0) {
    // No allowed key: defined as out = 0, lse = -inf, so that fully masked rows never divide 0 by 0.
    for (let d = 0; d < g.headDim; d++) result.out[base + d * s.dim] = 0;
    result.lse[lseIndex] = Number.NEGATIVE_INFINITY;
    return;
  }
  const f32 = g.precision === 'float32';
  for (let d = 0; d < g.headDim; d++) result.out[base + d * s.dim] = rnd(acc[d]! / sum, f32);
  result.lse[lseIndex] = rnd(max + rnd(Math.log(sum), f32), f32);
}

/**
 * Dense masked attention: out = softmax(mask(Q K^T * scale)) V with `allowed(qi, ki)` deciding the mask,
 * in float64 (the oracle) or step-by-step float32 arithmetic. The mask is evaluated once per (qi, ki) and
 * shared by every batch and head (tessera's patterns are head-independent).
 */
export function denseAttention(
  inputs: AttentionInputs,
  allowed: AllowedFn,
  options: AttentionOptions = {},
): AttentionResult {
  const g = attentionGeometry(inputs, options);
  const f32 = g.precision === 'float32';
  const kPacked = packHeads(g, inputs.k);
  const vPacked = packHeads(g, inputs.v);
  const result = allocateResult(g);
  const D = g.headDim;
  const qRow = new Float64Array(D);
  const acc = new Float64Array(D);
  const keys = new Int32Array(g.kvLen);
  const scores = new Float64Array(g.kvLen);
  const rows = options.rows ?? Array.from({ length: g.seqLen }, (_, i) => i);
  for (const qi of rows) {
    let count = 0;
    for (let ki = 0; ki < g.kvLen; ki++) if (allowed(qi, ki)) keys[count++] = ki;
    for (let b = 0; b < g.batch; b++) {
      for (let h = 0; h < g.heads; h++) {
        const kvBase = (b * g.heads + h) * g.kvLen * D;
        loadQuery(g, inputs.q, b, qi, h, qRow);
        let max = Number.NEGATIVE_INFINITY;
        for (let j = 0; j < count; j++) {
          const sc = logit(g, qRow, kPacked, kvBase, keys[j]!);
          scores[j] = sc;
          if (sc > max) max = sc;
        }
        acc.fill(0);
        let sum = 0;
        for (let j = 0; j < count; j++) {
          const p = rnd(Math.exp(rnd(scores[j]! - max, f32)), f32);
          sum = rnd(sum + p, f32);
          addScaled(acc, p, vPacked, kvBase + keys[j]! * D, D, f32);
        }
        storeRow(g, result, b, qi, h, acc, sum, max);
      }
    }
  }
  return result;
}

function checkCsr(name: string, csr: BlockPlan['full'], rows: number, cols: number): void {
  if (csr.offsets.length !== rows + 1 || csr.offsets[0] !== 0 || csr.offsets[rows] !== csr.indices.length) {
    throw new TensorError(name, `offsets must have ${rows + 1} entries from 0 to indices.length`);
  }
  for (let i = 0; i < rows; i++) {
    if (csr.offsets[i + 1]! < csr.offsets[i]!) throw new TensorError(name, `offsets decrease at row ${i}`);
  }
  for (const kb of csr.indices) {
    if (kb < 0 || kb >= cols) throw new TensorError(name, `key block ${kb} is outside [0, ${cols})`);
  }
}

/**
 * Block-sparse attention over `plan`: per query row, visit the plan's full key blocks (every real pair
 * allowed: only padding keys are dropped, and only in blocks the plan marks as holding padding) and then its
 * partial key blocks (element mask `allowed` on real keys), with an online softmax per key block, as a flash
 * kernel does. Keys in blocks the plan omits are never read, so a wrong plan shows up as a wrong result.
 */
export function blockSparseAttention(
  inputs: AttentionInputs,
  plan: BlockPlan,
  mask: BlockSparseMask,
  options: AttentionOptions = {},
): AttentionResult {
  const g = attentionGeometry(inputs, options);
  if (plan.seqLen !== g.seqLen || plan.seqLen !== g.kvLen) {
    throw new TensorError(
      'q',
      `the plan '${plan.key}' is for ${plan.seqLen} tokens, got seqLen ${g.seqLen} and kvLen ${g.kvLen}`,
    );
  }
  checkCsr('plan.full', plan.full, plan.numQBlocks, plan.numKBlocks);
  checkCsr('plan.partial', plan.partial, plan.numQBlocks, plan.numKBlocks);
  const f32 = g.precision === 'float32';
  const D = g.headDim;
  const kPacked = packHeads(g, inputs.k);
  const vPacked = packHeads(g, inputs.v);
  const result = allocateResult(g);
  const qRow = new Float64Array(D);
  const acc = new Float64Array(D);
  const scores = new Float64Array(plan.blockK);

  // The keys a full block contributes do not depend on the query row: all keys, or the real ones.
  const fullKeys: Int32Array[] = [];
  for (let kb = 0; kb < plan.numKBlocks; kb++) {
    const keys: number[] = [];
    for (let ki = kb * plan.blockK; ki < Math.min((kb + 1) * plan.blockK, g.kvLen); ki++) {
      if (!plan.keyBlockHasPadding[kb] || mask.isReal(ki)) keys.push(ki);
    }
    fullKeys.push(Int32Array.from(keys));
  }

  for (let qb = 0; qb < plan.numQBlocks; qb++) {
    for (let qi = qb * plan.blockQ; qi < Math.min((qb + 1) * plan.blockQ, g.seqLen); qi++) {
      const realRow = !plan.queryBlockHasPadding[qb] || mask.isReal(qi);
      // This row's key segments, one per visited key block: full blocks first, then partial ones.
      const segments: Int32Array[] = [];
      if (realRow) {
        for (let j = plan.full.offsets[qb]!; j < plan.full.offsets[qb + 1]!; j++)
          segments.push(fullKeys[plan.full.indices[j]!]!);
        for (let j = plan.partial.offsets[qb]!; j < plan.partial.offsets[qb + 1]!; j++) {
          const kb = plan.partial.indices[j]!;
          const keys: number[] = [];
          for (let ki = kb * plan.blockK; ki < Math.min((kb + 1) * plan.blockK, g.kvLen); ki++) {
            if (mask.isReal(ki) && mask.allowed(qi, ki)) keys.push(ki);
          }
          segments.push(Int32Array.from(keys));
        }
      }
      for (let b = 0; b < g.batch; b++) {
        for (let h = 0; h < g.heads; h++) {
          const kvBase = (b * g.heads + h) * g.kvLen * D;
          loadQuery(g, inputs.q, b, qi, h, qRow);
          let max = Number.NEGATIVE_INFINITY;
          let sum = 0;
          acc.fill(0);
          for (const keys of segments) {
            if (keys.length === 0) continue;
            let blockMax = Number.NEGATIVE_INFINITY;
            for (let j = 0; j < keys.length; j++) {
              const sc = logit(g, qRow, kPacked, kvBase, keys[j]!);
              scores[j] = sc;
              if (sc > blockMax) blockMax = sc;
            }
            const newMax = Math.max(max, blockMax);
            // Rescale what was accumulated under the old max; exp(-inf) = 0 on the first block.
            const alpha = rnd(Math.exp(rnd(max - newMax, f32)), f32);
            sum = rnd(sum * alpha, f32);
            for (let d = 0; d < D; d++) acc[d] = rnd(acc[d]! * alpha, f32);
            for (let j = 0; j < keys.length; j++) {
              const p = rnd(Math.exp(rnd(scores[j]! - newMax, f32)), f32);
              sum = rnd(sum + p, f32);
              addScaled(acc, p, vPacked, kvBase + keys[j]! * D, D, f32);
            }
            max = newMax;
          }
          storeRow(g, result, b, qi, h, acc, sum, max);
        }
      }
    }
  }
  return result;
}
