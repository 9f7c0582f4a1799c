/**
 * The CLI's commands: argument handling around the driver. Everything printed for humans goes to stdout
 * (reports) or stderr (progress and errors); `--json` prints exactly one JSON document on stdout.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Listr } from 'listr2';
import { buildCubins } from '../codegen/cuda/nvcc.js';
import { checkTile } from '../compiler/check/index.js';
import { readLayerPlan } from '../compiler/layer-plan.js';
import { layoutChoices } from '../compiler/layout-choice.js';
import { bestBackend, smallVerificationPlan } from '../driver/backends.js';
import { type CompileResult, compile, readSource } from '../driver/compile.js';
import { generateBuiltins, generatedRoot, listGenerated } from '../driver/generate.js';
import { compileLayerPlan, layerPlanSpeedup } from '../driver/layer-plans.js';
import {
  makeCompileOptions,
  OptionError,
  parseAssignments,
  parseBlockSizes,
  parseTargets,
  type Target,
} from '../driver/options.js';
import { type CompileReport, formatReport, type LayoutAlternative, makeReport } from '../driver/report.js';
import { STAGE_NAMES, STAGES, type StageName } from '../driver/stages.js';
import { type VerifyReport, verifyCompiled } from '../driver/verify.js';
import { hasErrors } from '../dsl/diagnostics.js';
import { formatTile } from '../dsl/format.js';
import { parseTile } from '../dsl/parse.js';
import type { SourceFile } from '../dsl/source.js';
import { BUILTIN_PATTERNS, findBuiltinPattern } from '../models/patterns/index.js';
import { EXIT, handleFailure, printDiagnostics } from './exit.js';

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

/** Build the frozen compile options from CLI flags over the built-in defaults. */
function optionsFrom(
  cli: AnalysisCliOptions,
  defaults: { sizes: Record<string, number>; params: Record<string, number | boolean> },
  targets: Target[],
) {
  const sizes = {
    ...defaults.sizes,
    ...(parseAssignments(cli.layout ? [cli.layout] : [], '--layout', false) as Record<string, number>),
  };
  const params = { ...defaults.params, ...parseAssignments(cli.set ?? [], '--set', true) };
  const { blockQ, blockK } = parseBlockSizes(cli.block);
  return makeCompileOptions({ pattern: cli.pattern, params, sizes, blockQ, blockK, targets });
}

/** Run the pipeline with progress on stderr (a live task list on a terminal, plain lines otherwise). */
async function compileWithProgress(
  source: SourceFile,
  options: ReturnType<typeof optionsFrom>,
  cli: AnalysisCliOptions,
  until?: StageName,
): Promise<CompileResult> {
  let result: CompileResult | undefined;
  const quiet = cli.json === true || cli.dump !== undefined;
  const tasks = new Listr(
    [
      {
        title: `Compile ${source.name}`,
        task: async (_ctx, task) => {
          result = await compile({
            source,
            options,
            ...(cli.cache ? {} : { cache: null }),
            ...(until ? { until } : {}),
            onStage: (e) => {
              if (e.phase === 'start') task.output = `${e.title}...`;
              if (e.phase === 'cached') task.output = `${e.title}: from cache`;
            },
          });
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
  await tasks.run();
  return result!;
}

/** The layout alternatives of a compiled plan, as the report shows them. */
function alternativesOf(result: CompileResult): LayoutAlternative[] {
  const plan = result.outputs.plan!;
  return layoutChoices(plan.pattern, plan.blockQ, plan.blockK).map((c) => ({
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

function reportOf(result: CompileResult, cli: AnalysisCliOptions): CompileReport {
  const shape = {
    heads: positiveInt(cli.heads, '--heads'),
    headDim: positiveInt(cli.headDim, '--head-dim'),
    batch: 1,
  };
  return makeReport(
    result.outputs.plan!,
    result.outputs.source.name,
    alternativesOf(result),
    result.seconds as Record<string, number>,
    shape,
  );
}

/** `tessera inspect`. */
export async function runInspect(file: string, cli: AnalysisCliOptions): Promise<number> {
  try {
    const { source, defaults } = await resolveInput(file);
    const result = await compileWithProgress(source, optionsFrom(cli, defaults, []), cli, 'plan');
    const report = reportOf(result, cli);
    process.stdout.write(cli.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatReport(report)}\n`);
    return EXIT.ok;
  } catch (error) {
    return handleFailure(error);
  }
}

function formatVerify(v: VerifyReport): string {
  const lines = [`  verify      ${v.ok ? 'OK' : 'FAILED'}`];
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
  }
  return lines.join('\n');
}

/** `tessera compile`. */
export async function runCompile(file: string, cli: AnalysisCliOptions): Promise<number> {
  try {
    if (cli.dump !== undefined && !(STAGE_NAMES as readonly string[]).includes(cli.dump)) {
      throw new OptionError(`--dump: unknown stage "${cli.dump}"; stages: ${STAGE_NAMES.join(', ')}`);
    }
    const { source, defaults } = await resolveInput(file);
    const options = optionsFrom(cli, defaults, parseTargets(cli.target ?? 'ts,flex,png'));
    const dump = cli.dump as StageName | undefined;
    const result = await compileWithProgress(
      source,
      options,
      { ...cli, cache: cli.cache && dump !== 'classify' },
      dump,
    );
    if (dump) {
      process.stdout.write(`${STAGES.find((s) => s.name === dump)!.dump(result.outputs)}\n`);
      return EXIT.ok;
    }
    const plan = result.outputs.plan!;
    const outDir = cli.out ?? join('out', plan.key);
    await mkdir(outDir, { recursive: true });
    const written: string[] = [];
    for (const artifact of result.outputs.artifacts ?? []) {
      const path = join(outDir, artifact.path);
      await writeFile(path, artifact.contents);
      written.push(`${path}  (${artifact.description})`);
    }
    const cu = (result.outputs.artifacts ?? []).find((a) => a.path.endsWith('.cu'));
    if (cu) {
      const cubins = await buildCubins(join(outDir, cu.path));
      written.push(...cubins.written);
      if (cubins.skipped) process.stderr.write(`${cubins.skipped}\n`);
    }
    const report = reportOf(result, cli);
    let verify: VerifyReport | undefined;
    if (cli.verify) {
      const backend = await bestBackend();
      try {
        verify = await verifyCompiled(plan, smallVerificationPlan(result), backend);
      } finally {
        await backend.dispose();
      }
    }
    await writeFile(join(outDir, 'report.json'), `${JSON.stringify({ ...report, verify }, null, 2)}\n`);
    written.push(`${join(outDir, 'report.json')}  (this report)`);
    if (cli.json) {
      process.stdout.write(`${JSON.stringify({ ...report, verify, files: written }, null, 2)}\n`);
    } else {
      process.stdout.write(`${formatReport(report)}\n`);
      if (verify) process.stdout.write(`${formatVerify(verify)}\n`);
      process.stdout.write(`  wrote\n${written.map((w) => `              ${w}`).join('\n')}\n`);
    }
    return verify && !verify.ok ? EXIT.verify : EXIT.ok;
  } catch (error) {
    return handleFailure(error);
  }
}

/** `tessera check`. */
export async function runCheck(files: string[]): Promise<number> {
  let failed = false;
  for (const file of files) {
    try {
      const source = await readSource(file);
      const { file: ast, diagnostics } = parseTile(source);
      const all = ast ? [...diagnostics, ...checkTile(ast, source.name)] : diagnostics;
      printDiagnostics(all, new Map([[source.name, source]]));
      if (hasErrors(all) || !ast) failed = true;
      else process.stdout.write(`${file}: ok\n`);
    } catch (error) {
      failed = true;
      handleFailure(error);
    }
  }
  return failed ? EXIT.input : EXIT.ok;
}

/** `tessera format`. */
export async function runFormat(files: string[], cli: { write?: boolean; check?: boolean }): Promise<number> {
  let status: number = EXIT.ok;
  for (const file of files) {
    try {
      const text = await readFile(file, 'utf8');
      const source = { name: file, text };
      const { file: ast, diagnostics } = parseTile(source);
      if (!ast || hasErrors(diagnostics)) {
        printDiagnostics(diagnostics, new Map([[file, source]]));
        status = EXIT.input;
        continue;
      }
      const formatted = formatTile(ast);
      if (cli.check) {
        if (formatted !== text) {
          process.stderr.write(`${file}: not formatted\n`);
          status = EXIT.input;
        }
      } else if (cli.write) {
        if (formatted !== text) await writeFile(file, formatted);
      } else {
        process.stdout.write(formatted);
      }
    } catch (error) {
      status = handleFailure(error);
    }
  }
  return status;
}

/** `tessera patterns`. */
export function runPatterns(): number {
  for (const p of BUILTIN_PATTERNS) {
    const sizes = Object.entries(p.defaultSizes)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    const params = Object.entries(p.defaultParams)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    process.stdout.write(
      `${p.name.padEnd(20)} ${p.description}\n${''.padEnd(20)} --layout ${sizes}${params ? ` --set ${params}` : ''}\n`,
    );
  }
  return EXIT.ok;
}

/** `tessera regenerate`: rewrite `generated/` (or, with --check, fail when it is stale). */
export async function runGenerate(cli: { check?: boolean }): Promise<number> {
  try {
    const root = generatedRoot();
    const files = await generateBuiltins();
    const wanted = new Set(files.map((f) => f.path));
    const stale: string[] = [];
    for (const file of files) {
      const path = join(root, file.path);
      const current = await readFile(path, 'utf8').catch(() => null);
      if (current === file.contents) continue;
      stale.push(file.path);
      if (!cli.check) {
        await mkdir(dirname(path), { recursive: true });
        await writeFile(path, file.contents);
      }
    }
    for (const existing of await listGenerated(root)) {
      if (wanted.has(existing)) continue;
      stale.push(`${existing} (no longer generated)`);
      if (!cli.check) await rm(join(root, existing));
    }
    if (cli.check) {
      for (const s of stale) process.stderr.write(`generated/${s} is stale\n`);
      return stale.length === 0 ? EXIT.ok : EXIT.input;
    }
    process.stdout.write(`generated/: ${files.length} files, ${stale.length} updated\n`);
    return EXIT.ok;
  } catch (error) {
    return handleFailure(error);
  }
}

/** Consecutive layers with the same instance, e.g. `2-15: tile_1_7`. */
function layerRuns(assignment: readonly string[]): string[] {
  const runs: string[] = [];
  let start = 0;
  for (let i = 1; i <= assignment.length; i++) {
    if (i < assignment.length && assignment[i] === assignment[start]) continue;
    runs.push(`${start === i - 1 ? start : `${start}-${i - 1}`}: ${assignment[start]}`);
    start = i;
  }
  return runs;
}

/** `tessera layers`: compile every instance of a per-layer plan file and summarise the stack. */
export async function runLayers(
  file: string,
  cli: { block: string; json?: boolean; cache: boolean },
): Promise<number> {
  try {
    const plan = await readLayerPlan(file);
    const { blockQ, blockK } = parseBlockSizes(cli.block);
    const compiled = await compileLayerPlan(plan, blockQ, blockK, cli.cache ? undefined : null, file);
    const instances = [...compiled.instances.entries()].map(([name, p]) => ({
      name,
      key: p.key,
      layers: plan.assignment.filter((n) => n === name).length,
      sparsity: p.stats.sparsity,
      full: p.stats.full,
      partial: p.stats.partial,
    }));
    const speedup = layerPlanSpeedup(compiled);
    if (cli.json) {
      process.stdout.write(
        `${JSON.stringify({ file, layers: plan.layers, instances, assignment: plan.assignment, attentionSpeedup: speedup }, null, 2)}\n`,
      );
      return EXIT.ok;
    }
    process.stdout.write(`${file}: ${plan.layers} layers, blocks ${blockQ} x ${blockK}\n`);
    for (const i of instances) {
      process.stdout.write(
        `  ${i.name.padEnd(16)} ${String(i.layers).padStart(3)} layers  ${(100 * i.sparsity).toFixed(1).padStart(5)}% skipped  ${i.key}\n`,
      );
    }
    process.stdout.write(`  layers   ${layerRuns(plan.assignment).join(', ')}\n`);
    process.stdout.write(
      `  attention speedup predicted from computed blocks: ${speedup.toFixed(2)}x over dense in every layer\n`,
    );
    return EXIT.ok;
  } catch (error) {
    return handleFailure(error);
  }
}
