/**
 * The layer-wise search's measurements (SPEC §1.3). For layer l and candidate c, the error is the relative L2
 * distance of the noise prediction with layer l masked by c against the full-attention model, averaged over the
 * calibration inputs; the error of layer l's own self-attention output is measured alongside. A layer takes the
 * sparsest candidate whose error is at most the threshold r, full attention if none.
 *
 * - independent mode (the paper's reading): every other layer keeps full attention while layer l is tried;
 * - cumulative mode: the layers already decided keep their masks while later layers are tried (errors add up).
 *   Thresholds that have decided alike so far share one path; a path splits where their decisions differ.
 *
 * Prefix caching: the input of layer l does not depend on layer l's mask, so it is computed once per calibration
 * input (and per path) by advancing the cached input of layer l - 1 through one block, and every candidate runs
 * only the suffix, layers l..L-1 and the output layer. The cache holds, per calibration input, the layer input
 * [B, N, D] of each live path (two while a layer advances), plus the input's adaLN modulation, projected
 * caption and embedded timestep; nothing per candidate. `recompute` runs every prefix again instead (tests).
 */
import { OptionError } from '../core/errors.js';
import { runBlocks } from '../models/open-sora-plan/blocks.js';
import type { OpenSoraNetwork } from '../models/open-sora-plan/network.js';
import type { OpTensor, SelfAttentionSpec } from '../runtime/model-ops.js';
import type { CalibrationInput } from './calibration.js';
import type { SearchCandidate } from './candidates.js';
import {
  advanceBlock,
  DENSE,
  DeviceDistance,
  outputError,
  type SelfAttentionProbe,
  type StagedInput,
  stageInput,
  suffixEpsilon,
} from './forward.js';

/** How errors add up across layers (see the module comment). */
export type SearchMode = 'independent' | 'cumulative';

/** The search modes, as the command line spells them. */
export const SEARCH_MODES: readonly SearchMode[] = ['independent', 'cumulative'];

/** What was measured at one layer, per candidate (index = candidate). */
export interface LayerMeasurement {
  readonly layer: number;
  /** Noise-prediction error, mean over calibration inputs. */
  readonly output: readonly number[];
  /** Noise-prediction error per candidate and calibration input. */
  readonly outputPerInput: readonly (readonly number[])[];
  /** Relative L2 of the layer's self-attention output against full attention on the same input, mean over inputs. */
  readonly attention: readonly number[];
}

/** One threshold's plan: a candidate per layer, and the measurements it was decided on. */
export interface ThresholdDecision {
  readonly threshold: number;
  /** Candidate index per layer. */
  readonly choices: readonly number[];
  /** Per layer: the whole matrix in independent mode; this threshold's own path in cumulative mode. */
  readonly rows: readonly LayerMeasurement[];
}

/** Where the time went, and what prefix caching saved. */
export interface SearchStats {
  /** Suffix forwards run (one per layer, sparse candidate, calibration input and path). */
  readonly suffixForwards: number;
  /** Wall milliseconds of the suffix forwards. */
  readonly suffixMs: number;
  /** Blocks the suffix forwards ran. */
  readonly suffixBlocks: number;
  /** Blocks evaluated in all (suffixes, prefixes, reference passes). */
  readonly blocks: number;
  /** Blocks the same measurements take when every suffix recomputes its prefix from layer 0. */
  readonly blocksWithoutCache: number;
  /** Wall milliseconds of the whole measurement. */
  readonly ms: number;
  /** Most cached layer inputs [B, N, D] held at once (a layer's inputs and the next layer's, while it advances). */
  readonly cachedInputs: number;
  /** Most elements the cache held at once (those layer inputs and the staged context of every input). */
  readonly cachedElements: number;
}

/** The measurements and every threshold's decisions. */
export interface SearchResult {
  readonly mode: SearchMode;
  readonly candidates: readonly SearchCandidate[];
  /** Ascending, without repeats. */
  readonly thresholds: readonly number[];
  readonly decisions: readonly ThresholdDecision[];
  /** The layer x candidate matrix of the report (cumulative: the smallest threshold's path). */
  readonly matrix: readonly LayerMeasurement[];
  readonly inputs: number;
  readonly stats: SearchStats;
}

/** Progress of the measurement, in block evaluations (a block of any layer costs the same). */
export interface SearchProgress {
  readonly done: number;
  /** Expected total (cumulative mode: with the paths open now). */
  readonly total: number;
  readonly layer: number;
  readonly paths: number;
  readonly elapsedMs: number;
}

/** What {@link searchLayers} needs. */
export interface SearchOptions<T extends OpTensor> {
  /** The full-attention network (its own attention plan is not used). */
  readonly network: OpenSoraNetwork<T>;
  /** Sparsest first, with at least one dense candidate ({@link compileCandidates}). */
  readonly candidates: readonly SearchCandidate[];
  readonly inputs: readonly CalibrationInput[];
  readonly thresholds: readonly number[];
  readonly mode: SearchMode;
  /** Compute every layer input from layer 0 again instead of caching it (same numbers; tests). */
  readonly recompute?: boolean;
  readonly onProgress?: (progress: SearchProgress) => void;
}

/**
 * The candidate a layer takes at threshold `r`: the first (sparsest) whose error is at most r; the first dense
 * candidate when none is (NaN errors never pass).
 */
export function chooseCandidate(
  errors: readonly number[],
  candidates: readonly SearchCandidate[],
  r: number,
): number {
  const index = errors.findIndex((e) => e <= r);
  return index >= 0 ? index : candidates.findIndex((c) => c.dense);
}

/** One path of decisions with its cached layer inputs (cumulative mode has one per distinct history). */
interface Path<T extends OpTensor> {
  /** Threshold indices that follow this path. */
  readonly thresholds: readonly number[];
  readonly choices: readonly number[];
  readonly rows: readonly LayerMeasurement[];
  /** Per calibration input: the input of the next layer (null in recompute mode). */
  readonly hidden: readonly (T | null)[];
  /** Per calibration input: noise-prediction error of this path's choices so far, full attention after. */
  readonly baseline: readonly number[];
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const elementsOf = (ts: readonly OpTensor[]) =>
  ts.reduce((sum, t) => sum + t.shape.reduce((a, b) => a * b, 1), 0);

function checkOptions<T extends OpTensor>(options: SearchOptions<T>): number[] {
  const { candidates, inputs, thresholds, mode } = options;
  if (!SEARCH_MODES.includes(mode))
    throw new OptionError(`--mode: unknown mode "${mode}"; choose from ${SEARCH_MODES.join(', ')}`);
  if (!candidates.some((c) => c.dense))
    throw new OptionError('the candidates need full attention among them');
  for (let i = 1; i < candidates.length; i++)
    if (candidates[i]!.computedBlocks < candidates[i - 1]!.computedBlocks)
      throw new OptionError('candidates must be ordered sparsest first (compileCandidates does it)');
  if (inputs.length === 0) throw new OptionError('the search needs at least one calibration input');
  if (thresholds.length === 0 || !thresholds.every((r) => Number.isFinite(r) && r >= 0))
    throw new OptionError('--threshold: give one or more non-negative numbers');
  return [...new Set(thresholds)].sort((a, b) => a - b);
}

/** Measure every (layer, candidate) on the calibration inputs and decide every threshold's plan. */
export async function searchLayers<T extends OpTensor>(options: SearchOptions<T>): Promise<SearchResult> {
  const thresholds = checkOptions(options);
  const { network, candidates, inputs, mode } = options;
  const recompute = options.recompute === true;
  const { ops, config, grid } = network;
  const L = config.layers;
  const sparse = candidates.flatMap((c, i) => (c.dense ? [] : [i]));
  const denseIndex = candidates.findIndex((c) => c.dense);
  const allDense: SelfAttentionSpec[] = Array.from({ length: L }, () => DENSE);
  const started = performance.now();
  const tokens = grid.frames * grid.height * grid.width;
  const width = config.heads * config.headDim;

  // Block evaluations: a suffix from l runs L - l blocks (and l more without the cache), an advance one.
  let blocks = 0;
  let blocksWithoutCache = 0;
  let suffixForwards = 0;
  let suffixMs = 0;
  let suffixBlockCount = 0;
  let cachedInputs = 0;
  let cachedElements = 0;
  const suffixBlocks = (l: number) => (recompute ? L : L - l);
  const advanceBlocks = (l: number) => (recompute ? l + 1 : 1);
  const perLayer = (l: number, paths: number) =>
    paths * inputs.length * (sparse.length * suffixBlocks(l) + advanceBlocks(l));
  let total = 0;
  for (let l = 0; l < L; l++) total += perLayer(l, 1);
  const report = (layer: number, paths: number) =>
    options.onProgress?.({
      done: blocks,
      total: Math.max(total, blocks),
      layer,
      paths,
      elapsedMs: performance.now() - started,
    });
  const counted = (run: 'suffix' | 'advance', layer: number) => {
    if (run === 'suffix') suffixBlockCount += L - layer;
    blocks += run === 'suffix' ? suffixBlocks(layer) : advanceBlocks(layer);
    blocksWithoutCache += run === 'suffix' ? L : layer + 1;
  };

  const outer = ops.mark?.();
  try {
    // Constants first: the scope below is released layer by layer.
    const distances = new Map<number, DeviceDistance<T>>();
    for (const { batch } of inputs)
      if (!distances.has(batch)) distances.set(batch, new DeviceDistance(ops, [batch, tokens, width]));
    const scope = ops.mark?.();
    const staged = inputs.map((input) => stageInput(network, input));
    const references = staged.map((s) => {
      if (s.input.reference) return s.input.reference;
      blocks += L;
      blocksWithoutCache += L;
      return suffixEpsilon(network, s, s.embedded.hidden, 0, allDense);
    });
    const kept = (s: StagedInput<T>) => (recompute ? s.tensors : s.tensors.slice(0, 3));

    let paths: Path<T>[] = [
      {
        thresholds: thresholds.map((_, i) => i),
        choices: [],
        rows: [],
        hidden: staged.map((s) => (recompute ? null : s.embedded.hidden)),
        baseline: inputs.map(() => 0),
      },
    ];
    for (let layer = 0; layer < L; layer++) {
      const next: Path<T>[] = [];
      for (const path of paths) {
        const attentionOf = (choices: readonly number[], tried: SelfAttentionSpec): SelfAttentionSpec[] => [
          ...choices.map((c) => (candidates[c]!.dense ? DENSE : candidates[c]!.attention)),
          tried,
          ...allDense.slice(layer + 1),
        ];
        /** The input of `layer` on this path for calibration input i, and its release. */
        const layerInput = (i: number): { hidden: T; done: () => void } => {
          const cached = path.hidden[i];
          if (cached) return { hidden: cached, done: () => {} };
          const mark = ops.mark?.();
          const { context, hidden } = staged[i]!.embedded;
          const input = runBlocks(context, hidden, 0, layer, attentionOf(path.choices, DENSE));
          return { hidden: input, done: () => mark !== undefined && ops.release?.(mark) };
        };

        // 1. The suffix of every sparse candidate on every input (its prefix recomputed each time in recompute
        // mode); dense candidates keep the path's baseline.
        const perInput = candidates.map(() => inputs.map(() => 0));
        for (let i = 0; i < inputs.length; i++) {
          for (const c of candidates.keys()) {
            if (candidates[c]!.dense) {
              perInput[c]![i] = path.baseline[i]!;
              continue;
            }
            const start = performance.now();
            const { hidden, done } = layerInput(i);
            try {
              const attention = attentionOf(path.choices, candidates[c]!.attention);
              perInput[c]![i] = outputError(
                suffixEpsilon(network, staged[i]!, hidden, layer, attention),
                references[i]!,
              );
            } finally {
              done();
            }
            suffixMs += performance.now() - start;
            suffixForwards++;
            counted('suffix', layer);
            report(layer, paths.length);
          }
        }
        const output = perInput.map(mean);

        // 2. Decisions, grouped by the candidate taken (independent mode always advances with full attention).
        const groups = new Map<number, number[]>();
        for (const t of path.thresholds) {
          const choice = chooseCandidate(output, candidates, thresholds[t]!);
          const key = mode === 'independent' ? -1 : choice;
          groups.set(key, [...(groups.get(key) ?? []), t]);
        }

        // 3. Advance every input through the layer for each group; the first advance also compares the layer's
        // self-attention output across candidates on the same q, k, v.
        const attentionPerInput = candidates.map(() => inputs.map(() => 0));
        const advanced = [...groups.keys()].map(() => inputs.map((): T | null => null));
        for (let i = 0; i < inputs.length; i++) {
          const { hidden, done } = layerInput(i);
          const distance = distances.get(inputs[i]!.batch)!;
          const probe: SelfAttentionProbe<T> = (_q, _k, _v, _heads, spec, inner) => {
            const mark = ops.mark?.();
            const reference = inner(DENSE);
            for (const c of sparse) {
              const inside = ops.mark?.();
              attentionPerInput[c]![i] = distance.relative(inner(candidates[c]!.attention), reference);
              if (inside !== undefined) ops.release?.(inside);
            }
            if (spec.kind === 'dense') return reference;
            if (mark !== undefined) ops.release?.(mark);
            return inner(spec);
          };
          try {
            [...groups.keys()].forEach((choice, g) => {
              const spec = choice < 0 || candidates[choice]!.dense ? DENSE : candidates[choice]!.attention;
              const out = advanceBlock(
                staged[i]!.embedded.context,
                hidden,
                layer,
                attentionOf(path.choices, spec),
                g === 0 ? probe : undefined,
              );
              counted('advance', layer);
              if (!recompute) advanced[g]![i] = out;
            });
          } finally {
            done();
          }
        }
        const row: LayerMeasurement = {
          layer,
          output,
          outputPerInput: perInput,
          attention: attentionPerInput.map(mean),
        };
        [...groups.entries()].forEach(([choice, group], g) => {
          // Independent mode: one path, advanced with full attention (its own choices come from the matrix).
          const taken = choice < 0 ? denseIndex : choice;
          next.push({
            thresholds: group,
            choices: [...path.choices, taken],
            rows: [...path.rows, row],
            hidden: advanced[g]!,
            baseline: perInput[taken]!,
          });
        });
      }
      const current = paths.flatMap((p) => p.hidden.filter((h): h is T => h !== null));
      paths = next;
      // Release every earlier layer input: keep the staged context and the inputs of the next layer.
      const live = paths.flatMap((p) => p.hidden.filter((h): h is T => h !== null));
      const held = [...staged.flatMap(kept), ...live];
      // This layer's own inputs are still live here, beside the next layer's: the cache's peak.
      const inputsOfLayer = current.filter((h) => !held.includes(h));
      cachedInputs = Math.max(cachedInputs, live.length + inputsOfLayer.length);
      cachedElements = Math.max(cachedElements, elementsOf([...held, ...inputsOfLayer]));
      if (scope !== undefined) ops.release?.(scope, held);
      // The expected total follows the paths open now.
      total = blocks;
      for (let l = layer + 1; l < L; l++) total += perLayer(l, paths.length);
      report(layer, paths.length);
    }

    return finish(options, thresholds, paths, {
      suffixForwards,
      suffixMs,
      suffixBlocks: suffixBlockCount,
      blocks,
      blocksWithoutCache,
      ms: performance.now() - started,
      cachedInputs,
      cachedElements,
    });
  } finally {
    if (outer !== undefined) ops.release?.(outer);
  }
}

/** Every threshold's decisions from the final paths. */
function finish<T extends OpTensor>(
  options: SearchOptions<T>,
  thresholds: readonly number[],
  paths: readonly Path<T>[],
  stats: SearchStats,
): SearchResult {
  const { candidates, mode } = options;
  const decisions = thresholds.map((threshold, t) => {
    const path = paths.find((p) => p.thresholds.includes(t))!;
    const choices =
      mode === 'independent'
        ? path.rows.map((row) => chooseCandidate(row.output, candidates, threshold))
        : path.choices;
    return { threshold, choices, rows: path.rows };
  });
  return {
    mode,
    candidates,
    thresholds,
    decisions,
    matrix: decisions[0]!.rows,
    inputs: options.inputs.length,
    stats,
  };
}
