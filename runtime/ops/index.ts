/** The graph's operation vocabulary and its backends (CPU today). */
export type { CpuTensor } from '../cpu/model-ops.js';
export { createCpuOps } from '../cpu/model-ops.js';
export type {
  ModelOps,
  OpPrecision,
  OpTensor,
  RopeSpec,
  SelfAttentionSpec,
  TokenGrid,
} from '../model-ops.js';
