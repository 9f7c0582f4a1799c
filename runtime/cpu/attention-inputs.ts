/**
 * Operands of the CPU reference attention: Q, K, V as flat arrays in one of the two token layouts, checked
 * once here so the kernels in `attention.ts` can index without bounds worries.
 */
import {
  type AttentionLayout,
  type AttentionStrides,
  attentionShape,
  attentionStrides,
  decodeValues,
  expectShape,
  type Tensor,
  TensorError,
} from '../../core/tensor.js';

/** Q, K and V of one attention call. */
export interface AttentionInputs {
  /** Query elements, `batch x seqLen x heads x headDim` in `layout`. */
  readonly q: ArrayLike<number>;
  /** Key elements, `batch x kvLen x heads x headDim` in `layout`. */
  readonly k: ArrayLike<number>;
  /** Value elements, same shape as `k`. */
  readonly v: ArrayLike<number>;
  /** Token layout of all three operands and of the output: [B, S, H, D] or [B, H, S, D]. */
  readonly layout: AttentionLayout;
  readonly batch: number;
  readonly heads: number;
  /** Query tokens. */
  readonly seqLen: number;
  /** Key/value tokens; defaults to `seqLen` (self-attention). */
  readonly kvLen?: number;
  readonly headDim: number;
}

/** Arithmetic of the reference: float64 for the oracle, float32 to mimic a float32 kernel step by step. */
export type AttentionPrecision = 'float64' | 'float32';

/** Options shared by the reference attention functions. */
export interface AttentionOptions {
  /** Default `float64`. */
  readonly precision?: AttentionPrecision;
  /** Logit scale; default `1 / sqrt(headDim)`. */
  readonly scale?: number;
  /**
   * Buffers to write the result into instead of fresh ones (every element is written; tests poison them with
   * NaN first so a skipped element shows). Their lengths must match the output and lse shapes.
   */
  readonly output?: AttentionResult;
  /**
   * Query rows to compute (dense reference only); the others are left as they are. Lets `--verify` check
   * sampled rows of a sequence too long for the whole float64 reference.
   */
  readonly rows?: readonly number[];
}

/** What the reference attention returns. */
export interface AttentionResult {
  /** Output, same shape and layout as Q. Rows with no allowed key are 0. */
  readonly out: Float64Array | Float32Array;
  /** Shape [batch, heads, seqLen]: natural log of sum(exp(scaled logit)) over allowed keys; -Infinity when none. */
  readonly lse: Float64Array | Float32Array;
}

/** Checked sizes plus the per-axis strides of the operands. */
export interface AttentionGeometry {
  readonly batch: number;
  readonly heads: number;
  readonly seqLen: number;
  readonly kvLen: number;
  readonly headDim: number;
  readonly qStrides: AttentionStrides;
  readonly kvStrides: AttentionStrides;
  readonly scale: number;
  /** `Math.fround` in float32 mode, the identity in float64 mode: applied after every arithmetic step. */
  readonly round: (x: number) => number;
  readonly precision: AttentionPrecision;
  readonly output: AttentionResult | undefined;
}

const identity = (x: number): number => x;

function checkSize(what: string, n: number, allowZero: boolean): void {
  if (!Number.isSafeInteger(n) || n < (allowZero ? 0 : 1)) {
    throw new TensorError(
      what,
      `size must be a ${allowZero ? 'non-negative' : 'positive'} integer, got ${n}`,
    );
  }
}

/** Validate sizes and operand lengths; the errors name the operand and the shape it should have. */
export function attentionGeometry(
  inputs: AttentionInputs,
  options: AttentionOptions = {},
): AttentionGeometry {
  const { batch, heads, seqLen, headDim, layout } = inputs;
  const kvLen = inputs.kvLen ?? seqLen;
  checkSize('batch', batch, false);
  checkSize('heads', heads, false);
  checkSize('seqLen', seqLen, true);
  checkSize('kvLen', kvLen, true);
  checkSize('headDim', headDim, false);
  const operands: [string, ArrayLike<number>, number][] = [
    ['q', inputs.q, seqLen],
    ['k', inputs.k, kvLen],
    ['v', inputs.v, kvLen],
  ];
  for (const [name, data, len] of operands) {
    const shape = attentionShape(layout, batch, len, heads, headDim);
    const need = shape.reduce((a, b) => a * b, 1);
    if (data.length !== need) {
      throw new TensorError(
        name,
        `expected shape [${shape.join(', ')}] (${layout}, ${need} elements), got ${data.length} elements`,
      );
    }
  }
  const precision = options.precision ?? 'float64';
  const round = precision === 'float32' ? Math.fround : identity;
  return {
    batch,
    heads,
    seqLen,
    kvLen,
    headDim,
    qStrides: attentionStrides(layout, seqLen, heads, headDim),
    kvStrides: attentionStrides(layout, kvLen, heads, headDim),
    scale: round(options.scale ?? 1 / Math.sqrt(headDim)),
    round,
    precision,
    output: options.output,
  };
}

/**
 * K or V re-packed as [batch, heads, kvLen, headDim] in the working precision, so the inner loops read
 * one key row contiguously whatever the input layout (float32 storage also rounds every element once).
 */
export function packHeads(g: AttentionGeometry, data: ArrayLike<number>): Float64Array | Float32Array {
  const out =
    g.precision === 'float32'
      ? new Float32Array(g.batch * g.heads * g.kvLen * g.headDim)
      : new Float64Array(g.batch * g.heads * g.kvLen * g.headDim);
  const s = g.kvStrides;
  let o = 0;
  for (let b = 0; b < g.batch; b++) {
    for (let h = 0; h < g.heads; h++) {
      for (let t = 0; t < g.kvLen; t++) {
        const base = b * s.batch + h * s.head + t * s.seq;
        for (let d = 0; d < g.headDim; d++) out[o++] = data[base + d * s.dim]!;
      }
    }
  }
  return out;
}

/** The caller's output buffers (checked) or fresh ones in the working precision. */
export function allocateResult(g: AttentionGeometry): AttentionResult {
  const outLength = g.batch * g.seqLen * g.heads * g.headDim;
  const lseLength = g.batch * g.heads * g.seqLen;
  if (g.output) {
    if (g.output.out.length !== outLength) {
      throw new TensorError(
        'out',
        `expected ${outLength} elements (the shape of q), got ${g.output.out.length}`,
      );
    }
    if (g.output.lse.length !== lseLength) {
      throw new TensorError(
        'lse',
        `expected shape [${g.batch}, ${g.heads}, ${g.seqLen}], got ${g.output.lse.length} elements`,
      );
    }
    return g.output;
  }
  return g.precision === 'float32'
    ? { out: new Float32Array(outLength), lse: new Float32Array(lseLength) }
    : { out: new Float64Array(outLength), lse: new Float64Array(lseLength) };
}

/**
 * Build {@link AttentionInputs} from host tensors of any float dtype (half types are decoded exactly), checking
 * that the three shapes agree: `q` is [B, S, H, D] / [B, H, S, D] and `k`, `v` the same with their own S.
 */
export function attentionInputsFromTensors(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  layout: AttentionLayout,
): AttentionInputs {
  if (q.shape.length !== 4) {
    throw new TensorError(
      'q',
      `expected a rank-4 ${layout === 'bshd' ? '[B, S, H, D]' : '[B, H, S, D]'} tensor, got [${q.shape.join(', ')}]`,
    );
  }
  const [batch, a, b, headDim] = q.shape as [number, number, number, number];
  const seqLen = layout === 'bshd' ? a : b;
  const heads = layout === 'bshd' ? b : a;
  const kvLen = (layout === 'bshd' ? k.shape[1] : k.shape[2]) ?? 0;
  const kvShape = attentionShape(layout, batch, kvLen, heads, headDim);
  expectShape('k', k, kvShape);
  expectShape('v', v, kvShape);
  return {
    q: decodeValues(q),
    k: decodeValues(k),
    v: decodeValues(v),
    layout,
    batch,
    heads,
    seqLen,
    kvLen,
    headDim,
  };
}
