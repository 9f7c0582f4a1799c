/** The networks written against the runtime's public API, and their samplers. */
export * from './open-sora-plan/index.js';
export * from './samplers/index.js';
