/**
 * `compile()`: the public entry that runs the named stages in order, times them, consults the
 * content-addressed cache for the plan, and returns every stage's output. The CLI, the runtime and tests all
 * compile through here.
 */
import { readFile } from 'node:fs/promises';
import type { SourceFile } from '../dsl/source.js';
import { CompileCache, cacheKey } from './cache.js';
import type { CompileOptions } from './options.js';
import { STAGES, type StageName, type StageOutputs } from './pipeline.js';
import { deserializePlan, serializePlan } from './plan/io.js';

/** What to compile and how. */
export interface CompileRequest {
  readonly source: SourceFile;
  readonly options: CompileOptions;
  /** Where plans are cached; null disables the cache. Default: the user's cache folder. */
  readonly cache?: CompileCache | null;
  /** Stop after this stage (its output is then the last one filled). */
  readonly until?: StageName;
  /** Called as each stage starts and ends, for progress output. */
  readonly onStage?: (event: {
    stage: StageName;
    title: string;
    phase: 'start' | 'end' | 'cached';
    seconds?: number;
  }) => void;
}

/** Every stage's output plus timings. */
export interface CompileResult {
  readonly outputs: StageOutputs;
  readonly seconds: Partial<Record<StageName, number>>;
  readonly cacheHit: boolean;
}

/** The cache key of a lowered pattern at given block sizes. */
export function planCacheKey(outputs: StageOutputs, options: CompileOptions): string {
  const pattern = outputs.pattern!;
  return cacheKey({
    kind: 'plan',
    key: pattern.key,
    predicate: pattern.predicate,
    layout: pattern.layout,
    blockQ: options.blockQ,
    blockK: options.blockK,
  });
}

/** Run the pipeline. Throws `TesseraError` for problems in the user's pattern. */
export async function compile(request: CompileRequest): Promise<CompileResult> {
  const outputs: StageOutputs = { source: request.source, notes: [] };
  const seconds: Partial<Record<StageName, number>> = {};
  const cache = request.cache === undefined ? new CompileCache() : request.cache;
  let cacheHit = false;
  for (const stage of STAGES) {
    if ((stage.name === 'classify' || stage.name === 'plan') && cache && outputs.pattern) {
      const cached = await cache.get(planCacheKey(outputs, request.options), 'plan.json');
      if (cached) {
        outputs.plan = deserializePlan(cached.toString('utf8'));
        cacheHit = true;
        request.onStage?.({ stage: stage.name, title: stage.title, phase: 'cached' });
        if (request.until === stage.name) break;
        continue;
      }
    }
    request.onStage?.({ stage: stage.name, title: stage.title, phase: 'start' });
    const started = performance.now();
    stage.run(outputs, request.options);
    seconds[stage.name] = (performance.now() - started) / 1000;
    request.onStage?.({ stage: stage.name, title: stage.title, phase: 'end', seconds: seconds[stage.name]! });
    if (stage.name === 'plan' && cache && !cacheHit)
      await cache.put(planCacheKey(outputs, request.options), 'plan.json', serializePlan(outputs.plan!));
    if (request.until === stage.name) break;
  }
  return { outputs, seconds, cacheHit };
}

/** Read a `.tile` file as a source. */
export async function readSource(path: string): Promise<SourceFile> {
  return { name: path, text: await readFile(path, 'utf8') };
}
