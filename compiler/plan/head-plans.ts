/**
 * Block plans per head: a layer whose heads attend through different patterns (Sparse VideoGen's spatial and
 * temporal heads, a window per head). Heads that share a plan share the one object, so a runtime finds the
 * groups by identity and builds each group's tables once.
 */
import type { PlannedAttention } from './token-map.js';

/** The planned attention of every head of a layer (index = head); heads of one group share one object. */
export interface HeadPlans {
  readonly perHead: readonly PlannedAttention[];
}

/** What a layer runs: one plan for all its heads, or a plan per head. */
export type LayerAttentionPlan = PlannedAttention | HeadPlans;

/** Per-head plans, with heads whose plans are equal (same key and token map) folded onto one object. */
export function headPlans(perHead: readonly PlannedAttention[]): HeadPlans {
  const byKey = new Map<string, PlannedAttention>();
  return {
    perHead: perHead.map((planned) => {
      const same = byKey.get(planned.plan.key);
      if (same && sameTokens(same.tokenOf, planned.tokenOf)) return same;
      byKey.set(planned.plan.key, planned);
      return planned;
    }),
  };
}

function sameTokens(a: Int32Array, b: Int32Array): boolean {
  return a === b || (a.length === b.length && a.every((t, i) => t === b[i]));
}

/** A contiguous run of heads `first .. first + count - 1` that share one value. */
export interface HeadRun<T> {
  readonly first: number;
  readonly count: number;
  readonly value: T;
}

/**
 * Contiguous runs of heads whose entries are the same object: what a runtime launches one kernel for (a run's
 * heads are adjacent columns of Q, K, V, so a run is a strided view with no copy).
 */
export function headRuns<T>(perHead: readonly T[]): HeadRun<T>[] {
  const runs: HeadRun<T>[] = [];
  perHead.forEach((value, head) => {
    const last = runs[runs.length - 1];
    if (last && last.value === value) runs[runs.length - 1] = { ...last, count: last.count + 1 };
    else runs.push({ first: head, count: 1, value });
  });
  return runs;
}

/** The planned attention of head `head` of a layer. */
export function plannedOfHead(layer: LayerAttentionPlan, head: number): PlannedAttention {
  return 'perHead' in layer ? layer.perHead[head]! : layer;
}
