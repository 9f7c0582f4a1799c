/**
 * The WebGPU attention backend, browser-safe: pass `navigator.gpu` (or any `GPU`) to `createWebGpuBackend`.
 * In Node, import `createNodeWebGpuBackend` from `./node-gpu.js`, which loads Dawn.
 */
export * from './backend.js';
export * from './device.js';
export * from './errors.js';
export * from './pipeline.js';
