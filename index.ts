/**
 * tessera's public entry: compile patterns (`compile`, `compileSource`), inspect plans, and run them on the
 * CPU reference. GPU backends live under `tessera/runtime/*`.
 */

export { type CompileRequest, type CompileResult, compile, readSource } from './compiler/compile.js';
export * from './compiler/index.js';
export { type CompileOptions, makeCompileOptions, TARGETS, type Target } from './compiler/options.js';
export { STAGE_NAMES, STAGES, type StageName } from './compiler/pipeline.js';
export { type CompileReport, formatReport, makeReport } from './compiler/report.js';
export {
  BUILTIN_FUNCTIONS,
  type Diagnostic,
  formatTile,
  hasErrors,
  parseTile,
  renderDiagnostic,
  renderDiagnostics,
  type SourceFile,
  type SourceRange,
  TesseraError,
  type TileFile,
} from './dsl/index.js';
export { BUILTIN_PATTERNS, findBuiltinPattern } from './patterns/index.js';
export type { AttentionBackend, Capability, KernelDtype } from './runtime/attention-backend.js';
export { createCpuBackend } from './runtime/cpu/backend.js';
export * from './runtime/cpu/index.js';
