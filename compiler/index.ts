/** The compiler's public surface: front end, analysis, plans, caches and per-layer plans. */
export { classifyBlocks } from './analysis/classify.js';
export { compiledElementMask, EMPTY, elementMask, FULL, PARTIAL } from './analysis/element-mask.js';
export { buildPlan } from './build-plan.js';
export { CompileCache, cacheKey, defaultCacheDir } from './cache.js';
export { enumerateClosedFormKeyBlocks, recognizeClosedForm } from './closed-form.js';
export { compileSource } from './frontend.js';
export * from './ir.js';
export * from './layer-plan.js';
export * from './layout.js';
export { type LayoutChoice, layoutChoices } from './layout-choice.js';
export { instantiatePattern, type InstantiateOptions } from './lower.js';
export * from './plan.js';
export { deserializePlan, serializePlan } from './plan-io.js';
export { verifyPlan } from './verify-plan.js';
export { COMPILER_VERSION } from './version.js';
