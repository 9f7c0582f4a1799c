/**
 * Per-layer plans: which pattern instance each transformer layer's self-attention uses (SPEC §1.3, the
 * outcome of the layer-wise search). A plan file is JSON:
 *
 *   {
 *     "format": "tessera.layer-plan/1",
 *     "layers": 32,
 *     "sizes": { "t": 8, "h": 45, "w": 80 },             // layout sizes shared by every entry
 *     "patterns": {                                       // named instances
 *       "full": { "builtin": "full" },
 *       "tile_1_7": { "builtin": "attention_tile", "params": { "a": 1 } },
 *       "mine": { "file": "my-pattern.tile", "pattern": "mine", "params": { "w": 2 } }
 *     },
 *     "default": "tile_1_7",                              // layers not listed below
 *     "assign": { "0": "full", "1": "full", "31": "full" }  // layer index -> instance name
 *   }
 *
 * `file` paths are relative to the plan file. Every problem is reported with its JSON path.
 *
 * A layer (or the default) may also split its heads between instances, given the model's head count:
 *
 *     "heads": 24,
 *     "assign": { "5": { "heads": { "0-11": "spatial", "12-23": "temporal" } } }
 *
 * (compiler/layer-heads.ts). Heads whose instances compile to the same block plan share it.
 *
 * A plan written by `tessera search` also holds `"search"`: how it was found (the mode, the threshold r, the
 * metric, the candidates, the calibration inputs, the per-layer errors, the checkpoint's hash; see
 * {@link LayerPlanSearch}). Only `mode` and `threshold` are checked; the object is kept and written back as is.
 *
 * {@link planLayers} is the one place a layer plan becomes block plans: the model runtime, `tessera layers`,
 * the benchmarks and the search all go through it.
 */

import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, relative, resolve } from 'node:path';
import { UserError } from '../core/errors.js';
import { TensorError } from '../core/tensor.js';
import type { SourceFile } from '../dsl/source.js';
import { findBuiltinPattern } from '../patterns/index.js';
import type { CompileCache } from './cache.js';
import { sourceReadsHead } from './frontend.js';
import {
  choiceInstances,
  choiceKey,
  formatChoice,
  instancePerHead,
  type LayerChoice,
  parseHeadSplit,
} from './layer-heads.js';
import { makeCompileOptions } from './options.js';
import { compile } from './pipeline.js';
import { type HeadPlans, headPlans, type LayerAttentionPlan, plannedOfHead } from './plan/head-plans.js';
import { type PlannedAttention, plannedAttention, type TokenGrid } from './plan/token-map.js';
import { computedPairs } from './report.js';

/** Where one named instance's pattern comes from, and how it is instantiated. */
export interface LayerPatternRef {
  /** A built-in pattern name (patterns), or null when `file` is given. */
  readonly builtin: string | null;
  /** An absolute `.tile` path, or null for a built-in. */
  readonly file: string | null;
  /** The pattern's name inside the file, when the file holds several. */
  readonly pattern: string | null;
  readonly params: Readonly<Record<string, number | boolean>>;
}

/**
 * The search metadata of a plan written by `tessera search` (search/): `mode` and `threshold` are checked, every
 * other field (metric, candidates, calibration, per-layer errors, checkpoint hash, ...) is kept as given.
 */
export interface LayerPlanSearch {
  /** `independent` (every other layer full while a layer is tried) or `cumulative` (decided layers keep theirs). */
  readonly mode: 'independent' | 'cumulative';
  /** The error threshold r the plan was decided with. */
  readonly threshold: number;
  readonly [field: string]: unknown;
}

/** A validated layer plan: what each layer runs, an instance name or an instance per range of heads. */
export interface LayerPlan {
  /** The file it was read from (or a label), for messages. */
  readonly file: string;
  readonly layers: number;
  /** The model's attention heads per layer: given when a layer splits its heads, checked against the model. */
  readonly heads?: number;
  readonly sizes: Readonly<Record<string, number>>;
  readonly patterns: Readonly<Record<string, LayerPatternRef>>;
  /** What each layer runs, index = layer. */
  readonly assignment: readonly LayerChoice[];
  /** How `tessera search` found the plan, when it did. */
  readonly search?: LayerPlanSearch;
}

/** A layer plan file that is malformed; the message names the file and the JSON path. */
export class LayerPlanError extends UserError {
  constructor(
    readonly file: string,
    readonly path: string,
    detail: string,
  ) {
    super(`${file}: ${path}: ${detail}`);
  }
}

const FORMAT = 'tessera.layer-plan/1';

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Validate parsed JSON as a layer plan. `file` names the source in messages and anchors relative paths. */
export function parseLayerPlan(json: unknown, file: string): LayerPlan {
  const fail = (path: string, detail: string): never => {
    throw new LayerPlanError(file, path, detail);
  };
  if (!isRecord(json)) return fail('$', 'expected a JSON object');
  if (json.format !== FORMAT) fail('$.format', `expected "${FORMAT}", found ${JSON.stringify(json.format)}`);
  const layers = json.layers;
  if (typeof layers !== 'number' || !Number.isInteger(layers) || layers < 1 || layers > 4096) {
    fail('$.layers', `expected the layer count (an integer from 1 to 4096), found ${JSON.stringify(layers)}`);
  }
  const heads = json.heads;
  if (
    heads !== undefined &&
    (typeof heads !== 'number' || !Number.isInteger(heads) || heads < 1 || heads > 4096)
  )
    fail('$.heads', `expected the head count (an integer from 1 to 4096), found ${JSON.stringify(heads)}`);
  const sizes: Record<string, number> = {};
  if (json.sizes !== undefined) {
    if (!isRecord(json.sizes))
      fail('$.sizes', 'expected an object of layout sizes, e.g. {"t": 8, "h": 45, "w": 80}');
    for (const [name, value] of Object.entries(json.sizes as Record<string, unknown>)) {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 1)
        fail(`$.sizes.${name}`, `expected a positive integer, found ${JSON.stringify(value)}`);
      sizes[name] = value as number;
    }
  }
  if (!isRecord(json.patterns) || Object.keys(json.patterns).length === 0) {
    fail('$.patterns', 'expected an object with at least one named pattern instance');
  }
  const patterns: Record<string, LayerPatternRef> = {};
  for (const [name, entry] of Object.entries(json.patterns as Record<string, unknown>)) {
    const at = `$.patterns.${name}`;
    if (!isRecord(entry)) return fail(at, 'expected an object with "builtin" or "file"');
    const builtin = entry.builtin;
    const path = entry.file;
    if ((builtin === undefined) === (path === undefined))
      fail(at, 'give exactly one of "builtin" and "file"');
    if (builtin !== undefined && typeof builtin !== 'string')
      fail(`${at}.builtin`, 'expected a pattern name');
    if (typeof builtin === 'string' && !findBuiltinPattern(builtin))
      fail(`${at}.builtin`, `no built-in pattern named "${builtin}"`);
    if (path !== undefined && typeof path !== 'string') fail(`${at}.file`, 'expected a path to a .tile file');
    if (entry.pattern !== undefined && typeof entry.pattern !== 'string')
      fail(`${at}.pattern`, 'expected a pattern name');
    const params: Record<string, number | boolean> = {};
    if (entry.params !== undefined) {
      if (!isRecord(entry.params)) fail(`${at}.params`, 'expected an object of parameter values');
      for (const [p, v] of Object.entries(entry.params as Record<string, unknown>)) {
        if (typeof v === 'boolean' || (typeof v === 'number' && Number.isInteger(v))) params[p] = v;
        else fail(`${at}.params.${p}`, `expected an integer or a boolean, found ${JSON.stringify(v)}`);
      }
    }
    patterns[name] = {
      builtin: (builtin as string | undefined) ?? null,
      file: typeof path === 'string' ? resolve(dirname(file), path) : null,
      pattern: (entry.pattern as string | undefined) ?? null,
      params,
    };
  }
  const known = Object.keys(patterns);
  const checkName = (path: string, value: unknown): string => {
    if (typeof value !== 'string' || !(value in patterns)) {
      fail(path, `unknown pattern instance ${JSON.stringify(value)}; known: ${known.join(', ')}`);
    }
    return value as string;
  };
  const checkChoice = (path: string, value: unknown): LayerChoice =>
    isRecord(value)
      ? parseHeadSplit(value, path, (heads as number | undefined) ?? null, checkName, fail)
      : checkName(path, value);
  const fallback = json.default === undefined ? null : checkChoice('$.default', json.default);
  const assignment: (LayerChoice | null)[] = Array.from({ length: layers as number }, () => fallback);
  if (json.assign !== undefined) {
    if (!isRecord(json.assign))
      fail('$.assign', 'expected an object mapping layer indices to instance names');
    for (const [index, value] of Object.entries(json.assign as Record<string, unknown>)) {
      const layer = Number(index);
      if (!/^\d+$/.test(index) || layer >= (layers as number))
        fail(`$.assign.${index}`, `layer index must be an integer from 0 to ${(layers as number) - 1}`);
      assignment[layer] = checkChoice(`$.assign.${index}`, value);
    }
  }
  const missing = assignment.indexOf(null);
  if (missing >= 0)
    fail('$.default', `layer ${missing} has no pattern: give "default" or assign every layer`);
  const plan = {
    file,
    layers: layers as number,
    ...(heads !== undefined ? { heads: heads as number } : {}),
    sizes,
    patterns,
    assignment: assignment as LayerChoice[],
  };
  return json.search === undefined ? plan : { ...plan, search: parseSearch(json.search, fail) };
}

/** The `search` object: checked where the tools read it (mode, threshold), kept as given otherwise. */
function parseSearch(json: unknown, fail: (path: string, detail: string) => never): LayerPlanSearch {
  if (!isRecord(json)) return fail('$.search', 'expected an object (the metadata of `tessera search`)');
  if (json.mode !== 'independent' && json.mode !== 'cumulative')
    fail('$.search.mode', `expected "independent" or "cumulative", found ${JSON.stringify(json.mode)}`);
  const r = json.threshold;
  if (typeof r !== 'number' || !Number.isFinite(r) || r < 0)
    fail('$.search.threshold', `expected a non-negative number, found ${JSON.stringify(r)}`);
  return json as LayerPlanSearch;
}

/** Read and validate a layer plan file. */
export async function readLayerPlan(path: string): Promise<LayerPlan> {
  const text = await readFile(path, 'utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new LayerPlanError(path, '$', `not valid JSON (${(error as Error).message})`);
  }
  return parseLayerPlan(json, path);
}

/**
 * The plan as file JSON again (assignments written out for layers that differ from the most common one).
 * `.tile` paths are written relative to `relativeTo` (the folder the file goes to) when given, absolute otherwise.
 */
export function formatLayerPlan(plan: LayerPlan, relativeTo?: string): string {
  const counts = new Map<string, number>();
  for (const choice of plan.assignment)
    counts.set(choiceKey(choice), (counts.get(choiceKey(choice)) ?? 0) + 1);
  const commonest = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]![0];
  const fallback = plan.assignment.find((choice) => choiceKey(choice) === commonest)!;
  const assign: Record<string, ReturnType<typeof formatChoice>> = {};
  plan.assignment.forEach((choice, layer) => {
    if (choiceKey(choice) !== commonest) assign[String(layer)] = formatChoice(choice);
  });
  const patterns = Object.fromEntries(
    Object.entries(plan.patterns).map(([name, ref]) => [
      name,
      {
        ...(ref.builtin !== null
          ? { builtin: ref.builtin }
          : { file: relativeTo === undefined ? ref.file : relative(relativeTo, ref.file!) }),
        ...(ref.pattern !== null ? { pattern: ref.pattern } : {}),
        ...(Object.keys(ref.params).length > 0 ? { params: ref.params } : {}),
      },
    ]),
  );
  const search = plan.search === undefined ? {} : { search: plan.search };
  const heads = plan.heads === undefined ? {} : { heads: plan.heads };
  return `${JSON.stringify({ format: FORMAT, layers: plan.layers, ...heads, sizes: plan.sizes, patterns, default: formatChoice(fallback), assign, ...search }, null, 2)}\n`;
}

/** Block sizes of the plans (the kernels' tile). */
export interface PlanBlockSizes {
  readonly blockQ: number;
  readonly blockK: number;
}

/** 128 x 128, the kernels' default tile (SPEC §1.2). */
export const DEFAULT_PLAN_BLOCKS: PlanBlockSizes = { blockQ: 128, blockK: 128 };

/** A layer plan with every instance compiled on a token grid. */
export interface CompiledLayerPlan {
  readonly plan: LayerPlan;
  /** The model's latent token grid the plans are laid over. */
  readonly grid: TokenGrid;
  /** Block plan and token map per instance name; per head for an instance whose pattern reads `head`. */
  readonly instances: ReadonlyMap<string, LayerAttentionPlan>;
  /**
   * Block plan and token map per layer (index = layer), or per head for a layer that splits its heads; layers
   * and heads of one instance share it.
   */
  readonly layers: readonly LayerAttentionPlan[];
}

/** The `.tile` source of one named instance of a layer plan (a built-in pattern or a file) and its pattern name. */
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

/** The token grid a plan's own sizes describe (t, h, w), for tools that compile a plan without a model. */
export function layerPlanGrid(plan: LayerPlan): TokenGrid {
  const { t, h, w } = plan.sizes;
  if (t === undefined || h === undefined || w === undefined)
    throw new LayerPlanError(
      plan.file,
      '$.sizes',
      'give the latent grid as {"t": frames, "h": rows, "w": columns}',
    );
  return { frames: t, height: h, width: w };
}

/**
 * Compile every instance of `plan` on `grid` (layout sizes t, h, w = latent frames and patch rows / columns,
 * checked against the plan's own sizes) at the given block sizes, each once, through the compile cache, with
 * the token map that takes the plan's layout order back to the grid's frame-major tokens.
 */
export async function planLayers(
  plan: LayerPlan,
  grid: TokenGrid,
  blocks: PlanBlockSizes = DEFAULT_PLAN_BLOCKS,
  cache?: CompileCache | null,
): Promise<CompiledLayerPlan> {
  const gridSizes: Record<string, number> = { t: grid.frames, h: grid.height, w: grid.width };
  for (const [axis, size] of Object.entries(plan.sizes)) {
    if (axis in gridSizes && gridSizes[axis] !== size)
      throw new LayerPlanError(
        plan.file,
        `$.sizes.${axis}`,
        `is ${size} but the model's latent grid has ${axis} = ${gridSizes[axis]}`,
      );
  }
  const instances = new Map<string, LayerAttentionPlan>();
  // Instances that compile to the same block plan (same pattern, parameters and blocks) share one object, so
  // heads of a split layer that run them form one group with one set of tables.
  const byKey = new Map<string, PlannedAttention>();
  for (const [name, ref] of Object.entries(plan.patterns)) {
    const { source, pattern } = layerPatternSource(ref, name, plan.file);
    const compileFor = async (head?: number): Promise<PlannedAttention> => {
      const options = makeCompileOptions({
        pattern,
        params: ref.params,
        sizes: { ...plan.sizes, ...gridSizes },
        blockQ: blocks.blockQ,
        blockK: blocks.blockK,
        ...(head !== undefined ? { head } : {}),
      });
      const { outputs } = await compile({ source, options, ...(cache !== undefined ? { cache } : {}) });
      try {
        const planned = byKey.get(outputs.plan!.key) ?? plannedAttention(outputs.plan!, grid);
        byKey.set(planned.plan.key, planned);
        return planned;
      } catch (error) {
        if (error instanceof TensorError)
          throw new LayerPlanError(plan.file, `$.patterns.${name}`, error.message);
        throw error;
      }
    };
    if (!sourceReadsHead(source, pattern)) {
      instances.set(name, await compileFor());
      continue;
    }
    // A pattern that reads `head` is evaluated per head; heads whose predicates fold to the same one share a plan.
    if (plan.heads === undefined)
      throw new LayerPlanError(
        plan.file,
        '$.heads',
        `instance "${name}" reads \`head\`: give the model's head count ("heads": 24)`,
      );
    const byPredicate = new Map<string, PlannedAttention>();
    const perHead: PlannedAttention[] = [];
    for (let head = 0; head < plan.heads; head++) {
      const planned = await compileFor(head);
      const same = JSON.stringify(planned.plan.pattern.predicate);
      if (!byPredicate.has(same)) byPredicate.set(same, planned);
      perHead.push(byPredicate.get(same)!);
    }
    instances.set(name, { perHead });
  }
  const split = new Map<string, HeadPlans>();
  const layers = plan.assignment.map((choice): LayerAttentionPlan => {
    if (typeof choice === 'string') return instances.get(choice)!;
    const key = choiceKey(choice);
    if (!split.has(key)) {
      const names = instancePerHead(choice, plan.heads!);
      split.set(key, headPlans(names.map((name, head) => plannedOfHead(instances.get(name)!, head))));
    }
    return split.get(key)!;
  });
  return { plan, grid, instances, layers };
}

/** How many layers use instance `name` (in all their heads or in some). */
export function layersUsing(plan: LayerPlan, name: string): number {
  return plan.assignment.filter((choice) => choiceInstances(choice).includes(name)).length;
}

/**
 * Attention work of the whole stack relative to dense attention in every layer: the speedup of the attention
 * part that the computed blocks predict.
 */
export function layerPlanSpeedup(compiled: CompiledLayerPlan): number {
  const real = plannedOfHead(compiled.instances.values().next().value!, 0).plan.stats.realTokens;
  const dense = real * real * compiled.layers.length;
  // A split layer computes each head's plan: its share of a layer's work is the mean over its heads.
  const pairs = (layer: LayerAttentionPlan) =>
    'perHead' in layer
      ? layer.perHead.reduce((sum, head) => sum + computedPairs(head.plan), 0) / layer.perHead.length
      : computedPairs(layer.plan);
  const computed = compiled.layers.reduce((sum, layer) => sum + pairs(layer), 0);
  return computed === 0 ? Number.POSITIVE_INFINITY : dense / computed;
}
