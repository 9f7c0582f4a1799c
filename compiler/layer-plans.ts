/**
 * Per-layer plans compiled: every named instance of a layer plan file goes through `compile()` once (and
 * through the plan cache), and each layer gets the block plan of its instance. The model runtime and
 * `tessera layers` both use this.
 */
import { readFileSync } from 'node:fs';
import type { SourceFile } from '../dsl/source.js';
import { findBuiltinPattern } from '../patterns/index.js';
import type { CompileCache } from './cache.js';
import { compile } from './compile.js';
import { type LayerPatternRef, type LayerPlan, LayerPlanError } from './layer-plan.js';
import { makeCompileOptions } from './options.js';
import type { BlockPlan } from './plan/plan.js';
import { computedPairs } from './report.js';

/** A layer plan with every instance compiled. */
export interface CompiledLayerPlan {
  readonly plan: LayerPlan;
  /** Block plan per instance name. */
  readonly instances: ReadonlyMap<string, BlockPlan>;
  /** Block plan per layer (index = layer). */
  readonly layers: readonly BlockPlan[];
}

/**
 * The `.tile` source of one named instance of a layer plan (a built-in pattern or a file) and the pattern's
 * name in it. `planFile` names the plan in errors.
 */
export function layerPatternSource(
  ref: LayerPatternRef,
  name: string,
  planFile: string,
): { source: SourceFile; pattern: string | undefined } {
  const at = `$.patterns.${name}`;
  let path = ref.file;
  let pattern = ref.pattern ?? undefined;
  if (ref.builtin !== null) {
    const builtin = findBuiltinPattern(ref.builtin);
    if (!builtin)
      throw new LayerPlanError(planFile, `${at}.builtin`, `no built-in pattern named "${ref.builtin}"`);
    path = builtin.file;
    pattern = builtin.name;
  }
  try {
    return { source: { name: path!, text: readFileSync(path!, 'utf8') }, pattern };
  } catch (error) {
    throw new LayerPlanError(
      planFile,
      `${at}.file`,
      `cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
    );
  }
}

/** Compile every instance of `plan` at the given block sizes. */
export async function compileLayerPlan(
  plan: LayerPlan,
  blockQ: number,
  blockK: number,
  cache?: CompileCache | null,
  planFile = '<layer plan>',
): Promise<CompiledLayerPlan> {
  const instances = new Map<string, BlockPlan>();
  for (const [name, ref] of Object.entries(plan.patterns)) {
    const { source, pattern } = layerPatternSource(ref, name, planFile);
    const options = makeCompileOptions({
      pattern,
      params: ref.params,
      sizes: plan.sizes,
      blockQ,
      blockK,
      targets: [],
    });
    const { outputs } = await compile({
      source,
      options,
      ...(cache !== undefined ? { cache } : {}),
    });
    instances.set(name, outputs.plan!);
  }
  const lengths = new Set([...instances.values()].map((p) => p.seqLen));
  if (lengths.size > 1) {
    throw new LayerPlanError(
      planFile,
      '$.patterns',
      `instances disagree on the sequence length (${[...lengths].join(', ')} tokens): every layer must see the same tokens`,
    );
  }
  return { plan, instances, layers: plan.assignment.map((name) => instances.get(name)!) };
}

/**
 * Attention work of the whole stack relative to dense attention in every layer: the speedup of the
 * attention part that the computed blocks predict.
 */
export function layerPlanSpeedup(compiled: CompiledLayerPlan): number {
  const real = compiled.layers[0]!.stats.realTokens;
  const dense = real * real * compiled.layers.length;
  const computed = compiled.layers.reduce((sum, p) => sum + computedPairs(p), 0);
  return computed === 0 ? Number.POSITIVE_INFINITY : dense / computed;
}
