/**
 * The Open-Sora-Plan 1.2 DiT: config, weight names and weights, the graph over a backend's ops, per-layer
 * attention, the denoiser contract, and the network over a parallel world (`parallel-model.ts`). The CUDA step
 * (`cuda-model.ts`) is imported on its own, so that loading this module never touches the CUDA runtime.
 */
export * from './config.js';
export * from './config-file.js';
export {
  BUILTIN_CONFIG_NAMES,
  configFile,
  OPEN_SORA_PLAN_1_2_480P,
  OPEN_SORA_PLAN_1_2_720P,
  TINY_CONFIG,
} from './configs/index.js';
export type { Denoiser, LatentShape } from './denoiser.js';
export * from './diffusers-config.js';
export * from './layer-attention.js';
export * from './network.js';
export * from './parallel-model.js';
export * from './random-weights.js';
export * from './weight-names.js';
export * from './weights.js';
