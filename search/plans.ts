/**
 * The search's results as layer plans (`tessera.layer-plan/1`, compiler/layer-plan.ts): one per threshold, named
 * `r<threshold>.json`, holding the instances its layers use and, under `search`, how it was found: the mode, the
 * threshold, the metric, every candidate, the calibration inputs, the per-layer errors and the checkpoint's hash.
 */
import { join } from 'node:path';
import type { LayerPlan, LayerPlanSearch, PlanBlockSizes } from '../compiler/layer-plan.js';
import type { OpenSoraConfig } from '../models/open-sora-plan/config.js';
import type { TokenGrid } from '../runtime/model-ops.js';
import type { CalibrationInput, CalibrationSteps } from './calibration.js';
import { type PlanPrediction, predictPlan } from './cost.js';
import type { SearchResult } from './measure.js';

/** Where the calibration inputs came from. */
export interface CalibrationRecord {
  readonly sampler: string;
  readonly steps: number;
  readonly spacing: string;
  readonly guidance: number;
  readonly seeds: readonly number[];
  readonly prompts: number;
  readonly at: CalibrationSteps;
}

/** What the plans record beside the measurements. */
export interface SearchRecord {
  readonly config: OpenSoraConfig;
  readonly grid: TokenGrid;
  readonly blocks: PlanBlockSizes;
  /** The checkpoint: its path and SHA-256, or what stood in for it (random device weights). */
  readonly checkpoint: Readonly<Record<string, string>>;
  readonly calibration: CalibrationRecord;
  readonly inputs: readonly CalibrationInput[];
}

/** One threshold's plan. */
export interface SearchedPlan {
  readonly threshold: number;
  /** `r<threshold>.json`. */
  readonly fileName: string;
  readonly plan: LayerPlan;
  readonly prediction: PlanPrediction;
}

/** The metric, in words, for the plans and the report. */
export const SEARCH_METRIC = {
  output:
    'relative L2 distance of the noise prediction (the model output on the guidance batch) with the layer masked ' +
    'by the candidate, against full attention in every layer, mean over the calibration inputs',
  attention:
    "relative L2 distance of the layer's self-attention output under the candidate against full attention, on " +
    'the same layer input, mean over the calibration inputs',
} as const;

/** `r0.025.json`. */
export function planFileName(threshold: number): string {
  return `r${threshold}.json`;
}

/** Text tokens of the calibration inputs (the text length L of the first). */
export function textTokensOf(inputs: readonly CalibrationInput[]): number {
  const first = inputs[0]!;
  return first.textMask.length / first.batch;
}

const round = (x: number) => (Number.isFinite(x) ? Number(x.toPrecision(6)) : null);

/** The plans of every threshold, to be written into `outDir`. */
export function searchedPlans(result: SearchResult, record: SearchRecord, outDir: string): SearchedPlan[] {
  const { candidates } = result;
  const textTokens = textTokensOf(record.inputs);
  const named = (values: readonly number[]) =>
    Object.fromEntries(candidates.map((c, i) => [c.name, round(values[i]!)]));
  return result.decisions.map(({ threshold, choices, rows }) => {
    const fileName = planFileName(threshold);
    const prediction = predictPlan(choices, candidates, record.config, record.grid, textTokens);
    const used = candidates.filter((_, i) => choices.includes(i));
    const search: LayerPlanSearch = {
      tool: 'tessera search',
      mode: result.mode,
      threshold,
      metric: SEARCH_METRIC,
      config: record.config.name,
      checkpoint: record.checkpoint,
      blocks: `${record.blocks.blockQ}x${record.blocks.blockK}`,
      candidates: candidates.map((c) => ({
        name: c.name,
        label: c.label,
        spec: c.text,
        computedBlocks: c.computedBlocks,
        sparsity: round(c.sparsity),
      })),
      calibration: {
        ...record.calibration,
        inputs: record.inputs.map(({ seed, prompt, step, timestep }) => ({ seed, prompt, step, timestep })),
      },
      prediction: {
        meanSparsity: round(prediction.meanSparsity),
        attentionSpeedup: round(prediction.attentionSpeedup),
        stepSpeedup: round(prediction.stepSpeedup),
      },
      layers: rows.map((row, layer) => ({
        layer,
        chosen: candidates[choices[layer]!]!.name,
        errors: named(row.output),
        attentionErrors: named(row.attention),
      })),
    };
    const plan: LayerPlan = {
      file: join(outDir, fileName),
      layers: choices.length,
      sizes: { t: record.grid.frames, h: record.grid.height, w: record.grid.width },
      patterns: Object.fromEntries(used.map((c) => [c.name, c.ref])),
      assignment: choices.map((i) => candidates[i]!.name),
      search,
    };
    return { threshold, fileName, plan, prediction };
  });
}
