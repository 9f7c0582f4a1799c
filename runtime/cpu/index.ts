/** The CPU reference backend: dense and block-sparse attention in float64 / float32, the oracle for every GPU backend. */
export * from './attention.js';
export * from './attention-inputs.js';
