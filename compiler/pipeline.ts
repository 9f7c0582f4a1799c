/**
 * The compiler driver's named stages, in order: parse -> check -> lower -> classify -> plan -> render. Each
 * stage is a pure function of the previous stage's output and the frozen options; `--dump <stage>` prints any
 * stage's output, and tests can start from any stage's fixture. Rendering lives here, not in `compiler/`, so
 * imports keep flowing one way (dsl -> compiler -> codegen -> driver).
 */

import { type Artifact, renderArtifacts } from '../codegen/index.js';
import type { TileFile } from '../dsl/ast.js';
import { type Diagnostic, hasErrors, TesseraError } from '../dsl/diagnostics.js';
import { parseTile } from '../dsl/parse.js';
import type { SourceFile } from '../dsl/source.js';
import { checkTile } from './check/index.js';
import { classifyBlocks } from './classify/classify.js';
import type { PatternInstance } from './ir.js';
import { instantiatePattern } from './lower.js';
import type { CompileOptions } from './options.js';
import { buildPlan } from './plan/build.js';
import { serializePlan } from './plan/io.js';
import type { BlockPlan } from './plan/plan.js';

/** The stage names, in order. */
export const STAGE_NAMES = ['parse', 'check', 'lower', 'classify', 'plan', 'render'] as const;

/** A stage name. */
export type StageName = (typeof STAGE_NAMES)[number];

/** Everything the stages produce; later stages fill later fields. */
export interface StageOutputs {
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

/** One stage: how it runs and how its output is dumped as text. */
export interface Stage {
  readonly name: StageName;
  readonly title: string;
  run(outputs: StageOutputs, options: CompileOptions): void;
  dump(outputs: StageOutputs): string;
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

/** The ordered stage list. */
export const STAGES: readonly Stage[] = [
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
      });
    },
    dump: (o) => JSON.stringify(o.pattern, null, 2),
  },
  {
    name: 'classify',
    title: 'Classify block pairs',
    run(outputs, options) {
      const pattern = required(outputs.pattern, 'classify');
      outputs.classes = classifyBlocks(pattern, options.blockQ, options.blockK);
      const n = pattern.layout.length;
      outputs.classShape = { rows: Math.ceil(n / options.blockQ), cols: Math.ceil(n / options.blockK) };
    },
    dump(o) {
      const { rows, cols } = o.classShape!;
      const lines: string[] = [];
      for (let r = 0; r < rows; r++)
        lines.push(Array.from(o.classes!.subarray(r * cols, (r + 1) * cols), (c) => '.+#'[c]).join(''));
      return `# ${rows} x ${cols} block pairs: '#' full, '+' partial, '.' empty\n${lines.join('\n')}`;
    },
  },
  {
    name: 'plan',
    title: 'Build the block plan',
    run(outputs, options) {
      outputs.plan = buildPlan(
        required(outputs.pattern, 'plan'),
        options.blockQ,
        options.blockK,
        outputs.classes,
      );
    },
    dump: (o) => serializePlan(o.plan!),
  },
  {
    name: 'render',
    title: 'Render kernels and bindings',
    run(outputs, options) {
      outputs.artifacts = renderArtifacts(required(outputs.plan, 'render'), outputs.source, options.targets);
    },
    dump: (o) =>
      (o.artifacts ?? [])
        .map(
          (a) =>
            `// ${a.path}\n${typeof a.contents === 'string' ? a.contents : `<${a.contents.byteLength} bytes>`}`,
        )
        .join('\n\n'),
  },
];
