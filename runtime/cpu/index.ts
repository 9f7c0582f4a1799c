/**
 * The CPU reference backend: dense and block-sparse attention in float64 / float32 (the oracle for every GPU
 * backend), the attention backend over it, and the model ops the DiT graph runs on.
 */
export * from './attention.js';
export * from './attention-inputs.js';
export { createCpuBackend } from './backend.js';
export type { CpuTensor } from './cpu-tensor.js';
export { createCpuOps } from './model-ops.js';
