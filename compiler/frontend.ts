/**
 * The front end as one call: parse, check, instantiate. Whatever is wrong with the source or the options
 * comes back as one `TesseraError` carrying every diagnostic found at the first stage that failed.
 */
import { hasErrors, TesseraError } from '../dsl/diagnostics.js';
import { parseTile } from '../dsl/parse.js';
import type { SourceFile } from '../dsl/source.js';
import { checkTile } from './check/index.js';
import type { PatternInstance } from './ir.js';
import { type InstantiateOptions, instantiatePattern } from './lower.js';

/** Compile source text to a pattern instance (parse + check + instantiate); throws a `TesseraError`. */
export function compileSource(source: SourceFile, options: InstantiateOptions = {}): PatternInstance {
  const parsed = parseTile(source);
  if (!parsed.file || hasErrors(parsed.diagnostics)) throw new TesseraError(parsed.diagnostics);
  const checked = checkTile(parsed.file, source.name);
  if (hasErrors(checked)) throw new TesseraError(checked);
  return instantiatePattern(parsed.file, source, options);
}

export type { InstantiateOptions };
