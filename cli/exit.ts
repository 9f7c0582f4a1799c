/**
 * The one place where failures become messages: a {@link UserError} is printed plainly (diagnostics with
 * source excerpts and carets), anything else is reported as a bug with its stack.
 */
import { readFileSync } from 'node:fs';
import { EXIT, UserError } from '../core/errors.js';
import {
  type Diagnostic,
  MAX_SHOWN_DIAGNOSTICS,
  renderDiagnostics,
  TesseraError,
} from '../dsl/diagnostics.js';
import type { SourceFile } from '../dsl/source.js';

/** The source text a diagnostic points into, read again from disk (null if it cannot be read). */
function sourceFor(diagnostic: Diagnostic, sources: ReadonlyMap<string, SourceFile>): SourceFile | undefined {
  const known = sources.get(diagnostic.file);
  if (known) return known;
  try {
    return { name: diagnostic.file, text: readFileSync(diagnostic.file, 'utf8') };
  } catch {
    return undefined;
  }
}

/** Print diagnostics with excerpts: the first {@link MAX_SHOWN_DIAGNOSTICS}, then a count of the rest. */
export function printDiagnostics(
  diagnostics: readonly Diagnostic[],
  sources: ReadonlyMap<string, SourceFile> = new Map(),
): void {
  const shown = diagnostics.slice(0, MAX_SHOWN_DIAGNOSTICS);
  for (const d of shown) process.stderr.write(`${renderDiagnostics([d], sourceFor(d, sources))}\n\n`);
  const more = diagnostics.length - shown.length;
  if (more > 0) process.stderr.write(`... and ${more} more diagnostic${more === 1 ? '' : 's'} not shown\n\n`);
}

/** Print a failure and return the exit code it deserves. */
export function handleFailure(error: unknown, sources: ReadonlyMap<string, SourceFile> = new Map()): number {
  if (error instanceof TesseraError) {
    printDiagnostics(error.diagnostics, sources);
    const errors = error.diagnostics.filter((d) => d.severity === 'error').length;
    process.stderr.write(`tessera: ${errors} error${errors === 1 ? '' : 's'}\n`);
    return error.exitCode;
  }
  if (error instanceof UserError) {
    process.stderr.write(`tessera: ${error.message}\n`);
    return error.exitCode;
  }
  const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.stderr.write(
    `tessera: internal error (a bug in tessera; please report it with the input that caused it)\n${detail}\n`,
  );
  return EXIT.internal;
}
