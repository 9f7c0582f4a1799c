/** The sink checks write diagnostics into. */
import type { Diagnostic, DiagnosticCode } from '../../dsl/diagnostics.js';
import type { SourceRange } from '../../dsl/source.js';

/** Collects diagnostics for one file. */
export class Reporter {
  readonly diagnostics: Diagnostic[] = [];

  constructor(readonly fileName: string) {}

  /** Record an error at `range`. */
  error(code: DiagnosticCode, range: SourceRange, message: string, hint?: string): void {
    this.diagnostics.push({
      code,
      severity: 'error',
      message,
      range,
      file: this.fileName,
      ...(hint ? { hint } : {}),
    });
  }
}
