/** The Open-Sora-Plan 1.2 DiT: config, weights, the graph over a backend's ops, and the denoiser contract. */
export * from './config.js';
export type { Denoiser, LatentShape } from './denoiser.js';
export * from './layer-attention.js';
export * from './network.js';
export * from './random-weights.js';
export * from './weights.js';
