/**
 * The search report: per threshold, the layers each candidate got, the mean sparsity and the predicted attention
 * and step speedups (the paper's Table 2); the layer x candidate error matrices (noise prediction, and each
 * layer's own self-attention output) with the candidate each threshold chose; how long it took and what prefix
 * caching saved. As text for people, as one JSON document for scripts.
 */
import { choiceKey } from '../compiler/layer-heads.js';
import type { SearchResult } from './measure.js';
import { type CalibrationRecord, SEARCH_METRIC, type SearchedPlan, type SearchRecord } from './plans.js';

/** The report as data (what `--json` prints). */
export interface SearchReport {
  readonly config: string;
  readonly layers: number;
  readonly grid: SearchRecord['grid'];
  readonly blocks: string;
  readonly mode: SearchResult['mode'];
  readonly metric: typeof SEARCH_METRIC;
  readonly checkpoint: SearchRecord['checkpoint'];
  readonly calibration: CalibrationRecord & {
    readonly inputs: readonly { seed: number; prompt: number; step: number; timestep: number }[];
  };
  readonly candidates: readonly {
    name: string;
    label: string;
    computedBlocks: number;
    sparsity: number;
    dense: boolean;
  }[];
  readonly plans: readonly {
    threshold: number;
    file: string;
    layers: Readonly<Record<string, number>>;
    meanSparsity: number;
    attentionSpeedup: number;
    stepSpeedup: number;
    assignment: readonly string[];
  }[];
  /** Per layer, per candidate name: the errors the first threshold was decided on. */
  readonly matrix: readonly {
    layer: number;
    output: Readonly<Record<string, number>>;
    attention: Readonly<Record<string, number>>;
    chosen: readonly string[];
  }[];
  readonly stats: SearchResult['stats'] & { readonly prefixSaving: number; readonly msPerForward: number };
  /** Files written (plans, pictures, the report). */
  readonly files: readonly string[];
}

/** Gather the report. `files` are the paths written. */
export function makeSearchReport(
  result: SearchResult,
  record: SearchRecord,
  plans: readonly SearchedPlan[],
  files: readonly string[],
  planPath: (plan: SearchedPlan) => string,
): SearchReport {
  const { candidates, stats } = result;
  const named = (values: readonly number[]) =>
    Object.fromEntries(candidates.map((c, i) => [c.name, values[i]!]));
  return {
    config: record.config.name,
    layers: record.config.layers,
    grid: record.grid,
    blocks: `${record.blocks.blockQ}x${record.blocks.blockK}`,
    mode: result.mode,
    metric: SEARCH_METRIC,
    checkpoint: record.checkpoint,
    calibration: {
      ...record.calibration,
      inputs: record.inputs.map(({ seed, prompt, step, timestep }) => ({ seed, prompt, step, timestep })),
    },
    candidates: candidates.map((c) => ({
      name: c.name,
      label: c.label,
      computedBlocks: c.computedBlocks,
      sparsity: c.sparsity,
      dense: c.dense,
    })),
    plans: plans.map((p) => ({
      threshold: p.threshold,
      file: planPath(p),
      layers: p.prediction.layers,
      meanSparsity: p.prediction.meanSparsity,
      attentionSpeedup: p.prediction.attentionSpeedup,
      stepSpeedup: p.prediction.stepSpeedup,
      assignment: p.plan.assignment.map(choiceKey),
    })),
    matrix: result.matrix.map((row) => ({
      layer: row.layer,
      output: named(row.output),
      attention: named(row.attention),
      chosen: result.decisions.map((d) => candidates[d.choices[row.layer]!]!.name),
    })),
    stats: {
      ...stats,
      prefixSaving: stats.blocksWithoutCache === 0 ? 0 : 1 - stats.blocks / stats.blocksWithoutCache,
      msPerForward: stats.suffixForwards === 0 ? 0 : stats.suffixMs / stats.suffixForwards,
    },
    files,
  };
}

const percent = (x: number) => `${(100 * x).toFixed(1)}%`;
const count = (x: number) => x.toLocaleString('en-US');

/** `0, 5, 10` or `0-3`. */
function list(xs: readonly number[]): string {
  const contiguous = xs.length > 2 && xs.every((x, i) => i === 0 || x === xs[i - 1]! + 1);
  return contiguous ? `${xs[0]}-${xs[xs.length - 1]}` : xs.join(', ');
}

/** An error as four significant figures, exact zero as 0. */
export function formatError(e: number): string {
  if (e === 0) return '0';
  if (!Number.isFinite(e)) return String(e);
  return e >= 0.001 ? e.toFixed(4) : e.toExponential(1);
}

/** A fixed-width text table: numbers right-aligned, the first and last columns (names) left-aligned. */
function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const last = header.length - 1;
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, c) => (c === 0 || c === last ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

/** The report for people. */
export function formatSearchReport(report: SearchReport): string {
  const { calibration: cal, stats, candidates } = report;
  const labels = new Map(candidates.map((c) => [c.name, c.label]));
  const steps = [...new Set(cal.inputs.map((i) => i.step))].sort((a, b) => a - b);
  const out = [
    `tessera search: ${report.config}, ${report.layers} layers, ${report.grid.frames} x ${report.grid.height} x ${report.grid.width} tokens (blocks ${report.blocks}), ${report.mode} mode`,
    `calibration: ${cal.inputs.length} inputs = seed${cal.seeds.length === 1 ? '' : 's'} ${list(cal.seeds)} x ${cal.prompts} prompt${cal.prompts === 1 ? '' : 's'} along ${cal.sampler} (${cal.steps} steps, guidance ${cal.guidance}), at step${steps.length === 1 ? '' : 's'} ${list(steps)}${cal.at === 'spread' ? ' (spread over the path)' : ''}`,
    `candidates, sparsest first: ${candidates.map((c) => `${c.label} (${count(c.computedBlocks)} blocks, ${percent(c.sparsity)} skipped)`).join(', ')}`,
    `measured in ${(stats.ms / 1000).toFixed(1)} s: ${stats.suffixForwards} suffix forwards, ${stats.msPerForward.toFixed(1)} ms each; ` +
      `prefix caching ran ${count(stats.blocks)} blocks instead of ${count(stats.blocksWithoutCache)} (${percent(report.stats.prefixSaving)} saved), ` +
      `holding at most ${stats.cachedInputs} layer inputs (${count(stats.cachedElements)} values with the staged context)`,
    '',
    'per threshold (the plan the search wrote; speedups predicted from computed blocks and FLOPs):',
  ];
  const names = candidates.map((c) => c.name).reverse();
  out.push(
    ...table(
      ['threshold', ...names.map((n) => labels.get(n)!), 'mean sparsity', 'attention', 'step', 'plan'],
      report.plans.map((p) => [
        `r = ${p.threshold}`,
        ...names.map((n) => String(p.layers[n] ?? 0)),
        percent(p.meanSparsity),
        `${p.attentionSpeedup.toFixed(2)}x`,
        `${p.stepSpeedup.toFixed(2)}x`,
        p.file,
      ]),
    ).map((l) => `  ${l}`),
  );
  const order = candidates.map((c) => c.name);
  const thresholds = report.plans.map((p) => p.threshold).join(' ');
  for (const [what, key] of [
    ['noise-prediction error', 'output'],
    ["the layer's self-attention output error", 'attention'],
  ] as const) {
    out.push(
      '',
      `${what} (relative L2, mean of ${cal.inputs.length} inputs${report.mode === 'cumulative' && key === 'output' ? `; on the path of r = ${report.plans[0]?.threshold}` : ''}); chosen at r = ${thresholds}:`,
    );
    out.push(
      ...table(
        ['layer', ...order.map((n) => labels.get(n)!), 'chosen'],
        report.matrix.map((row) => [
          String(row.layer),
          ...order.map((n) => formatError(row[key][n]!)),
          row.chosen.map((n) => labels.get(n)!).join(' '),
        ]),
      ).map((l) => `  ${l}`),
    );
  }
  out.push('', 'wrote', ...report.files.map((f) => `  ${f}`));
  return `${out.join('\n')}\n`;
}
