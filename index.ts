/**
 * tessera's public entry: compile patterns (`compile`, `compileSource`), inspect plans, and run them on the
 * CPU reference. GPU backends live under `tessera/runtime/*`.
 */
export * from './compiler/index.js';
export { type CompileRequest, type CompileResult, compile, readSource } from './driver/compile.js';
export { type CompileOptions, makeCompileOptions, type Target, TARGETS } from './driver/options.js';
export { type CompileReport, formatReport, makeReport } from './driver/report.js';
export { STAGE_NAMES, STAGES, type StageName } from './driver/stages.js';
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
export { BUILTIN_PATTERNS, findBuiltinPattern } from './models/patterns/index.js';
export type { AttentionBackend, Capability, KernelDtype } from './runtime/backend.js';
export { createCpuBackend } from './runtime/cpu/backend.js';
export * from './runtime/cpu/index.js';
