/**
 * The compiler's public surface: the stage pipeline and its options, the front end, classification, block
 * plans (dense ones built in code too), reports, caches and per-layer plans.
 */
export { cacheDir } from '../core/cache-dir.js';
export { CompileCache, cacheKey } from './cache.js';
export { classifyBlocks } from './classify/classify.js';
export { compiledElementMask, EMPTY, elementMask, FULL, PARTIAL } from './classify/element-mask.js';
export { compileSource } from './frontend.js';
export * from './ir.js';
export * from './layer-plan.js';
export * from './layout.js';
export { type LayoutChoice, layoutChoices } from './layout-choice.js';
export { type InstantiateOptions, instantiatePattern } from './lower.js';
export { type CompileOptions, makeCompileOptions, parseAssignments, parseBlockSizes } from './options.js';
export * from './pipeline.js';
export { buildPlan } from './plan/build.js';
export { enumerateClosedFormKeyBlocks, recognizeClosedForm } from './plan/closed-form.js';
export { denseBlockPlan, densePattern } from './plan/dense.js';
export { deserializePlan, serializePlan } from './plan/io.js';
export * from './plan/plan.js';
export * from './plan/token-map.js';
export { verifyPlan } from './plan/verify.js';
export * from './report.js';
export { COMPILER_VERSION } from './version.js';
