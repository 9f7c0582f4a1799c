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

/** Diagnostics printed in full before the rest are only counted (a binary file yields thousands). */
export const MAX_SHOWN_DIAGNOSTICS = 20;

/**
 * The exception that carries diagnostics to the user. Deep code throws this (never a bare `Error`)
 * when the input is at fault; the CLI renders it with {@link renderDiagnostics}.
 */
export class TesseraError extends UserError {
  readonly diagnostics: readonly Diagnostic[];

  constructor(diagnostics: readonly Diagnostic[]) {
    const shown = diagnostics
      .slice(0, MAX_SHOWN_DIAGNOSTICS)
      .map(
        (d) =>
          `${d.file}:${d.range.start.line}:${d.range.start.column}: ${d.code} ${escapeControl(d.message)}`,
      );
    const more = diagnostics.length - shown.length;
    super([...shown, ...(more > 0 ? [`... and ${more} more`] : [])].join('\n'));
    this.diagnostics = diagnostics;
  }
}

/** Printable form of one character: control characters and invalid text as escapes, so a binary file cannot drive the terminal. */
function visible(ch: string): string {
  const code = ch.codePointAt(0)!;
  if (ch === '\t') return ' ';
  if (code < 0x20 || code === 0x7f || (code >= 0x80 && code < 0xa0))
    return `\\x${code.toString(16).padStart(2, '0')}`;
  if (code === 0xfffd) return '?';
  return ch;
}

/** `text` with control characters escaped (see {@link visible}). */
export function escapeControl(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  return /[\u0000-\u001f\u007f-\u009f\ufffd]/.test(text) ? Array.from(text, visible).join('') : text;
}

/** Characters of a source line shown around the caret; longer lines are cut to a window. */
const EXCERPT_WIDTH = 120;

/** The source line holding `offset`, found without splitting the whole text. */
function lineAt(text: string, line: number, offset: number): string | undefined {
  if (offset >= 0 && offset <= text.length) {
    const from = text.lastIndexOf('\n', offset - 1) + 1;
    const to = text.indexOf('\n', offset);
    return text.slice(from, to < 0 ? text.length : to).replace(/\r$/, '');
  }
  return text.split(/\r?\n/)[line - 1];
}

/**
 * Render one diagnostic as `file:line:col: error TP201: message`, the source line, a caret under the range
 * and the hint, the way compilers users already know print them. Control characters in the source and the
 * message are escaped and a long line is cut to a window around the caret.
 */
export function renderDiagnostic(diagnostic: Diagnostic, source?: SourceFile): string {
  const { start, end } = diagnostic.range;
  const head = `${diagnostic.file}:${start.line}:${start.column}: ${diagnostic.severity} ${diagnostic.code}: ${escapeControl(diagnostic.message)}`;
  const lines = [head];
  const sourceLine = source ? lineAt(source.text, start.line, start.offset) : undefined;
  if (sourceLine !== undefined) {
    const gutter = `${start.line} | `;
    const chars = Array.from(sourceLine.slice(0, start.column - 1 + EXCERPT_WIDTH * 4));
    const from = Math.max(0, start.column - 1 - EXCERPT_WIDTH / 2);
    const width =
      end.line === start.line
        ? Math.max(1, end.column - start.column)
        : Math.max(1, sourceLine.length - start.column + 1);
    const shown = chars.slice(from, from + EXCERPT_WIDTH).map(visible);
    const caretAt = shown.slice(0, start.column - 1 - from).join('').length;
    const caretWidth = Math.max(
      1,
      shown.slice(start.column - 1 - from, start.column - 1 - from + width).join('').length,
    );
    const cutLeft = from > 0 ? '...' : '';
    const cutRight = from + EXCERPT_WIDTH < sourceLine.length ? '...' : '';
    lines.push(`${gutter}${cutLeft}${shown.join('')}${cutRight}`);
    lines.push(
      `${' '.repeat(gutter.length - 2)}| ${' '.repeat(cutLeft.length + caretAt)}${'^'.repeat(caretWidth)}`,
    );
  }
  if (diagnostic.hint) lines.push(`  hint: ${escapeControl(diagnostic.hint)}`);
  return lines.join('\n');
}

/** Render several diagnostics, each followed by a blank line. */
export function renderDiagnostics(diagnostics: readonly Diagnostic[], source?: SourceFile): string {
  return diagnostics.map((d) => renderDiagnostic(d, source)).join('\n\n');
}
