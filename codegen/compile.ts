/**
 * `compile` as the package exports it: the pipeline (compiler/pipeline.ts) with codegen's render stage, taking
 * what a user passes first — the pattern text and a few settings — as well as the pipeline's own request. Any
 * other argument is an {@link OptionError} that shows the accepted forms, never a TypeError from deep inside.
 *
 *   await compile(text, { sizes: { t: 8, h: 45, w: 80 }, params: { a: 2 }, targets: ['flex'] })
 *   await compile({ source: text, sizes: { t: 8, h: 45, w: 80 } })
 *   await compile({ source: { name, text }, options: makeCompileOptions({...}), stages: STAGES })
 */
import type { CompileCache } from '../compiler/cache.js';
import { type CompileOptions, makeCompileOptions } from '../compiler/options.js';
import {
  type CompileRequest,
  type CompileResult,
  compile as runPipeline,
  type StageEvent,
} from '../compiler/pipeline.js';
import { OptionError } from '../core/errors.js';
import type { SourceFile } from '../dsl/source.js';
import { parseTargets, STAGES, type Target } from './index.js';

/** Settings of a compilation, all optional: the pattern's defaults and blocks of 128 x 128 otherwise. */
export interface CompileSettings {
  /** The name the source is reported under in diagnostics (default `<input>`). */
  readonly name?: string;
  /** Which pattern of the text, when it holds several. */
  readonly pattern?: string;
  /** Pattern parameters, e.g. `{ a: 2 }`. */
  readonly params?: Record<string, number | boolean>;
  /** Layout sizes, e.g. `{ t: 8, h: 45, w: 80 }`. */
  readonly sizes?: Record<string, number>;
  /** Block size: `128`, `[128, 64]` (query, key) or `'128x64'`. */
  readonly block?: number | readonly [number, number] | string;
  /** Artefacts to render (`ts`, `flex`, `png`, `wgsl`, `cuda`), as a list or comma-separated; default none. */
  readonly targets?: readonly Target[] | string;
  /** The compile cache; null disables it (default: tessera's cache folder). */
  readonly cache?: CompileCache | null;
  /** Called as each stage starts, ends or is served from the cache. */
  readonly onStage?: (event: StageEvent) => void;
}

const SETTINGS = ['name', 'pattern', 'params', 'sizes', 'block', 'targets', 'cache', 'onStage'] as const;
const REQUEST = ['source', 'fixture', 'options', 'stages', 'cache', 'until', 'onStage'] as const;

const FORMS =
  'compile(text, { sizes, params, block, targets }), compile({ source: text, sizes, ... }) or ' +
  'compile({ source: { name, text }, options: makeCompileOptions({...}) })';

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  if (x instanceof Uint8Array) return 'bytes (decode the file to a string first)';
  return typeof x === 'object'
    ? `an object with ${Object.keys(x).join(', ') || 'no fields'}`
    : `a ${typeof x}`;
}

function blockSizes(block: CompileSettings['block']): { blockQ?: number; blockK?: number } {
  if (block === undefined) return {};
  if (typeof block === 'number') return { blockQ: block, blockK: block };
  if (typeof block === 'string') {
    const match = /^(\d+)(?:x(\d+))?$/.exec(block.trim());
    if (!match) throw new OptionError(`compile: block "${block}" is not like 128 or 128x64`);
    return { blockQ: Number(match[1]), blockK: Number(match[2] ?? match[1]) };
  }
  if (Array.isArray(block) && block.length === 2) return { blockQ: block[0], blockK: block[1] };
  throw new OptionError(`compile: block must be 128, [128, 64] or "128x64", got ${describe(block)}`);
}

function sourceOf(source: unknown, name: string | undefined): SourceFile {
  if (typeof source === 'string') return { name: name ?? '<input>', text: source };
  if (isRecord(source) && typeof source.text === 'string')
    return { name: typeof source.name === 'string' ? source.name : (name ?? '<input>'), text: source.text };
  throw new OptionError(
    `compile: source must be the pattern text or { name, text }, got ${describe(source)}`,
  );
}

function fromSettings(source: SourceFile, settings: Record<string, unknown>): CompileRequest {
  const unknown = Object.keys(settings).filter((k) => !(SETTINGS as readonly string[]).includes(k));
  if (unknown.length > 0)
    throw new OptionError(`compile: unknown setting ${unknown.join(', ')}; settings: ${SETTINGS.join(', ')}`);
  const s = settings as CompileSettings;
  const targets =
    s.targets === undefined
      ? []
      : typeof s.targets === 'string'
        ? parseTargets(s.targets)
        : parseTargets(s.targets.join(','));
  const options: CompileOptions = makeCompileOptions({
    ...(s.pattern === undefined ? {} : { pattern: s.pattern }),
    ...(s.params === undefined ? {} : { params: s.params }),
    ...(s.sizes === undefined ? {} : { sizes: s.sizes }),
    ...blockSizes(s.block),
    targets,
  });
  return {
    source,
    options,
    stages: STAGES,
    ...(s.cache === undefined ? {} : { cache: s.cache }),
    ...(s.onStage === undefined ? {} : { onStage: s.onStage }),
  };
}

/**
 * Compile a pattern (see the module comment for the accepted forms). Resolves to every stage's output
 * (`outputs.plan` is the block plan, `outputs.artifacts` the rendered files) and the stage timings; rejects with
 * a `TesseraError` (diagnostics with line and column) for a wrong pattern and an `OptionError` for wrong
 * arguments.
 */
export async function compile(
  input: string | SourceFile | CompileRequest | (CompileSettings & { source: string | SourceFile }),
  settings?: CompileSettings,
): Promise<CompileResult> {
  if (typeof input === 'string')
    return runPipeline(fromSettings(sourceOf(input, settings?.name), { ...settings }));
  if (!isRecord(input)) throw new OptionError(`compile: expected ${FORMS}; got ${describe(input)}`);
  if (typeof input.text === 'string' && !('source' in input)) {
    return runPipeline(fromSettings(sourceOf(input, undefined), { ...settings }));
  }
  if (settings !== undefined)
    throw new OptionError(
      `compile: settings go in the first argument's object when it is one; expected ${FORMS}`,
    );
  if ('options' in input || 'fixture' in input) {
    const unknown = Object.keys(input).filter((k) => !(REQUEST as readonly string[]).includes(k));
    if (unknown.length > 0)
      throw new OptionError(
        `compile: unknown field ${unknown.join(', ')} of a request; fields: ${REQUEST.join(', ')}`,
      );
    const request = input as CompileRequest;
    const options = Object.isFrozen(request.options)
      ? request.options
      : makeCompileOptions(request.options as Parameters<typeof makeCompileOptions>[0]);
    return runPipeline({
      ...request,
      ...(request.source === undefined ? {} : { source: sourceOf(request.source, undefined) }),
      options,
      stages: request.stages ?? STAGES,
    });
  }
  if ('source' in input) {
    const { source, ...rest } = input as { source: unknown } & Record<string, unknown>;
    return runPipeline(fromSettings(sourceOf(source, rest.name as string | undefined), rest));
  }
  throw new OptionError(`compile: expected ${FORMS}; got ${describe(input)}`);
}
