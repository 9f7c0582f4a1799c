/**
 * The pattern header of a CUDA module: everything the kernel templates (codegen/cuda/kernels) read of one plan,
 * and nothing else. In order:
 *
 *   constants       kSeqLen, kBlockQ, kBlockK, kNumQBlocks, and what the plan needs masked (kPartialBlocks,
 *                   kPaddedKeyBlocks, kPaddedQueryBlocks), from which the templates decide what they decode
 *   mask            TpToken, tp_decode, the split mask's TpQueryTerms / TpKeyTerms with tp_query_terms /
 *                   tp_key_terms, a branch-free tp_allowed (eager-mask.ts), and the key-term helpers of runs
 *   key walk        TpKeyWalk, tp_walk_begin, tp_walk_next<kTileK> (key-walk.ts): closed form or CSR tables
 *
 * The mask functions are there even for plans that mask nothing (the templates name them in code they do not
 * instantiate); unused inline functions cost nothing.
 */
import type { PatternInstance } from '../../compiler/ir.js';
import type { BlockPlan } from '../../compiler/plan/plan.js';
import { SPLIT_MASK_SYMBOLS, splitPredicate, termFields } from '../common/split-mask.js';
import { renderCudaMaskFunctions, renderCudaPowerHelpers } from './eager-mask.js';
import { renderKeyWalk } from './key-walk.js';

/**
 * `tp_shfl_up_key_terms` (the terms of the key one lane below) and `tp_same_key_terms`, over the fields of the
 * pattern's `TpKeyTerms`: what tessera/key_runs.cuh needs to find runs of equal key terms.
 */
export function renderKeyTermHelpers(pattern: PatternInstance): string {
  const fields = termFields(splitPredicate(pattern.predicate), 'k');
  const T = SPLIT_MASK_SYMBOLS.keyTerms;
  return [
    `// The key terms of lane - 1 (lane 0 gets its own back), and equality of key terms: runs of equal terms.`,
    `__device__ __forceinline__ ${T} tp_shfl_up_key_terms(${T} k) {`,
    ...fields.map((f) => `  k.${f} = __shfl_up_sync(0xffffffffu, k.${f}, 1);`),
    '  return k;',
    '}',
    `__device__ __forceinline__ bool tp_same_key_terms(${T} a, ${T} b) {`,
    `  return ${fields.map((f) => `a.${f} == b.${f}`).join(' && ')};`,
    '}',
  ].join('\n');
}

/** `constexpr` lines with their comments aligned. */
function constants(rows: readonly (readonly [decl: string, comment: string])[]): string[] {
  const width = Math.max(...rows.map(([decl]) => decl.length));
  return rows.map(([decl, comment]) => `${decl.padEnd(width)}  // ${comment}`);
}

/** The constants of a plan that the kernel templates read. */
function planConstants(plan: BlockPlan): string[] {
  const partial = plan.partial.indices.length;
  const paddedKeys = plan.keyBlockHasPadding.filter((x) => x !== 0).length;
  const paddedQueries = plan.queryBlockHasPadding.filter((x) => x !== 0).length;
  const count = (n: number, what: string) => (n === 0 ? `no ${what}` : `${n} ${what}`);
  return constants([
    [`constexpr int kSeqLen = ${plan.seqLen};`, 'tokens, padding included'],
    [`constexpr int kBlockQ = ${plan.blockQ};`, 'plan query block'],
    [`constexpr int kBlockK = ${plan.blockK};`, 'plan key block'],
    [`constexpr int kNumQBlocks = ${plan.numQBlocks};`, 'CTAs per (batch, head)'],
    [
      `constexpr bool kPartialBlocks = ${partial > 0};`,
      partial > 0
        ? `${partial} partial blocks: tp_allowed per element`
        : 'no partial blocks: no element mask',
    ],
    [
      `constexpr bool kPaddedKeyBlocks = ${paddedKeys > 0};`,
      `${count(paddedKeys, 'key blocks')} with padding keys`,
    ],
    [
      `constexpr bool kPaddedQueryBlocks = ${paddedQueries > 0};`,
      `${count(paddedQueries, 'query blocks')} with padding rows`,
    ],
  ]);
}

/** The pattern header of `plan` (no trailing newline). */
export function renderPatternHeader(plan: BlockPlan): string {
  const rule = (text: string) => `${text} ${'-'.repeat(Math.max(4, 116 - text.length))}`;
  return [
    rule(`// ---- pattern ${plan.pattern.key}, blocks ${plan.blockQ} x ${plan.blockK}`),
    ...planConstants(plan),
    '',
    ...[renderCudaPowerHelpers(plan.pattern)].filter((h) => h !== ''),
    renderCudaMaskFunctions(plan.pattern),
    renderKeyTermHelpers(plan.pattern),
    '',
    renderKeyWalk(plan),
    rule(`// ---- end of pattern ${plan.pattern.key}`),
  ].join('\n');
}
