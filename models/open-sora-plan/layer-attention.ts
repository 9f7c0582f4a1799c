/**
 * Per-layer self-attention for the graph: a layer plan file (compiler/layer-plan.ts) resolved to one
 * {@link SelfAttentionSpec} per layer. Each named pattern instance is compiled once on the model's token grid
 * (layout sizes t, h, w = latent frames and patch rows / columns) and its block plan built; the plan's layout
 * order is mapped back to the graph's frame-major token order, so tiled or padded layouts work too.
 */
import { compiledElementMask } from '../../compiler/classify/element-mask.js';
import { compileSource } from '../../compiler/frontend.js';
import type { PatternInstance } from '../../compiler/ir.js';
import { type LayerPatternRef, type LayerPlan, LayerPlanError } from '../../compiler/layer-plan.js';
import { layerPatternSource } from '../../compiler/layer-plans.js';
import { decodeToken } from '../../compiler/layout.js';
import { buildPlan } from '../../compiler/plan/build.js';
import { TensorError } from '../../core/tensor.js';
import type { SelfAttentionSpec, TokenGrid } from '../../runtime/model-ops.js';

/** Block sizes of the plans (the kernels' tile; 128 x 128 by default, SPEC §1.2). */
export interface PlanBlockSizes {
  readonly blockQ: number;
  readonly blockK: number;
}

const DEFAULT_BLOCKS: PlanBlockSizes = { blockQ: 128, blockK: 128 };

/** Natural (frame-major) token of each index of the pattern's layout, -1 for padding; checks the layout fits. */
export function layoutTokenMap(pattern: PatternInstance, grid: TokenGrid): Int32Array {
  const layout = pattern.layout;
  const want = [grid.frames, grid.height, grid.width];
  if (layout.textAxis !== null) {
    throw new TensorError(
      'self-attention',
      `pattern '${pattern.key}' has a text segment, but the model's self-attention covers video tokens only`,
    );
  }
  if (layout.videoSizes.length !== 3 || layout.videoSizes.some((s, i) => s !== want[i])) {
    throw new TensorError(
      'self-attention',
      `pattern '${pattern.key}' is laid out on [${layout.videoSizes.join(', ')}] but the model's tokens are [${want.join(', ')}] (t, h, w)`,
    );
  }
  const tokenOf = new Int32Array(layout.length);
  const coords: number[] = [];
  for (let i = 0; i < layout.length; i++) {
    const token = decodeToken(layout, i, coords);
    tokenOf[i] = token === null ? -1 : (coords[0]! * grid.height + coords[1]!) * grid.width + coords[2]!;
  }
  return tokenOf;
}

/** Self-attention through `pattern`'s block plan at the given block sizes. */
export function planAttention(
  pattern: PatternInstance,
  grid: TokenGrid,
  blocks: PlanBlockSizes = DEFAULT_BLOCKS,
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

/** Compile one named instance of a layer plan on the grid. */
function instantiate(
  ref: LayerPatternRef,
  name: string,
  plan: LayerPlan,
  grid: TokenGrid,
  planFile: string,
): PatternInstance {
  const at = `$.patterns.${name}`;
  const { source, pattern: patternName } = layerPatternSource(ref, name, planFile);
  const gridSizes: Record<string, number> = { t: grid.frames, h: grid.height, w: grid.width };
  for (const [axis, size] of Object.entries(plan.sizes)) {
    if (axis in gridSizes && gridSizes[axis] !== size) {
      throw new LayerPlanError(
        planFile,
        `$.sizes.${axis}`,
        `is ${size} but the model's latent grid has ${axis} = ${gridSizes[axis]}`,
      );
    }
  }
  const pattern = compileSource(source, {
    pattern: patternName,
    params: ref.params,
    sizes: { ...plan.sizes, ...gridSizes },
  });
  try {
    layoutTokenMap(pattern, grid);
  } catch (e) {
    throw new LayerPlanError(planFile, at, (e as Error).message);
  }
  return pattern;
}

/**
 * One self-attention spec per layer from a layer plan. `layers` is the model's block count (the plan must
 * match it); instances used by several layers are compiled and planned once.
 */
export function resolveLayerPlan(
  plan: LayerPlan,
  layers: number,
  grid: TokenGrid,
  options: { readonly blocks?: PlanBlockSizes; readonly planFile?: string } = {},
): SelfAttentionSpec[] {
  const planFile = options.planFile ?? '<layer plan>';
  if (plan.layers !== layers) {
    throw new LayerPlanError(
      planFile,
      '$.layers',
      `the plan has ${plan.layers} layers but the model has ${layers}`,
    );
  }
  const specs = new Map<string, SelfAttentionSpec>();
  return plan.assignment.map((name) => {
    let spec = specs.get(name);
    if (!spec) {
      const pattern = instantiate(plan.patterns[name]!, name, plan, grid, planFile);
      spec = planAttention(pattern, grid, options.blocks ?? DEFAULT_BLOCKS);
      specs.set(name, spec);
    }
    return spec;
  });
}
