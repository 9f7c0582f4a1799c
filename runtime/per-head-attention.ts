/**
 * Attention whose heads use different block plans, through any {@link AttentionBackend}: one kernel call per
 * plan, on a copy of the Q, K and V of the heads that share it (compiler/plan/head-plans.ts), and the copies'
 * outputs and log-sum-exps put back in place. The heads of one call share the token layout
 * (the plans' sequence length); a model whose head groups reorder tokens differently gathers per group
 * (runtime/cpu and runtime/cuda model-attention).
 */
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
  // One call per plan, over the heads that share it wherever they sit.
  const groups = new Map<BlockPlan, number[]>();
  perHead.forEach((plan, head) => {
    groups.set(plan, [...(groups.get(plan) ?? []), head]);
  });
  if (groups.size === 1) return backend.attention(perHead[0]!, inputs, dtype);
  const whole = attentionStrides(layout, S, H, D);
  let out: Float64Array | Float32Array | null = null;
  let lse: Float64Array | Float32Array | null = null;
  for (const [plan, heads] of groups) {
    const G = heads.length;
    const part = attentionStrides(layout, S, G, D);
    // Element (b, s, g, d) of the group's operand is element (b, s, heads[g], d) of the whole one.
    const slice = (x: ArrayLike<number>) => {
      const y = new Float64Array(B * S * G * D);
      for (let b = 0; b < B; b++)
        for (let s = 0; s < S; s++)
          heads.forEach((head, g) => {
            const from = b * whole.batch + s * whole.seq + head * whole.head;
            const to = b * part.batch + s * part.seq + g * part.head;
            for (let d = 0; d < D; d++) y[to + d] = x[from + d]!;
          });
      return y;
    };
    const got = await backend.attention(
      plan,
      { ...inputs, q: slice(inputs.q), k: slice(inputs.k), v: slice(inputs.v), heads: G },
      dtype,
    );
    const make = (like: Float64Array | Float32Array, n: number) =>
      like instanceof Float32Array ? new Float32Array(n) : new Float64Array(n);
    out ??= make(got.out, B * S * H * D);
    lse ??= make(got.lse, B * H * S);
    for (let b = 0; b < B; b++)
      heads.forEach((head, g) => {
        lse!.set(got.lse.subarray((b * G + g) * S, (b * G + g + 1) * S), (b * H + head) * S);
        for (let s = 0; s < S; s++) {
          const from = b * part.batch + s * part.seq + g * part.head;
          out!.set(got.out.subarray(from, from + D), b * whole.batch + s * whole.seq + head * whole.head);
        }
      });
  }
  return { out: out!, lse: lse! };
}
