/**
 * The CLI's file and library commands: `check`, `format`, `patterns`, `regenerate` and `layers`. The
 * compile and inspect commands are in `commands.ts`.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CompileCache } from '../compiler/cache.js';
import { checkTile } from '../compiler/check/index.js';
import { choiceKey, describeChoice, type LayerChoice } from '../compiler/layer-heads.js';
import {
  layerPlanGrid,
  layerPlanSpeedup,
  layersUsing,
  planLayers,
  readLayerPlan,
} from '../compiler/layer-plan.js';
import { parseBlockSizes } from '../compiler/options.js';
import { readSource } from '../compiler/pipeline.js';
import { EXIT } from '../core/errors.js';
import { hasErrors } from '../dsl/diagnostics.js';
import { formatTile } from '../dsl/format.js';
import { parseTile } from '../dsl/parse.js';
import { BUILTIN_PATTERNS } from '../patterns/index.js';
import { handleFailure, printDiagnostics } from './exit.js';
import { generateBuiltins, generatedRoot, listGenerated } from './generated-files.js';
import { writeLayerFlex } from './layer-flex.js';

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
export async function runRegenerate(cli: { check?: boolean }): Promise<number> {
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

/** Consecutive layers with the same choice, e.g. `2-15: tile_1_7` or `3: heads 0-11: spatial, 12-23: temporal`. */
function layerRuns(assignment: readonly LayerChoice[]): string[] {
  const runs: string[] = [];
  const keys = assignment.map(choiceKey);
  let start = 0;
  for (let i = 1; i <= assignment.length; i++) {
    if (i < assignment.length && keys[i] === keys[start]) continue;
    runs.push(`${start === i - 1 ? start : `${start}-${i - 1}`}: ${describeChoice(assignment[start]!)}`);
    start = i;
  }
  return runs;
}

/** `tessera layers`: compile every instance of a per-layer plan file and summarise the stack. */
export async function runLayers(
  file: string,
  cli: { block: string; json?: boolean; cache: boolean; flex?: string },
): Promise<number> {
  try {
    const plan = await readLayerPlan(file);
    const { blockQ, blockK } = parseBlockSizes(cli.block);
    const cache = cli.cache ? new CompileCache() : null;
    const compiled = await planLayers(plan, layerPlanGrid(plan), { blockQ, blockK }, cache);
    if (cache?.problem) process.stderr.write(`tessera: warning: ${cache.problem}\n`);
    const instances = [...compiled.instances.entries()].map(([name, instance]) => {
      // An instance whose pattern reads `head` has a plan per head: its key names the distinct plans, its
      // block counts are the mean over the heads.
      const plans = 'perHead' in instance ? instance.perHead.map((h) => h.plan) : [instance.plan];
      const distinct = [...new Set(plans)];
      const mean = (f: (p: (typeof plans)[number]) => number) =>
        plans.reduce((sum, p) => sum + f(p), 0) / plans.length;
      return {
        name,
        key:
          distinct.length === 1
            ? distinct[0]!.key
            : `${distinct.length} plans over the heads: ${distinct.map((p) => p.key).join(', ')}`,
        layers: layersUsing(plan, name),
        sparsity: mean((p) => p.stats.sparsity),
        full: mean((p) => p.stats.full),
        partial: mean((p) => p.stats.partial),
      };
    });
    const speedup = layerPlanSpeedup(compiled);
    const flexFiles = cli.flex === undefined ? [] : await writeLayerFlex(compiled, cli.flex);
    if (cli.json) {
      process.stdout.write(
        `${JSON.stringify({ file, layers: plan.layers, instances, assignment: plan.assignment, attentionSpeedup: speedup, ...(cli.flex !== undefined ? { flex: flexFiles } : {}) }, null, 2)}\n`,
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
    if (cli.flex !== undefined)
      process.stdout.write(
        flexFiles.length === 0
          ? `  no layer splits its heads: nothing written to ${cli.flex} (tessera compile --target flex exports one pattern)\n`
          : `${flexFiles.map((f) => `  wrote ${f}\n`).join('')}`,
      );
    return EXIT.ok;
  } catch (error) {
    return handleFailure(error);
  }
}
