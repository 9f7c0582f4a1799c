/** tessera's public entry: the compiler front door and the CPU reference. */
export * from './dsl/diagnostics.js';
export type * from './dsl/source.js';
export * from './compiler/ir.js';
export * from './compiler/layout.js';
export * from './compiler/plan.js';
