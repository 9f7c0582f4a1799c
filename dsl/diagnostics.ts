import { UserError } from '../core/errors.js';
import type { DiagnosticCode } from './codes.js';
import type { SourceFile, SourceRange } from './source.js';

// Re-exported so code that builds diagnostics needs one import; the registry itself lives in codes.ts.
export type { DiagnosticCode } from './codes.js';

/** How bad a diagnostic is; only errors stop compilation. */
export type Severity = 'error' | 'warning' | 'info';

/** One finding about the user's input, with the place it points at and a hint to fix it. */
export interface Diagnostic {
  /** A stable code registered in `CODES` (dsl/codes.ts). */
  readonly code: DiagnosticCode;
  readonly severity: Severity;
  readonly message: string;
  readonly range: SourceRange;
  /** The source file name the range refers to. */
  readonly file: string;
  readonly hint?: string;
}

/** True when any diagnostic is an error. */
export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === 'error');
}

/**
 * The exception that carries diagnostics to the user. Deep code throws this (never a bare `Error`)
 * when the input is at fault; the CLI renders it with {@link renderDiagnostics}.
 */
export class TesseraError extends UserError {
  readonly diagnostics: readonly Diagnostic[];

  constructor(diagnostics: readonly Diagnostic[]) {
    super(
      diagnostics
        .map((d) => `${d.file}:${d.range.start.line}:${d.range.start.column}: ${d.code} ${d.message}`)
        .join('\n'),
    );
    this.diagnostics = diagnostics;
  }
}

/**
 * Render one diagnostic as `file:line:col: error TP201: message`, the source line, a caret under the range
 * and the hint, the way compilers users already know print them.
 */
export function renderDiagnostic(diagnostic: Diagnostic, source?: SourceFile): string {
  const { start, end } = diagnostic.range;
  const head = `${diagnostic.file}:${start.line}:${start.column}: ${diagnostic.severity} ${diagnostic.code}: ${diagnostic.message}`;
  const lines = [head];
  const sourceLine = source?.text.split(/\r?\n/)[start.line - 1];
  if (sourceLine !== undefined) {
    const gutter = `${start.line} | `;
    const width =
      end.line === start.line
        ? Math.max(1, end.column - start.column)
        : Math.max(1, sourceLine.length - start.column + 1);
    lines.push(`${gutter}${sourceLine}`);
    lines.push(`${' '.repeat(gutter.length - 2)}| ${' '.repeat(start.column - 1)}${'^'.repeat(width)}`);
  }
  if (diagnostic.hint) lines.push(`  hint: ${diagnostic.hint}`);
  return lines.join('\n');
}

/** Render several diagnostics, each followed by a blank line. */
export function renderDiagnostics(diagnostics: readonly Diagnostic[], source?: SourceFile): string {
  return diagnostics.map((d) => renderDiagnostic(d, source)).join('\n\n');
}
