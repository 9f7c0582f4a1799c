/** The compiler's public surface: front end, analysis, plans, caches and per-layer plans. */

export { CompileCache, cacheKey, defaultCacheDir } from './cache.js';
export { classifyBlocks } from './classify/classify.js';
export { compiledElementMask, EMPTY, elementMask, FULL, PARTIAL } from './classify/element-mask.js';
export { compileSource } from './frontend.js';
export * from './ir.js';
export * from './layer-plan.js';
export * from './layout.js';
export { type LayoutChoice, layoutChoices } from './layout-choice.js';
export { type InstantiateOptions, instantiatePattern } from './lower.js';
export { buildPlan } from './plan/build.js';
export { enumerateClosedFormKeyBlocks, recognizeClosedForm } from './plan/closed-form.js';
export { deserializePlan, serializePlan } from './plan/io.js';
export * from './plan/plan.js';
export { verifyPlan } from './plan/verify.js';
export { COMPILER_VERSION } from './version.js';
