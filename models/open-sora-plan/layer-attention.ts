/**
 * Self-attention specs of the graph's layers: from a compiled layer plan (compiler/layer-plan.ts `planLayers`,
 * the one producer of block plans from a layer plan), and, for tests and the search, from a single pattern
 * instance: as a block plan, or as its element mask evaluated pair by pair (the oracle a planned layer is
 * compared with).
 */
import { compiledElementMask } from '../../compiler/classify/element-mask.js';
import type { PatternInstance } from '../../compiler/ir.js';
import {
  type CompiledLayerPlan,
  DEFAULT_PLAN_BLOCKS,
  type PlanBlockSizes,
} from '../../compiler/layer-plan.js';
import { buildPlan } from '../../compiler/plan/build.js';
import { layoutTokenMap } from '../../compiler/plan/token-map.js';
import type { SelfAttentionSpec, TokenGrid } from '../../runtime/model-ops.js';

/** One spec per layer of a compiled layer plan (layers of one instance share the same plan object). */
export function layerAttention(compiled: CompiledLayerPlan): SelfAttentionSpec[] {
  const specs = new Map<string, SelfAttentionSpec>();
  for (const [name, planned] of compiled.instances) specs.set(name, { kind: 'plan', ...planned });
  return compiled.plan.assignment.map((name) => specs.get(name)!);
}

/** Self-attention through `pattern`'s block plan at the given block sizes. */
export function planAttention(
  pattern: PatternInstance,
  grid: TokenGrid,
  blocks: PlanBlockSizes = DEFAULT_PLAN_BLOCKS,
): SelfAttentionSpec {
  const tokenOf = layoutTokenMap(pattern, grid);
  return { kind: 'plan', plan: buildPlan(pattern, blocks.blockQ, blocks.blockK), tokenOf };
}

/**
 * Dense self-attention under `pattern`'s element mask, evaluated pair by pair (no block plan): the oracle a
 * plan-driven layer is compared with.
 */
export function maskedAttention(pattern: PatternInstance, grid: TokenGrid): SelfAttentionSpec {
  const tokenOf = layoutTokenMap(pattern, grid);
  const indexOf = new Int32Array(grid.frames * grid.height * grid.width);
  tokenOf.forEach((token, i) => {
    if (token >= 0) indexOf[token] = i;
  });
  const mask = compiledElementMask(pattern);
  return { kind: 'masked', allowed: (q, k) => mask(indexOf[q]!, indexOf[k]!) };
}
