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
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

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

/** A validated layer plan: one instance name per layer. */
export interface LayerPlan {
  readonly layers: number;
  readonly sizes: Readonly<Record<string, number>>;
  readonly patterns: Readonly<Record<string, LayerPatternRef>>;
  /** Instance name per layer, index = layer. */
  readonly assignment: readonly string[];
}

/** A layer plan file that is malformed; the message names the file and the JSON path. */
export class LayerPlanError extends Error {
  constructor(
    readonly file: string,
    readonly path: string,
    detail: string,
  ) {
    super(`${file}: ${path}: ${detail}`);
    this.name = 'LayerPlanError';
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
  const fallback = json.default === undefined ? null : checkName('$.default', json.default);
  const assignment: (string | null)[] = Array.from({ length: layers as number }, () => fallback);
  if (json.assign !== undefined) {
    if (!isRecord(json.assign))
      fail('$.assign', 'expected an object mapping layer indices to instance names');
    for (const [index, value] of Object.entries(json.assign as Record<string, unknown>)) {
      const layer = Number(index);
      if (!/^\d+$/.test(index) || layer >= (layers as number))
        fail(`$.assign.${index}`, `layer index must be an integer from 0 to ${(layers as number) - 1}`);
      assignment[layer] = checkName(`$.assign.${index}`, value);
    }
  }
  const missing = assignment.indexOf(null);
  if (missing >= 0)
    fail('$.default', `layer ${missing} has no pattern: give "default" or assign every layer`);
  return { layers: layers as number, sizes, patterns, assignment: assignment as string[] };
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

/** The plan as file JSON again (assignments written out for layers that differ from the most common one). */
export function formatLayerPlan(plan: LayerPlan): string {
  const counts = new Map<string, number>();
  for (const name of plan.assignment) counts.set(name, (counts.get(name) ?? 0) + 1);
  const fallback = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]![0];
  const assign: Record<string, string> = {};
  plan.assignment.forEach((name, layer) => {
    if (name !== fallback) assign[String(layer)] = name;
  });
  const patterns = Object.fromEntries(
    Object.entries(plan.patterns).map(([name, ref]) => [
      name,
      {
        ...(ref.builtin !== null ? { builtin: ref.builtin } : { file: ref.file }),
        ...(ref.pattern !== null ? { pattern: ref.pattern } : {}),
        ...(Object.keys(ref.params).length > 0 ? { params: ref.params } : {}),
      },
    ]),
  );
  return `${JSON.stringify({ format: FORMAT, layers: plan.layers, sizes: plan.sizes, patterns, default: fallback, assign }, null, 2)}\n`;
}
