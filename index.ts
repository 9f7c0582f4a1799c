/**
 * tessera's public entry: compile patterns (`compile(text, { sizes, params, block, targets })`, codegen/compile.ts;
 * the pipeline's own `compile(request)` is `tessera/compiler`'s), inspect plans, and run them on the CPU reference. GPU backends live under `tessera/runtime/*`, the video DiT and its
 * samplers under `tessera/models`, backend choice and numeric verification under `tessera/verify`.
 */

export { type CompileSettings, compile } from './codegen/compile.js';
export {
  type Artifact,
  parseTargets,
  RENDERERS,
  type Renderer,
  STAGE_NAMES,
  STAGES,
  TARGETS,
  type Target,
} from './codegen/index.js';
export * from './compiler/index.js';
export { EXIT, OptionError, UserError } from './core/errors.js';
export {
  BUILTIN_FUNCTIONS,
  CODES,
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
export * from './runtime/cpu/index.js';
