/**
 * The CLI's compile and inspect commands: argument handling around the pipeline (the other commands are in
 * `tools.ts`). Reports go to stdout, progress and errors to stderr; `--json` prints exactly one JSON
 * document on stdout.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Listr } from 'listr2';
import { cubinArchsFor } from '../codegen/cuda/artifacts.js';
import { buildCubins } from '../codegen/cuda/nvcc.js';
import { parseTargets, STAGE_NAMES, STAGES, type Target } from '../codegen/index.js';
import { CompileCache } from '../compiler/cache.js';
import { layoutChoices } from '../compiler/layout-choice.js';
import { makeCompileOptions, parseAssignments, parseBlockSizes } from '../compiler/options.js';
import { type CompileResult, compile, readSource } from '../compiler/pipeline.js';
import {
  type CompileReport,
  describeQueriesWithoutKeys,
  formatReport,
  type LayoutAlternative,
  makeReport,
} from '../compiler/report.js';
import { EXIT, OptionError } from '../core/errors.js';
import type { SourceFile } from '../dsl/source.js';
import { BUILTIN_PATTERNS, findBuiltinPattern } from '../patterns/index.js';
import { findLayoutPreset, LAYOUT_PRESETS } from '../patterns/presets.js';
import { bestBackend, numericCheck } from '../verify/backends.js';
import { type VerifyReport, verifyCompiled } from '../verify/verify.js';
import { CompileProgress } from './compile-progress.js';
import { handleFailure, printDiagnostics } from './exit.js';
import { prepareOutputFolder } from './output-paths.js';

/** Options of `compile` and `inspect` as commander hands them over. */
interface AnalysisCliOptions {
  pattern?: string;
  set?: string[];
  layout?: string;
  block: string;
  heads: string;
  headDim: string;
  json?: boolean;
  cache: boolean;
  target?: string;
  out?: string;
  verify?: boolean;
  dump?: string;
}

/** A `.tile` path, or a built-in pattern name with its default sizes and parameters. */
async function resolveInput(file: string): Promise<{
  source: SourceFile;
  defaults: { sizes: Record<string, number>; params: Record<string, number | boolean> };
}> {
  if (!existsSync(file)) {
    const builtin = findBuiltinPattern(file);
    if (!builtin) {
      const names = BUILTIN_PATTERNS.map((p) => p.name).join(', ');
      throw new OptionError(
        `${file}: no such file, and no built-in pattern of that name (built-ins: ${names})`,
      );
    }
    return {
      source: await readSource(builtin.file),
      defaults: { sizes: { ...builtin.defaultSizes }, params: { ...builtin.defaultParams } },
    };
  }
  return { source: await readSource(file), defaults: { sizes: {}, params: {} } };
}

function positiveInt(text: string, option: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new OptionError(`${option}: expected a positive integer, found "${text}"`);
  return n;
}

/**
 * `--layout`: assignments (`t=8,h=45,w=80`), a preset name (`wan-720p`), or a preset then assignments that
 * override or add to it (`hunyuan-720p,l=256`).
 */
export function layoutSizes(text: string | undefined): Record<string, number> {
  if (text === undefined) return {};
  const [first = '', ...rest] = text.split(',');
  const preset = first.includes('=') ? undefined : findLayoutPreset(first.trim());
  if (!first.includes('=') && !preset) {
    throw new OptionError(
      `--layout: unknown size preset "${first.trim()}"; presets: ${LAYOUT_PRESETS.map((p) => p.name).join(', ')} (or sizes such as t=8,h=45,w=80)`,
    );
  }
  const assignments = preset ? rest : [first, ...rest];
  return {
    ...preset?.sizes,
    ...(parseAssignments(assignments.length > 0 ? [assignments.join(',')] : [], '--layout', false) as Record<
      string,
      number
    >),
  };
}

/** Build the frozen compile options from CLI flags over the built-in defaults. */
function optionsFrom(
  cli: AnalysisCliOptions,
  defaults: { sizes: Record<string, number>; params: Record<string, number | boolean> },
  targets: Target[],
) {
  const sizes = { ...defaults.sizes, ...layoutSizes(cli.layout) };
  const params = { ...defaults.params, ...parseAssignments(cli.set ?? [], '--set', true) };
  const { blockQ, blockK } = parseBlockSizes(cli.block);
  return makeCompileOptions({ pattern: cli.pattern, params, sizes, blockQ, blockK, targets });
}

/** Run the pipeline with progress on stderr (a live task list on a terminal, plain lines otherwise). */
async function compileWithProgress(
  source: SourceFile,
  options: ReturnType<typeof optionsFrom>,
  cli: AnalysisCliOptions,
  until?: string,
): Promise<CompileResult> {
  let result: CompileResult | undefined;
  let failure: unknown;
  const quiet = cli.json === true || cli.dump !== undefined;
  const cache = cli.cache ? new CompileCache() : null;
  const run = async (task: { output: string }) => {
    const stages = until ? STAGES.slice(0, STAGE_NAMES.indexOf(until) + 1) : STAGES;
    const progress = new CompileProgress(
      stages.map((s) => s.name),
      (line) => {
        task.output = line;
      },
    );
    try {
      return await compile({
        source,
        options,
        stages: STAGES,
        cache,
        ...(until ? { until } : {}),
        // In-stage progress redraws the line many times a second: a terminal's line, not a log's lines.
        onStage: (e) => {
          if (e.phase !== 'progress' || process.stderr.isTTY) progress.stage(e);
        },
      });
    } finally {
      progress.dispose();
    }
  };
  const tasks = new Listr(
    [
      {
        title: `Compile ${source.name}`,
        task: async (_ctx, task) => {
          try {
            result = await run(task);
          } catch (error) {
            // The message is printed once, by handleFailure: the task line only says that it failed.
            failure = error;
            throw new Error('see below');
          }
          task.title = `Compiled ${source.name}${result.cacheHit ? ' (plan from cache)' : ''}`;
        },
      },
    ],
    {
      renderer: quiet ? 'silent' : process.stderr.isTTY ? 'default' : 'simple',
      rendererOptions: {},
      exitOnError: true,
      registerSignalListeners: false,
    },
  );
  try {
    await tasks.run();
  } catch (error) {
    throw failure ?? error;
  } finally {
    if (cache?.problem) process.stderr.write(`tessera: warning: ${cache.problem}\n`);
  }
  if (result!.outputs.notes.length > 0)
    printDiagnostics(result!.outputs.notes, new Map([[source.name, source]]));
  return result!;
}

/** The step after the stages that classifies the layout alternatives; its progress reads like a stage's. */
const LAYOUTS_STEP = { stage: 'layouts', title: 'Classify layout alternatives' } as const;

/**
 * The layout alternatives of a compiled plan, as the report shows them. On a terminal (and unless output is
 * quiet) a progress line appears once the step has run longer than a second, and is cleared at its end.
 */
function alternativesOf(result: CompileResult, cli: AnalysisCliOptions): LayoutAlternative[] {
  const plan = result.outputs.plan!;
  const live = process.stderr.isTTY && cli.json !== true && cli.dump === undefined;
  let drawn = false;
  const progress = new CompileProgress(
    [LAYOUTS_STEP.stage],
    (line) => {
      if (!live || line.endsWith('...')) return;
      process.stderr.write(`\r\x1b[K${line}`);
      drawn = true;
    },
    undefined,
    0,
  );
  progress.stage({ ...LAYOUTS_STEP, phase: 'start' });
  let choices: ReturnType<typeof layoutChoices>;
  try {
    choices = layoutChoices(plan.pattern, plan.blockQ, plan.blockK, plan.stats, (done, total) =>
      progress.stage({ ...LAYOUTS_STEP, phase: 'progress', done, total }),
    );
  } finally {
    progress.dispose();
    if (drawn) process.stderr.write('\r\x1b[K');
  }
  return choices.map((c) => ({
    label: c.label,
    blockQ: c.blockQ,
    blockK: c.blockK,
    seqLen: c.seqLen,
    full: c.full,
    partial: c.partial,
    empty: c.empty,
    relativeWork: c.relativeCompute,
  }));
}

/** Run `f`, adding its wall time to `seconds[name]`: every step the report lists is timed. */
async function timed<T>(seconds: Record<string, number>, name: string, f: () => T | Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await f();
  } finally {
    seconds[name] = (seconds[name] ?? 0) + (performance.now() - started) / 1000;
  }
}

/** The report, with the time of the compile stages, the layout alternatives and the report's own counts. */
async function reportOf(
  result: CompileResult,
  cli: AnalysisCliOptions,
  seconds: Record<string, number> = { ...result.seconds },
): Promise<CompileReport> {
  const shape = {
    heads: positiveInt(cli.heads, '--heads'),
    headDim: positiveInt(cli.headDim, '--head-dim'),
    batch: 1,
  };
  const alternatives = await timed(seconds, 'layouts', () => alternativesOf(result, cli));
  // The report's counts (queries without keys, padding) are part of its time; `seconds` is read when printed.
  return timed(seconds, 'report', () =>
    makeReport(result.outputs.plan!, result.outputs.source.name, alternatives, seconds, shape),
  );
}

/** `tessera inspect`. */
export async function runInspect(file: string, cli: AnalysisCliOptions): Promise<number> {
  try {
    const { source, defaults } = await resolveInput(file);
    const result = await compileWithProgress(source, optionsFrom(cli, defaults, []), cli, 'plan');
    const report = await reportOf(result, cli);
    process.stdout.write(cli.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatReport(report)}\n`);
    return EXIT.ok;
  } catch (error) {
    return handleFailure(error);
  }
}

function formatVerify(v: VerifyReport, report: CompileReport): string {
  // The kernel can be right about a mask that is wrong for the model: repeat the no-key warning here.
  const noKeys = describeQueriesWithoutKeys(report.queriesWithoutKeys, report.layout.realTokens);
  const lines = [
    `  verify      ${v.ok ? 'OK' : 'FAILED'}${noKeys ? ` (the kernel matches the mask, but ${noKeys})` : ''}`,
  ];
  lines.push(
    `              plan invariants: ${v.invariantErrors.length === 0 ? 'hold' : v.invariantErrors.join('; ')}`,
  );
  lines.push(
    `              exactness: ${v.sampledPairs} block pairs re-classified by brute force, ${v.misclassified.length} differ`,
  );
  for (const m of v.misclassified.slice(0, 5))
    lines.push(
      `                block (${m.qBlock}, ${m.kBlock}): plan says ${m.plan}, elements say ${m.truth}`,
    );
  if (v.numeric) {
    const n = v.numeric;
    lines.push(
      `              numbers on ${n.backend} (${n.dtype}, ${n.tokens} tokens, ${n.heads} heads x ${n.headDim}): ` +
        `output rel. error ${n.outError.toExponential(2)}, lse rel. error ${n.lseError.toExponential(2)} (bound ${n.tolerance.toExponential(0)}), ${n.nonFinite} non-finite`,
    );
    lines.push(`              size: ${n.size}`);
  }
  return lines.join('\n');
}

/** `tessera compile`. */
export async function runCompile(file: string, cli: AnalysisCliOptions): Promise<number> {
  try {
    if (cli.dump !== undefined && !STAGE_NAMES.includes(cli.dump)) {
      throw new OptionError(`--dump: unknown stage "${cli.dump}"; stages: ${STAGE_NAMES.join(', ')}`);
    }
    const { source, defaults } = await resolveInput(file);
    const options = optionsFrom(cli, defaults, parseTargets(cli.target ?? 'ts,flex,png'));
    // A folder that cannot be written fails now, not after the compilation.
    if (cli.out !== undefined && cli.dump === undefined) await prepareOutputFolder(cli.out);
    const dump = cli.dump;
    const result = await compileWithProgress(source, options, cli, dump);
    if (dump) {
      process.stdout.write(`${STAGES.find((s) => s.name === dump)!.dump(result.outputs)}\n`);
      return EXIT.ok;
    }
    const plan = result.outputs.plan!;
    const outDir = cli.out ?? join('out', plan.key);
    await prepareOutputFolder(outDir);
    const seconds: Record<string, number> = { ...result.seconds };
    const written: string[] = [];
    await timed(seconds, 'write', async () => {
      for (const artifact of result.outputs.artifacts ?? []) {
        const path = join(outDir, artifact.path);
        await mkdir(dirname(path), { recursive: true }); // the CUDA headers go in tessera/
        await writeFile(path, artifact.contents);
        written.push(`${path}  (${artifact.description})`);
      }
    });
    for (const cu of (result.outputs.artifacts ?? []).filter((a) => a.path.endsWith('.cu'))) {
      const cubins = await timed(seconds, 'nvcc', () =>
        buildCubins(join(outDir, cu.path), cubinArchsFor(cu.path)),
      );
      written.push(...cubins.written);
      if (cubins.skipped) process.stderr.write(`${cubins.skipped}\n`);
    }
    const report = await reportOf(result, cli, seconds);
    let verify: VerifyReport | undefined;
    if (cli.verify) {
      const started = performance.now();
      const backend = await bestBackend();
      seconds.verify = 0; // listed in the order the steps ran; set below
      try {
        const check = numericCheck(result, backend);
        verify = await verifyCompiled(plan, check.plan, backend, {
          size: check.size,
          ...(check.rows ? { rows: check.rows } : {}),
        });
      } finally {
        await backend.dispose();
        seconds.verify = (performance.now() - started) / 1000;
      }
    }
    await writeFile(join(outDir, 'report.json'), `${JSON.stringify({ ...report, verify }, null, 2)}\n`);
    written.push(`${join(outDir, 'report.json')}  (this report)`);
    if (cli.json) {
      process.stdout.write(`${JSON.stringify({ ...report, verify, files: written }, null, 2)}\n`);
    } else {
      process.stdout.write(`${formatReport(report)}\n`);
      if (verify) process.stdout.write(`${formatVerify(verify, report)}\n`);
      process.stdout.write(`  wrote\n${written.map((w) => `              ${w}`).join('\n')}\n`);
    }
    return verify && !verify.ok ? EXIT.verify : EXIT.ok;
  } catch (error) {
    return handleFailure(error);
  }
}
