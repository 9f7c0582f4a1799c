/**
 * Per-head self-attention specs (`kind: 'heads'`) as the backends and the sequence-parallel ops use them:
 * split into runs of adjacent heads that share one spec (one kernel call each, on a strided view of the run's
 * columns), and cut to the heads one rank holds.
 */
import { type HeadRun, headRuns } from '../compiler/plan/head-plans.js';
import { TensorError } from '../core/tensor.js';
import type { HeadAttentionSpec, SelfAttentionSpec } from './model-ops.js';

/**
 * The runs of adjacent heads sharing a spec, for a call with `heads` heads: one run of every head for a spec
 * that is the same for all. A per-head spec must give exactly `heads` entries.
 */
export function attentionRuns(spec: SelfAttentionSpec, heads: number): HeadRun<HeadAttentionSpec>[] {
  if (spec.kind !== 'heads') return [{ first: 0, count: heads, value: spec }];
  if (spec.perHead.length !== heads)
    throw new TensorError(
      'self-attention',
      `the layer's per-head spec covers ${spec.perHead.length} heads but the call has ${heads}`,
    );
  return headRuns(spec.perHead);
}

/**
 * The spec of heads `first .. first + count - 1` (a Ulysses rank's head group): the spec itself when it is the
 * same for every head, else the slice, folded to one spec when the slice's heads share it.
 */
export function headsOfSpec(spec: SelfAttentionSpec, first: number, count: number): SelfAttentionSpec {
  if (spec.kind !== 'heads') return spec;
  if (first < 0 || first + count > spec.perHead.length)
    throw new TensorError(
      'self-attention',
      `heads ${first}-${first + count - 1} are outside the layer's ${spec.perHead.length} per-head specs`,
    );
  const perHead = spec.perHead.slice(first, first + count);
  return perHead.every((s) => s === perHead[0]) ? perHead[0]! : { kind: 'heads', perHead };
}

/** The runs of each distinct spec, in order of first head: what one launch over a head map covers. */
export function headGroups<T>(runs: readonly HeadRun<T>[]): { spec: T; runs: HeadRun<T>[] }[] {
  const groups = new Map<T, HeadRun<T>[]>();
  for (const run of runs) groups.set(run.value, [...(groups.get(run.value) ?? []), run]);
  return [...groups.entries()].map(([spec, r]) => ({ spec, runs: r }));
}
