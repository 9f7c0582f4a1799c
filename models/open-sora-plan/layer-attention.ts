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
import type { HeadPlans } from '../../compiler/plan/head-plans.js';
import { layoutTokenMap, type PlannedAttention } from '../../compiler/plan/token-map.js';
import type { HeadAttentionSpec, SelfAttentionSpec, TokenGrid } from '../../runtime/model-ops.js';

/**
 * One spec per layer of a compiled layer plan; a layer that splits its heads gets a spec per head. Layers and
 * heads of one block plan share one spec object.
 */
export function layerAttention(compiled: CompiledLayerPlan): SelfAttentionSpec[] {
  const specs = new Map<PlannedAttention, HeadAttentionSpec>();
  const specOf = (planned: PlannedAttention): HeadAttentionSpec => {
    if (!specs.has(planned)) specs.set(planned, { kind: 'plan', ...planned });
    return specs.get(planned)!;
  };
  const split = new Map<HeadPlans, SelfAttentionSpec>();
  return compiled.layers.map((layer) => {
    if (!('perHead' in layer)) return specOf(layer);
    if (!split.has(layer)) split.set(layer, { kind: 'heads', perHead: layer.perHead.map(specOf) });
    return split.get(layer)!;
  });
}

/** Self-attention through `pattern`'s block plan at the given block sizes. */
export function planAttention(
  pattern: PatternInstance,
  grid: TokenGrid,
  blocks: PlanBlockSizes = DEFAULT_PLAN_BLOCKS,
): HeadAttentionSpec {
  const tokenOf = layoutTokenMap(pattern, grid);
  return { kind: 'plan', plan: buildPlan(pattern, blocks.blockQ, blocks.blockK), tokenOf };
}

/**
 * Dense self-attention under `pattern`'s element mask, evaluated pair by pair (no block plan): the oracle a
 * plan-driven layer is compared with.
 */
export function maskedAttention(pattern: PatternInstance, grid: TokenGrid): HeadAttentionSpec {
  const tokenOf = layoutTokenMap(pattern, grid);
  const indexOf = new Int32Array(grid.frames * grid.height * grid.width);
  tokenOf.forEach((token, i) => {
    if (token >= 0) indexOf[token] = i;
  });
  const mask = compiledElementMask(pattern);
  return { kind: 'masked', allowed: (q, k) => mask(indexOf[q]!, indexOf[k]!) };
}
