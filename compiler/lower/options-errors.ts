/** TP3xx diagnostics about compile options (pattern choice, `--set`, `--layout`), which have no source text. */
import type { Diagnostic, DiagnosticCode } from '../../dsl/diagnostics.js';
import type { SourceRange } from '../../dsl/source.js';

/** A TP3xx error diagnostic. */
export function optionError(
  file: string,
  code: DiagnosticCode,
  range: SourceRange,
  message: string,
  hint?: string,
): Diagnostic {
  return { code, severity: 'error', message, range, file, ...(hint ? { hint } : {}) };
}

/** `value` is an integer the 32-bit targets can hold. */
export function isInt32(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= -(2 ** 31) && value <= 2 ** 31 - 1;
}
