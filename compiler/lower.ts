/**
 * The lower stage: one pattern of a checked file, with its parameters and layout sizes bound, becomes a
 * `PatternInstance` whose predicate is a folded boolean IR over token coordinates:
 *   predicate = (attend_1 || attend_2 || ...) && !(deny_1 || deny_2 || ...)
 * `require` statements are evaluated first, in source order; a failing one reports the user's message.
 */
import type { LayoutDecl, PatternDecl, TileFile } from '../dsl/ast.js';
import { type Diagnostic, TesseraError } from '../dsl/diagnostics.js';
import type { SourceFile } from '../dsl/source.js';
import { HEAD_NAME } from './check/scope.js';
import { unknownNameHint } from './check/suggest.js';
import { constBool, constInt, makeAnd, makeNot, makeOr } from './fold.js';
import type { BoolExpr, PatternInstance, Segment } from './ir.js';
import { type ConcreteLayout, layoutSignature } from './layout.js';
import { bindParams, selectPattern } from './lower/bind-params.js';
import type { Interval } from './lower/bounds.js';
import { type BoundLayout, bindLayout } from './lower/build-layout.js';
import { Env } from './lower/env.js';
import { Lowerer, type LowerTarget } from './lower/lower-expr.js';
import { optionError } from './lower/options-errors.js';
import { patternReadsHead } from './lower/reads-head.js';

/** What to instantiate: the pattern (needed when the file has several), parameter overrides, layout sizes. */
export interface InstantiateOptions {
  readonly pattern?: string;
  readonly params?: Readonly<Record<string, number | boolean>>;
  readonly sizes?: Readonly<Record<string, number>>;
  /** The head to evaluate a pattern that reads `head` for (ignored by patterns that do not). */
  readonly head?: number;
  /** Where to put the warnings and notes lowering finds (TP315, TP316); dropped when absent. */
  readonly notes?: Diagnostic[];
}

/** A parameter value as it appears in a pattern key: bools as 0/1, a minus sign as `m` (keys are symbols). */
function keyValue(v: number | boolean): string {
  if (typeof v === 'boolean') return v ? '1' : '0';
  return v < 0 ? `m${-v}` : String(v);
}

/** The identity of an instance, e.g. `attention_tile_a2_t8x45x80`: name, parameters in order, layout. */
export function patternKey(
  pattern: PatternDecl,
  params: Readonly<Record<string, number | boolean>>,
  layout: ConcreteLayout,
  head?: number,
): string {
  const parts = [
    pattern.name.name,
    ...pattern.params.map((p) => `${p.name.name}${keyValue(params[p.name.name]!)}`),
    // A pattern that reads `head` has an instance per head.
    ...(head === undefined ? [] : [`head${head}`]),
    layoutSignature(layout),
  ];
  return parts.join('_');
}

function lowerTarget(layout: ConcreteLayout): LowerTarget {
  const axisIndex = new Map(layout.axisNames.map((n, i) => [n, i] as const));
  const coordBounds: Interval[] = [
    ...layout.videoSizes.map((s) => ({ lo: 0, hi: s - 1 })),
    ...(layout.textAxis ? [{ lo: 0, hi: Math.max(0, layout.textLength - 1) }] : []),
  ];
  const axisSegment: Segment[] = layout.axisNames.map((_, i) =>
    i < layout.videoAxes.length ? 'video' : 'text',
  );
  return { axisIndex, coordBounds, axisSegment, hasText: layout.textAxis !== null, layoutName: layout.name };
}

function findLayout(file: TileFile, pattern: PatternDecl, fileName: string): LayoutDecl {
  const layouts = file.items.filter((i): i is LayoutDecl => i.kind === 'LayoutDecl');
  const decl = layouts.find((l) => l.name.name === pattern.layout.name);
  if (decl) return decl;
  const hint = unknownNameHint(
    pattern.layout.name,
    layouts.map((l) => l.name.name),
    'layout',
  );
  throw new TesseraError([
    optionError(fileName, 'TP204', pattern.layout.range, `unknown layout \`${pattern.layout.name}\``, hint),
  ]);
}

function describeBindings(params: Readonly<Record<string, number | boolean>>, bound: BoundLayout): string {
  const show = (r: Readonly<Record<string, number | boolean>>) =>
    Object.entries(r)
      .map(([k, v]) => `${k} = ${v}`)
      .join(', ');
  const p = show(params);
  return `${p ? `parameters: ${p}; ` : ''}sizes: ${show(bound.sizes)}`;
}

/**
 * Instantiate one pattern of a checked file. Throws a `TesseraError` (TP3xx, and TP2xx for problems the
 * checker would have reported) when the pattern cannot be instantiated with these options.
 */
export function instantiatePattern(
  file: TileFile,
  source: SourceFile,
  options: InstantiateOptions = {},
): PatternInstance {
  const fileName = source.name;
  const pattern = selectPattern(file, fileName, options.pattern);
  const layoutDecl = findLayout(file, pattern, fileName);
  const constants = new Lowerer(fileName, {
    axisIndex: new Map(),
    coordBounds: [],
    axisSegment: [],
    hasText: false,
    layoutName: layoutDecl.name.name,
  });
  const params = bindParams(pattern, options.params ?? {}, fileName, constants);
  const bound = bindLayout(layoutDecl, options.sizes ?? {}, fileName, constants);
  const lowerer = new Lowerer(fileName, lowerTarget(bound.layout));

  const fileEnv = new Env(null);
  fileEnv.declareHelpers(file.items);
  const env = new Env(fileEnv);
  for (const [name, value] of Object.entries(bound.sizes))
    env.set(name, { kind: 'value', value: { type: 'int', ir: constInt(value) } });
  for (const [name, value] of Object.entries(params)) {
    env.set(name, {
      kind: 'value',
      value:
        typeof value === 'boolean'
          ? { type: 'bool', ir: constBool(value) }
          : { type: 'int', ir: constInt(value) },
    });
  }
  const readsHead = patternReadsHead(file, pattern);
  if (readsHead) {
    if (options.head === undefined || !Number.isSafeInteger(options.head) || options.head < 0)
      throw new TesseraError([
        optionError(
          fileName,
          'TP319',
          pattern.name.range,
          `pattern \`${pattern.name.name}\` reads \`head\`, so it is compiled once per attention head`,
          'use it in a layer plan that gives the model\'s head count ("heads": 24)',
        ),
      ]);
    env.set(HEAD_NAME, { kind: 'value', value: { type: 'int', ir: constInt(options.head) } });
  }
  env.declareHelpers(pattern.items);

  const failures: Diagnostic[] = [];
  for (const item of pattern.items) {
    if (item.kind !== 'RequireStmt') continue;
    let holds: BoolExpr;
    try {
      holds = lowerer.bool(item.condition, env);
    } catch (error) {
      // After a failed requirement, later ones may divide by the bad value; the first message is the useful one.
      if (error instanceof TesseraError && failures.length > 0) continue;
      throw error;
    }
    if (holds.op !== 'bool') {
      failures.push(
        optionError(
          fileName,
          'TP215',
          item.condition.range,
          '`require` must not depend on the tokens `q` and `k`',
        ),
      );
    } else if (!holds.value) {
      failures.push(
        optionError(
          fileName,
          'TP308',
          item.range,
          item.message,
          `requirement \`${source.text.slice(item.condition.range.start.offset, item.condition.range.end.offset)}\` failed with ${describeBindings(params, bound)}`,
        ),
      );
    }
  }
  if (failures.length > 0) throw new TesseraError(failures);
  lowerer.prewarmLets(file.items, fileEnv);
  lowerer.prewarmLets(pattern.items, env);

  const attends: BoolExpr[] = [];
  const denies: BoolExpr[] = [];
  for (const item of pattern.items) {
    if (item.kind === 'AttendRule') attends.push(lowerer.bool(item.condition, env));
    if (item.kind === 'DenyRule') denies.push(lowerer.bool(item.condition, env));
  }
  // A rule applies where its condition is true; where it is unknown (kleene.ts) neither rule applies.
  const predicate = makeAnd([makeOr(attends), makeNot(makeOr(denies))]);
  options.notes?.push(...lowerer.notes);
  return {
    key: patternKey(pattern, params, bound.layout, readsHead ? options.head : undefined),
    name: pattern.name.name,
    params,
    layout: bound.layout,
    predicate,
    // `pattern name`, not the whole body: kernel diagnostics underline the declaration's head.
    declaration: { file: fileName, range: { start: pattern.range.start, end: pattern.name.range.end } },
  };
}
