/**
 * Benchmark: the compiler on every built-in pattern family at the video models' shapes (Open-Sora-Plan 29 and
 * 93 frames, Wan 2.x 720p, HunyuanVideo 720p; patterns/presets.ts), 128 x 128 blocks, no cache. Each case runs
 * in a child process of its own, so its peak memory (max RSS) is its own. Prints a Markdown table: seconds per
 * stage (parse, check, lower, classify, plan, and the report's layout alternatives), the process's CPU time (node
 * start-up and module loading included), peak memory and blocks.
 *
 * Run: `npm run build && node dist/bench/compile-families.js [pattern ...]`.
 */
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { layoutChoices } from '../compiler/layout-choice.js';
import { makeCompileOptions } from '../compiler/options.js';
import { compile } from '../compiler/pipeline.js';
import { BUILTIN_PATTERNS, findBuiltinPattern } from '../patterns/index.js';
import { findLayoutPreset } from '../patterns/presets.js';

/** The shapes benchmarked, by preset name. */
const SHAPES = ['osp-29', 'osp-93', 'wan-720p', 'hunyuan-720p'] as const;
/** Text tokens for layouts that have a text segment (HunyuanVideo's prompt length). */
const TEXT_TOKENS = 256;
const BLOCK = 128;

/** One measured case, as the child prints it. */
interface CaseResult {
  readonly pattern: string;
  readonly shape: string;
  readonly tokens: number;
  readonly seconds: Record<string, number>;
  readonly peakMiB: number;
  /** CPU seconds (user + system) of the whole case: steadier than wall time on a shared machine. */
  readonly cpuSeconds: number;
  readonly full: number;
  readonly partial: number;
  readonly total: number;
}

/** Compile one pattern at one shape in this process and measure it. */
async function measure(name: string, shape: string): Promise<CaseResult> {
  const builtin = findBuiltinPattern(name)!;
  const sizes: Record<string, number> = { ...findLayoutPreset(shape)!.sizes };
  if ('l' in builtin.defaultSizes) sizes.l = TEXT_TOKENS;
  const source = { name: builtin.file, text: await readFile(builtin.file, 'utf8') };
  const options = makeCompileOptions({
    params: { ...builtin.defaultParams },
    sizes,
    blockQ: BLOCK,
    blockK: BLOCK,
    targets: [],
  });
  const result = await compile({ source, options, cache: null });
  const plan = result.outputs.plan!;
  const seconds = { ...result.seconds };
  const started = performance.now();
  layoutChoices(plan.pattern, plan.blockQ, plan.blockK, plan.stats);
  seconds.layouts = (performance.now() - started) / 1000;
  return {
    pattern: name,
    shape,
    tokens: plan.stats.realTokens,
    seconds,
    // maxRSS is in KiB.
    peakMiB: process.resourceUsage().maxRSS / 1024,
    cpuSeconds: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
    full: plan.stats.full,
    partial: plan.stats.partial,
    total: plan.stats.total,
  };
}

const STAGES = ['parse', 'check', 'lower', 'classify', 'plan', 'layouts'] as const;

function row(r: CaseResult): string {
  const s = (stage: string) => (r.seconds[stage] ?? 0).toFixed(3);
  const planTotal = ['parse', 'check', 'lower', 'classify', 'plan'].reduce(
    (t, x) => t + (r.seconds[x] ?? 0),
    0,
  );
  return `| ${r.pattern} | ${r.shape} | ${r.tokens} | ${STAGES.map(s).join(' | ')} | ${planTotal.toFixed(3)} | ${r.cpuSeconds.toFixed(2)} | ${r.peakMiB.toFixed(0)} | ${r.full} | ${r.partial} | ${r.total} |`;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--one') {
    process.stdout.write(`${JSON.stringify(await measure(args[1]!, args[2]!))}\n`);
    return;
  }
  const names = args.length > 0 ? args : BUILTIN_PATTERNS.map((p) => p.name);
  const self = fileURLToPath(import.meta.url);
  console.log(
    `| pattern | shape | tokens | ${STAGES.map((s) => `${s} s`).join(' | ')} | parse..plan s | process CPU s | peak MiB | full | partial | block pairs |`,
  );
  console.log(`|${' --- |'.repeat(STAGES.length + 10)}`);
  for (const name of names) {
    for (const shape of SHAPES) {
      const out = execFileSync(process.execPath, [self, '--one', name, shape], { encoding: 'utf8' });
      console.log(row(JSON.parse(out) as CaseResult));
    }
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
