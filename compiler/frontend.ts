/**
 * The front end as one call: parse, check, instantiate. Whatever is wrong with the source or the options
 * comes back as one `TesseraError` carrying every diagnostic found at the first stage that failed.
 */
import type { TileFile } from '../dsl/ast.js';
import { hasErrors, TesseraError } from '../dsl/diagnostics.js';
import { parseTile } from '../dsl/parse.js';
import type { SourceFile } from '../dsl/source.js';
import { checkTile } from './check/index.js';
import type { PatternInstance } from './ir.js';
import { selectPattern } from './lower/bind-params.js';
import { patternReadsHead } from './lower/reads-head.js';
import { type InstantiateOptions, instantiatePattern } from './lower.js';

/** Compile source text to a pattern instance (parse + check + instantiate); throws a `TesseraError`. */
export function compileSource(source: SourceFile, options: InstantiateOptions = {}): PatternInstance {
  return instantiatePattern(parseChecked(source), source, options);
}

/** Parse and check source text; throws a `TesseraError` with the diagnostics of the first stage that fails. */
export function parseChecked(source: SourceFile): TileFile {
  const parsed = parseTile(source);
  if (!parsed.file || hasErrors(parsed.diagnostics)) throw new TesseraError(parsed.diagnostics);
  const checked = checkTile(parsed.file, source.name);
  if (hasErrors(checked)) throw new TesseraError(checked);
  return parsed.file;
}

/**
 * Whether pattern `name` (or the file's only pattern) of `source` reads `head`: then it is compiled once per
 * head (`InstantiateOptions.head`).
 */
export function sourceReadsHead(source: SourceFile, name: string | undefined): boolean {
  const file = parseChecked(source);
  return patternReadsHead(file, selectPattern(file, source.name, name));
}

export type { InstantiateOptions };
