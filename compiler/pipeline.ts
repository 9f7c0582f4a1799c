/**
 * The compiler as an ordered list of named stages, parse -> check -> lower -> classify -> plan, and the one loop
 * that runs any such list (codegen appends its render stage, codegen/index.ts). Each stage is a pure function
 * of the earlier stages' outputs and the frozen options and declares how its output is dumped as text; a stage
 * that can also *load* that text is a valid entry point (a test or a tool starts from its fixture), and a stage
 * that declares a cache key is cached by the loop: before running, the loop looks for the furthest cacheable
 * stage whose key it can already compute and, on a hit, loads that stage's output and skips to after it.
 */
import { readFile } from 'node:fs/promises';
import { OptionError } from '../core/errors.js';
import type { TileFile } from '../dsl/ast.js';
import { type Diagnostic, hasErrors, TesseraError } from '../dsl/diagnostics.js';
import { parseTile } from '../dsl/parse.js';
import { type SourceFile, START_OF_FILE } from '../dsl/source.js';
import { CompileCache, cacheKey } from './cache.js';
import { checkTile } from './check/index.js';
import { classifyBlocks } from './classify/classify.js';
import type { PatternInstance } from './ir.js';
import { instantiatePattern } from './lower.js';
import type { CompileOptions } from './options.js';
import { buildPlan, checkBlockPairs } from './plan/build.js';
import { deserializePlan, serializePlan } from './plan/io.js';
import type { BlockPlan } from './plan/plan.js';
import type { ProgressCallback } from './progress.js';

/** One output file of a render stage, relative to the output folder. */
export interface Artifact {
  readonly path: string;
  readonly contents: string | Uint8Array;
  /** What the file is, for the report. */
  readonly description: string;
}

/** Everything the stages produce; later stages fill later fields. */
export interface StageOutputs {
  /** The pattern source (a placeholder named after the fixture when the run starts from one). */
  source: SourceFile;
  /** Warnings and notes the stages reported (errors throw instead). */
  notes: Diagnostic[];
  ast?: TileFile;
  pattern?: PatternInstance;
  classes?: Uint8Array;
  classShape?: { rows: number; cols: number };
  plan?: BlockPlan;
  artifacts?: Artifact[];
}

/** One stage: how it runs, how its output is dumped, and optionally loaded back and cached. */
export interface Stage {
  readonly name: string;
  readonly title: string;
  /** `onProgress`, when given, hears how far a long stage has got (stages that loop over block pairs). */
  run(outputs: StageOutputs, options: CompileOptions, onProgress?: ProgressCallback): void;
  /** The stage's output as text (`--dump <stage>`). */
  dump(outputs: StageOutputs): string;
  /**
   * The stage's output from its dump: present when the stage is a valid entry point. `outputs` holds what the
   * earlier stages produced (nothing but the source when the run starts from this stage's fixture).
   */
  load?(text: string, outputs: StageOutputs): Partial<StageOutputs>;
  /**
   * The cache key of this stage's output, or undefined while the outputs it depends on do not exist yet. Only
   * a stage that can `load` may declare one (the cache stores the dump).
   */
  cacheKey?(outputs: StageOutputs, options: CompileOptions): string | undefined;
}

/** Stop on errors; keep warnings and notes for the caller to show. */
function report(outputs: StageOutputs, diagnostics: readonly Diagnostic[]): void {
  if (hasErrors(diagnostics)) throw new TesseraError(diagnostics.filter((d) => d.severity === 'error'));
  outputs.notes.push(...diagnostics);
}

function required<T>(value: T | undefined, stage: string): T {
  if (value === undefined) throw new Error(`internal: stage ${stage} ran before its input existed`);
  return value;
}

/** The class grid as text: one row per query block, '#' full, '+' partial, '.' empty. */
function dumpClasses(o: StageOutputs): string {
  const { rows, cols } = required(o.classShape, 'classify');
  const classes = required(o.classes, 'classify');
  const lines: string[] = [];
  for (let r = 0; r < rows; r++)
    lines.push(Array.from(classes.subarray(r * cols, (r + 1) * cols), (c) => '.+#'[c]).join(''));
  return `# ${rows} x ${cols} block pairs: '#' full, '+' partial, '.' empty\n${lines.join('\n')}`;
}

/** The compiler's stages, source to block plan. */
export const PLAN_STAGES: readonly Stage[] = [
  {
    name: 'parse',
    title: 'Parse',
    run(outputs) {
      const { file, diagnostics } = parseTile(outputs.source);
      report(outputs, diagnostics);
      outputs.ast = required(file ?? undefined, 'parse');
    },
    dump: (o) => JSON.stringify(o.ast, null, 2),
  },
  {
    name: 'check',
    title: 'Check names and types',
    run(outputs) {
      report(outputs, checkTile(required(outputs.ast, 'check'), outputs.source.name));
    },
    dump: (o) => JSON.stringify(o.ast, null, 2),
  },
  {
    name: 'lower',
    title: 'Lower to the pattern IR',
    run(outputs, options) {
      outputs.pattern = instantiatePattern(required(outputs.ast, 'lower'), outputs.source, {
        ...(options.pattern !== undefined ? { pattern: options.pattern } : {}),
        params: options.params,
        sizes: options.sizes,
        ...(options.head !== undefined ? { head: options.head } : {}),
        notes: outputs.notes,
      });
    },
    dump: (o) => JSON.stringify(o.pattern, null, 2),
    // The pattern instance is plain data (names, sizes, the predicate tree), so its JSON is a complete fixture.
    load: (text) => ({ pattern: JSON.parse(text) as PatternInstance }),
  },
  {
    name: 'classify',
    title: 'Classify block pairs',
    run(outputs, options, onProgress) {
      const pattern = required(outputs.pattern, 'classify');
      checkBlockPairs(pattern, options.blockQ, options.blockK);
      outputs.classes = classifyBlocks(pattern, options.blockQ, options.blockK, onProgress);
      const n = pattern.layout.length;
      outputs.classShape = { rows: Math.ceil(n / options.blockQ), cols: Math.ceil(n / options.blockK) };
    },
    dump: dumpClasses,
  },
  {
    name: 'plan',
    title: 'Build the block plan',
    run(outputs, options, onProgress) {
      outputs.plan = buildPlan(
        required(outputs.pattern, 'plan'),
        options.blockQ,
        options.blockK,
        outputs.classes,
        onProgress,
      );
    },
    dump: (o) => serializePlan(required(o.plan, 'plan')),
    // A cached plan was stored by whichever compile met the pattern first: take the instance just lowered, so
    // the declaration it points diagnostics at is this source's (the cache key covers everything else).
    load(text, o) {
      const plan = deserializePlan(text);
      return { plan: o.pattern ? { ...plan, pattern: o.pattern } : plan };
    },
    cacheKey: (o, options) =>
      o.pattern &&
      cacheKey({
        kind: 'plan',
        key: o.pattern.key,
        predicate: o.pattern.predicate,
        layout: o.pattern.layout,
        blockQ: options.blockQ,
        blockK: options.blockK,
      }),
  },
];

/** A stage's progress, for progress output. */
export interface StageEvent {
  readonly stage: string;
  readonly title: string;
  /** `progress`: the running stage has done `done` of `total` units of its work (sent only by long loops). */
  readonly phase: 'start' | 'progress' | 'end' | 'cached';
  readonly seconds?: number;
  readonly done?: number;
  readonly total?: number;
}

/** What to compile and how. Give `source`, or a `fixture` with the stage it is the dump of. */
export interface CompileRequest {
  readonly source?: SourceFile;
  /**
   * Start from a stage's dumped output instead of the source: `text` is what stage `from` dumps (that stage
   * must declare `load`); the run continues with the stage after it. `name` names the fixture in messages.
   */
  readonly fixture?: { readonly from: string; readonly text: string; readonly name?: string };
  readonly options: CompileOptions;
  /** The stages to run, in order (default {@link PLAN_STAGES}; codegen's `STAGES` adds rendering). */
  readonly stages?: readonly Stage[];
  /** Where cacheable stages are cached; null disables the cache. Default: the user's cache folder. */
  readonly cache?: CompileCache | null;
  /** Stop after this stage (its output is then the last one filled). */
  readonly until?: string;
  /** Called as each stage starts, ends or is served from the cache. */
  readonly onStage?: (event: StageEvent) => void;
}

/** Every stage's output plus timings. */
export interface CompileResult {
  readonly outputs: StageOutputs;
  readonly seconds: Readonly<Record<string, number>>;
  /** Whether some stage's output came from the cache. */
  readonly cacheHit: boolean;
}

function stageIndex(stages: readonly Stage[], name: string, what: string): number {
  const index = stages.findIndex((s) => s.name === name);
  if (index < 0)
    throw new OptionError(
      `${what}: unknown stage "${name}"; stages: ${stages.map((s) => s.name).join(', ')}`,
    );
  return index;
}

/** Where the run starts: the source before the first stage, or a fixture loaded by its stage. */
function startingPoint(
  request: CompileRequest,
  stages: readonly Stage[],
): { outputs: StageOutputs; first: number } {
  const { fixture } = request;
  if (!fixture) {
    if (!request.source) throw new OptionError('compile: give a source or a fixture');
    return { outputs: { source: request.source, notes: [] }, first: 0 };
  }
  const index = stageIndex(stages, fixture.from, 'fixture');
  const stage = stages[index]!;
  if (!stage.load)
    throw new OptionError(`fixture: stage "${stage.name}" cannot start a run (it has no load)`);
  const source = request.source ?? { name: fixture.name ?? `<${stage.name} fixture>`, text: '' };
  const outputs: StageOutputs = { source, notes: [] };
  return { outputs: Object.assign(outputs, stage.load(fixture.text, outputs)), first: index + 1 };
}

/**
 * Run the stages in order. Throws `TesseraError` for problems in the user's pattern and `OptionError` for a
 * request that names an unknown stage.
 */
export async function compile(request: CompileRequest): Promise<CompileResult> {
  const stages = request.stages ?? PLAN_STAGES;
  const last = request.until === undefined ? stages.length - 1 : stageIndex(stages, request.until, 'until');
  const cache = request.cache === undefined ? new CompileCache() : request.cache;
  const { outputs, first } = startingPoint(request, stages);
  const seconds: Record<string, number> = {};
  let cacheHit = false;
  for (let i = first; i <= last; i++) {
    const looked = performance.now();
    const hit = cache ? await furthestCached(stages, i, last, outputs, request.options, cache) : null;
    if (hit) {
      Object.assign(outputs, stages[hit.index]!.load!(hit.text, outputs));
      // Skipped stages take no time; the lookup and load are timed under the stage that was loaded.
      seconds[`${stages[hit.index]!.name} (cache)`] = (performance.now() - looked) / 1000;
      for (let j = i; j <= hit.index; j++)
        request.onStage?.({ stage: stages[j]!.name, title: stages[j]!.title, phase: 'cached' });
      cacheHit = true;
      i = hit.index;
      continue;
    }
    const stage = stages[i]!;
    request.onStage?.({ stage: stage.name, title: stage.title, phase: 'start' });
    const started = performance.now();
    const { onStage } = request;
    const onProgress: ProgressCallback | undefined = onStage
      ? (done, total) => onStage({ stage: stage.name, title: stage.title, phase: 'progress', done, total })
      : undefined;
    runGuarded(stage, outputs, request.options, onProgress);
    // Storing the output (serialising a plan can take as long as building it) is part of the stage's time.
    const key = cache && stage.load ? stage.cacheKey?.(outputs, request.options) : undefined;
    if (cache && key !== undefined) await cache.put(key, `${stage.name}.dump`, stage.dump(outputs));
    seconds[stage.name] = (performance.now() - started) / 1000;
    request.onStage?.({ stage: stage.name, title: stage.title, phase: 'end', seconds: seconds[stage.name]! });
  }
  return { outputs, seconds, cacheHit };
}

/** True for V8's stack overflow, which only a deeply chained input can cause here. */
function isStackOverflow(error: unknown): boolean {
  return error instanceof RangeError && /call stack size/i.test(error.message);
}

/**
 * Run one stage; a stack overflow (helpers or rules chained tens of thousands deep) becomes a diagnostic that
 * points at the pattern, instead of an internal error.
 */
function runGuarded(
  stage: Stage,
  outputs: StageOutputs,
  options: CompileOptions,
  onProgress?: ProgressCallback,
): void {
  try {
    stage.run(outputs, options, onProgress);
  } catch (error) {
    if (!isStackOverflow(error)) throw error;
    const declaration = outputs.pattern?.declaration;
    throw new TesseraError([
      {
        code: 'TP314',
        severity: 'error',
        message: `the pattern is chained too deeply to ${stage.title.toLowerCase()} (the stack ran out)`,
        range: declaration?.range ?? START_OF_FILE,
        file: declaration?.file ?? outputs.source.name,
        hint: 'a `let` or `fn` chain thousands of links long, or tens of thousands of rules: fold them into fewer, wider expressions',
      },
    ]);
  }
}

/** The furthest stage in [from, last] whose key is computable now and whose output is cached. */
async function furthestCached(
  stages: readonly Stage[],
  from: number,
  last: number,
  outputs: StageOutputs,
  options: CompileOptions,
  cache: CompileCache,
): Promise<{ index: number; text: string } | null> {
  for (let j = last; j >= from; j--) {
    const stage = stages[j]!;
    if (!stage.load || !stage.cacheKey) continue;
    const key = stage.cacheKey(outputs, options);
    if (key === undefined) continue;
    const stored = await cache.get(key, `${stage.name}.dump`);
    if (stored) return { index: j, text: stored.toString('utf8') };
  }
  return null;
}

/** Read a `.tile` file as a source. */
export async function readSource(path: string): Promise<SourceFile> {
  return { name: path, text: await readFile(path, 'utf8') };
}
