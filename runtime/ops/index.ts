/** The graph's operation vocabulary and its backends (CPU today). */
export type { CpuTensor } from './cpu/index.js';
export { createCpuOps } from './cpu/index.js';
export type { ModelOps, OpPrecision, OpTensor, RopeSpec, SelfAttentionSpec, TokenGrid } from './ops.js';
