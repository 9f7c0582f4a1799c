/**
 * Benchmark: exact block classification and plan building for the Attention Tile masks of SPEC §1.2 and a
 * 3D sliding-tile window, at 720p (45 x 80 latent frames), 8 and 24 frames, 128 x 128 blocks. Prints the
 * median of repeated runs in milliseconds. Reference point: PyTorch's `create_block_mask` takes 85-215 ms on
 * an H100 for these masks.
 *
 * Run: `npm run build && node dist/bench/classify.js [--runs N]`.
 */

import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { classifyBlocksWithMethod } from '../compiler/classify/classify.js';
import {
  attentionTilePattern,
  fullPattern,
  slidingTilePattern,
  videoLayout,
} from '../compiler/classify/reference-patterns.js';
import type { PatternInstance } from '../compiler/ir.js';
import { buildPlan } from '../compiler/plan/build.js';

/** One benchmark case: a label and its pattern. */
export interface BenchCase {
  readonly label: string;
  readonly pattern: PatternInstance;
}

/** One result row. */
export interface BenchRow {
  readonly label: string;
  readonly tokens: number;
  readonly method: string;
  readonly full: number;
  readonly partial: number;
  readonly empty: number;
  readonly sparsity: number;
  readonly classifyMs: number;
  readonly planMs: number;
  readonly closedForm: string;
}

/** The benchmarked patterns: Attention Tile a:(T-a) for the named splits, full attention, 3D sliding tile. */
export function benchCases(): BenchCase[] {
  const cases: BenchCase[] = [];
  const splits: Record<number, number[]> = { 8: [4, 3, 2, 1], 24: [12, 8, 6, 4, 3] };
  for (const frames of [8, 24]) {
    const layout = videoLayout(frames, 45, 80);
    for (const a of splits[frames]!)
      cases.push({ label: `tile ${a}:${frames - a} T=${frames}`, pattern: attentionTilePattern(layout, a) });
    cases.push({ label: `full T=${frames}`, pattern: fullPattern(layout) });
    cases.push({
      label: `sliding 6x8x8 w3x3x3 T=${frames}`,
      pattern: slidingTilePattern([frames, 45, 80], [6, 8, 8], [3, 3, 3]),
    });
  }
  return cases;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Time `fn` `runs` times after two warm-up calls; median milliseconds. */
function timeMs(fn: () => unknown, runs: number): number {
  fn();
  fn();
  const samples: number[] = [];
  for (let r = 0; r < runs; r++) {
    const start = performance.now();
    fn();
    samples.push(performance.now() - start);
  }
  return median(samples);
}

/** Run every case at `block x block` and return the rows. */
export function runClassifyBench(runs = 11, block = 128): BenchRow[] {
  return benchCases().map(({ label, pattern }) => {
    const { method } = classifyBlocksWithMethod(pattern, block, block);
    const plan = buildPlan(pattern, block, block);
    return {
      label,
      tokens: pattern.layout.length,
      method,
      full: plan.stats.full,
      partial: plan.stats.partial,
      empty: plan.stats.empty,
      sparsity: plan.stats.sparsity,
      classifyMs: timeMs(() => classifyBlocksWithMethod(pattern, block, block), runs),
      planMs: timeMs(() => buildPlan(pattern, block, block), runs),
      closedForm: plan.closedForm?.kind ?? '-',
    };
  });
}

/** Format rows as an aligned text table. */
export function formatBenchTable(rows: readonly BenchRow[]): string {
  const header = [
    'pattern',
    'tokens',
    'method',
    'full',
    'partial',
    'empty',
    'sparsity',
    'classify ms',
    'plan ms',
  ];
  const body = rows.map((r) => [
    r.label,
    String(r.tokens),
    r.method,
    String(r.full),
    String(r.partial),
    String(r.empty),
    `${(100 * r.sparsity).toFixed(1)}%`,
    r.classifyMs.toFixed(2),
    r.planMs.toFixed(2),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...body.map((row) => row[c]!.length)));
  const line = (cells: string[]) =>
    cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

function main(): void {
  const runsFlag = process.argv.indexOf('--runs');
  const runs = runsFlag > 0 ? Number(process.argv[runsFlag + 1]) : 11;
  console.log(
    `block classification + plan, 128 x 128 blocks, median of ${runs} runs (node ${process.version})`,
  );
  console.log(formatBenchTable(runClassifyBench(runs)));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
