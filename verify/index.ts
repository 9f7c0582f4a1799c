/** Backend choice ("the best backend present"), numeric verification against float64, and the tolerances. */
export * from './backends.js';
export * from './tolerances.js';
export * from './verify.js';
