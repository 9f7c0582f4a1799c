/**
 * The masks a layer may take (SPEC §1.3): pattern instances, built-in or from `.tile` files, compiled on the
 * model's token grid through `planLayers` (the one producer of block plans) and ordered by predicted cost, the
 * computed blocks, sparsest first. A candidate whose mask allows every pair is full attention: its error is 0 by
 * definition, and a layer falls back to it when no sparser candidate stays under the threshold.
 *
 * On the command line a candidate is `NAME[:k=v[,k=v...]]` (a built-in pattern) or `FILE.tile[#PATTERN][:k=v...]`;
 * a list is comma-separated, and an item with `=` but no `:` continues the parameters of the item before it
 * (`sliding_tile:wt=3,wh=3,ww=3,full`).
 */
import { existsSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import type { CompileCache } from '../compiler/cache.js';
import {
  DEFAULT_PLAN_BLOCKS,
  type LayerPatternRef,
  LayerPlanError,
  type PlanBlockSizes,
  planLayers,
} from '../compiler/layer-plan.js';
import { parseAssignments } from '../compiler/options.js';
import { plannedOfHead } from '../compiler/plan/head-plans.js';
import type { BlockPlan } from '../compiler/plan/plan.js';
import { computedPairs } from '../compiler/report.js';
import { OptionError, UserError } from '../core/errors.js';
import { TesseraError } from '../dsl/diagnostics.js';
import { layerAttention } from '../models/open-sora-plan/layer-attention.js';
import type { SelfAttentionSpec, TokenGrid } from '../runtime/model-ops.js';

/** A candidate as named: where its pattern comes from and how it is instantiated. */
export interface CandidateSpec {
  /** What the user wrote (messages quote it). */
  readonly text: string;
  readonly ref: LayerPatternRef;
}

/** A candidate compiled on the model's token grid. */
export interface SearchCandidate {
  /** What the user wrote, or the default list's spelling. */
  readonly text: string;
  /** Instance name in the plans written (`tile_2_6`, `full`, `frame_window_r1`). */
  readonly name: string;
  /** Short label for tables and pictures (`2:6`, `full`, `frame_window r=1`). */
  readonly label: string;
  readonly ref: LayerPatternRef;
  readonly plan: BlockPlan;
  /** What the model's self-attention runs for it. */
  readonly attention: SelfAttentionSpec;
  /** Computed block pairs (full + partial) at the plan's block size: the predicted cost. */
  readonly computedBlocks: number;
  /** Element pairs inside computed blocks (the attention work the kernels do). */
  readonly computedPairs: number;
  /** Skipped share of block pairs. */
  readonly sparsity: number;
  /** The mask allows every pair: full attention, error 0 by definition. */
  readonly dense: boolean;
}

/** A candidate that cannot be used on this model (does not compile for its grid, or repeats another). */
export class CandidateError extends UserError {}

const FULL: LayerPatternRef = { builtin: 'full', file: null, pattern: null, params: {} };

/** Parse `--candidates`; `.tile` paths are resolved against `cwd`. */
export function parseCandidates(text: string, cwd = process.cwd()): CandidateSpec[] {
  const items: string[] = [];
  for (const raw of text.split(',').map((s) => s.trim())) {
    if (raw === '') continue;
    const continues = raw.includes('=') && !raw.includes(':') && items.length > 0;
    if (continues) items[items.length - 1] += `,${raw}`;
    else items.push(raw);
  }
  if (items.length === 0)
    throw new OptionError('--candidates: expected a comma-separated list, e.g. full,attention_tile:a=2');
  return items.map((item) => parseCandidate(item, cwd));
}

function parseCandidate(item: string, cwd: string): CandidateSpec {
  const colon = item.indexOf(':');
  const head = colon < 0 ? item : item.slice(0, colon);
  const params = colon < 0 ? {} : parseAssignments([item.slice(colon + 1)], `--candidates: ${item}`, true);
  const [source, pattern] = head.split('#') as [string, string | undefined];
  if (source.endsWith('.tile')) {
    const file = resolve(cwd, source);
    if (!existsSync(file)) throw new OptionError(`--candidates: ${item}: no such file ${file}`);
    return { text: item, ref: { builtin: null, file, pattern: pattern ?? null, params } };
  }
  if (pattern !== undefined)
    throw new OptionError(`--candidates: ${item}: "#pattern" picks a pattern of a .tile file`);
  return { text: item, ref: { builtin: source, file: null, pattern: null, params } };
}

/**
 * The default list for `frames` latent frames: full attention and the Attention Tile masks whose stride divides
 * the frame count (a = T / s for every divisor s > 1 of T: 4:4, 2:6, 1:7 at T = 8), so the global frames fall
 * evenly (SPEC §1.2, §1.3).
 */
export function defaultCandidates(frames: number): CandidateSpec[] {
  const specs: CandidateSpec[] = [{ text: 'full', ref: FULL }];
  for (let stride = 2; stride <= frames; stride++) {
    if (frames % stride !== 0) continue;
    const a = frames / stride;
    specs.push({
      text: `attention_tile:a=${a}`,
      ref: { builtin: 'attention_tile', file: null, pattern: null, params: { a } },
    });
  }
  return specs;
}

/** The instance name and label of a compiled candidate. */
function naming(plan: BlockPlan, ref: LayerPatternRef, frames: number): { name: string; label: string } {
  const { name: pattern, params } = plan.pattern;
  const a = params.a;
  if (ref.builtin === 'attention_tile' && typeof a === 'number')
    return { name: `tile_${a}_${frames - a}`, label: `${a}:${frames - a}` };
  const entries = Object.entries(params).sort(([x], [y]) => x.localeCompare(y));
  const base = ref.file === null ? pattern : `${basename(ref.file, '.tile')}_${pattern}`;
  const name = [base, ...entries.map(([k, v]) => `${k}${v === true ? '' : v === false ? '0' : v}`)]
    .join('_')
    .replace(/[^A-Za-z0-9_]/g, '_');
  const label =
    entries.length === 0 ? pattern : `${pattern} ${entries.map(([k, v]) => `${k}=${v}`).join(',')}`;
  return { name, label };
}

/**
 * Compile every candidate on `grid` (each through the compile cache), add full attention when no candidate is
 * dense, and order them by computed blocks, sparsest first (ties: fewer allowed pairs first, then the order given). A
 * candidate that does not compile for the grid, or that is the same instance as another, is a
 * {@link CandidateError} naming it.
 */
export async function compileCandidates(
  specs: readonly CandidateSpec[],
  grid: TokenGrid,
  blocks: PlanBlockSizes = DEFAULT_PLAN_BLOCKS,
  cache?: CompileCache | null,
): Promise<SearchCandidate[]> {
  const compiled: SearchCandidate[] = [];
  const where = `the ${grid.frames} x ${grid.height} x ${grid.width} token grid`;
  for (const spec of specs) {
    const plan = {
      file: '--candidates',
      layers: 1,
      sizes: {},
      patterns: { candidate: spec.ref },
      assignment: ['candidate'],
    };
    let attention: SelfAttentionSpec;
    let block: BlockPlan;
    try {
      const layers = await planLayers(plan, grid, blocks, cache);
      attention = layerAttention(layers)[0]!;
      block = plannedOfHead(layers.layers[0]!, 0).plan;
    } catch (error) {
      if (error instanceof TesseraError || error instanceof LayerPlanError || error instanceof OptionError) {
        const detail = error.message.replace(/^--candidates: \$\.patterns\.candidate(\.\w+)?: /, '');
        throw new CandidateError(
          `--candidates: "${spec.text}" does not compile for ${where}:\n  ${detail.split('\n').join('\n  ')}`,
        );
      }
      throw error;
    }
    const { name, label } = naming(block, spec.ref, grid.frames);
    const twin = compiled.find((c) => c.plan.key === block.key);
    if (twin)
      throw new CandidateError(
        `--candidates: "${spec.text}" is the same mask as "${twin.text}" (${block.key})`,
      );
    const real = block.stats.realTokens;
    compiled.push({
      text: spec.text,
      name,
      label,
      ref: spec.ref,
      plan: block,
      attention,
      computedBlocks: block.stats.full + block.stats.partial,
      computedPairs: computedPairs(block),
      sparsity: block.stats.sparsity,
      dense: block.stats.allowedPairs === real * real,
    });
  }
  if (!compiled.some((c) => c.dense)) {
    const [full] = await compileCandidates([{ text: 'full', ref: FULL }], grid, blocks, cache);
    compiled.push(full!);
  }
  // Equal block counts (small grids, coarse blocks): the mask allowing fewer pairs first, then the order given.
  return compiled
    .map((c, i) => ({ c, i }))
    .sort(
      (x, y) =>
        x.c.computedBlocks - y.c.computedBlocks ||
        x.c.plan.stats.allowedPairs - y.c.plan.stats.allowedPairs ||
        x.i - y.i,
    )
    .map(({ c }) => c);
}
