/**
 * Exit codes and the one place where failures become messages: user errors are printed plainly (with
 * source excerpts and carets for diagnostics), anything else is reported as a bug with its stack.
 */
import { readFileSync } from 'node:fs';
import { type Diagnostic, renderDiagnostics, TesseraError } from '../dsl/diagnostics.js';
import type { SourceFile } from '../dsl/source.js';

/** Process exit codes, documented in the README. */
export const EXIT = { ok: 0, input: 1, usage: 2, verify: 3, internal: 70 } as const;

/** Errors whose message is already written for the user (bad options, files, plans, weights). */
const USER_ERROR_NAMES = new Set([
  'OptionError',
  'LayerPlanError',
  'SafetensorsError',
  'TensorError',
  'InputFileError',
  'ModelConfigError',
  'WebGpuUnavailableError',
  'CudaUnavailableError',
  'RandomError',
  'GuidanceError',
]);

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

/** Print diagnostics grouped by file, with excerpts. */
export function printDiagnostics(
  diagnostics: readonly Diagnostic[],
  sources: ReadonlyMap<string, SourceFile> = new Map(),
): void {
  for (const d of diagnostics) process.stderr.write(`${renderDiagnostics([d], sourceFor(d, sources))}\n\n`);
}

/** Print a failure and return the exit code it deserves. */
export function handleFailure(error: unknown, sources: ReadonlyMap<string, SourceFile> = new Map()): number {
  if (error instanceof TesseraError) {
    printDiagnostics(error.diagnostics, sources);
    const errors = error.diagnostics.filter((d) => d.severity === 'error').length;
    process.stderr.write(`tessera: ${errors} error${errors === 1 ? '' : 's'}\n`);
    return EXIT.input;
  }
  if (error instanceof Error && USER_ERROR_NAMES.has(error.name)) {
    process.stderr.write(`tessera: ${error.message}\n`);
    return EXIT.input;
  }
  const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.stderr.write(
    `tessera: internal error (a bug in tessera; please report it with the input that caused it)\n${detail}\n`,
  );
  return EXIT.internal;
}
