/** The pattern language: parsing, formatting, the AST and diagnostics. */
export type * from './ast.js';
export { BUILTIN_FUNCTIONS } from './ast.js';
export { CODES, type CodeInfo, type DiagnosticStage } from './codes.js';
export * from './diagnostics.js';
export { formatTile } from './format.js';
export { formatExpr } from './format-expr.js';
export { MAX_NESTING, type ParseResult, parseTile } from './parse.js';
export * from './source.js';
