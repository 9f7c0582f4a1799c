/**
 * Attention whose heads use different block plans, through any {@link AttentionBackend}: one kernel call per
 * run of adjacent heads that share a plan (compiler/plan/head-plans.ts), on those heads' slice of Q, K and V,
 * and the slices' outputs and log-sum-exps put back in place. The heads of one call share the token layout
 * (the plans' sequence length); a model whose head groups reorder tokens differently gathers per group
 * (runtime/cpu and runtime/cuda model-attention).
 */
import { headRuns } from '../compiler/plan/head-plans.js';
import type { BlockPlan } from '../compiler/plan/plan.js';
import { attentionStrides, TensorError } from '../core/tensor.js';
import type { AttentionBackend, KernelDtype } from './attention-backend.js';
import type { AttentionInputs, AttentionResult } from './cpu/attention-inputs.js';

/** `perHead[h]` is head h's plan; heads of one group share one object. */
export async function perHeadAttention(
  backend: AttentionBackend,
  perHead: readonly BlockPlan[],
  inputs: AttentionInputs,
  dtype: KernelDtype,
): Promise<AttentionResult> {
  const { batch: B, heads: H, seqLen: S, headDim: D, layout } = inputs;
  if (perHead.length !== H)
    throw new TensorError('q', `has ${H} heads but the per-head plans cover ${perHead.length}`);
  const odd = perHead.find((p) => p.seqLen !== S);
  if (odd)
    throw new TensorError(
      'q',
      `has ${S} tokens but plan '${odd.key}' is laid out on ${odd.seqLen}: the heads of one call share a layout`,
    );
  const runs = headRuns(perHead);
  if (runs.length === 1) return backend.attention(perHead[0]!, inputs, dtype);
  const whole = attentionStrides(layout, S, H, D);
  let out: Float64Array | Float32Array | null = null;
  let lse: Float64Array | Float32Array | null = null;
  for (const run of runs) {
    const part = attentionStrides(layout, S, run.count, D);
    // Element (b, s, h, d) of the run's slice, at head `run.first + h` of the whole operand.
    const slice = (x: ArrayLike<number>) => {
      const y = new Float64Array(B * S * run.count * D);
      for (let b = 0; b < B; b++)
        for (let s = 0; s < S; s++)
          for (let h = 0; h < run.count; h++) {
            const from = b * whole.batch + s * whole.seq + (run.first + h) * whole.head;
            const to = b * part.batch + s * part.seq + h * part.head;
            for (let d = 0; d < D; d++) y[to + d] = x[from + d]!;
          }
      return y;
    };
    const got = await backend.attention(
      run.value,
      { ...inputs, q: slice(inputs.q), k: slice(inputs.k), v: slice(inputs.v), heads: run.count },
      dtype,
    );
    const make = (like: Float64Array | Float32Array, n: number) =>
      like instanceof Float32Array ? new Float32Array(n) : new Float64Array(n);
    out ??= make(got.out, B * S * H * D);
    lse ??= make(got.lse, B * H * S);
    for (let b = 0; b < B; b++)
      for (let h = 0; h < run.count; h++) {
        lse.set(
          got.lse.subarray((b * run.count + h) * S, (b * run.count + h + 1) * S),
          (b * H + run.first + h) * S,
        );
        for (let s = 0; s < S; s++) {
          const from = b * part.batch + s * part.seq + h * part.head;
          out.set(
            got.out.subarray(from, from + D),
            b * whole.batch + s * whole.seq + (run.first + h) * whole.head,
          );
        }
      }
  }
  return { out: out!, lse: lse! };
}
