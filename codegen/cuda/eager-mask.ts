/**
 * The element mask for the CUDA kernel, evaluated without branches. The neutral renderer spells boolean
 * connectives `&&` / `||`; inside the kernel's partial tiles every thread evaluates `tp_allowed` for 32 (query,
 * key) pairs of different keys, and short-circuit evaluation compiles to divergent branches per pair (about
 * nine per pair for Attention Tile), which made a partial tile cost several full ones. Rewriting the predicate
 * with `&` / `|` makes nvcc compute every operand and combine predicates, with no branch.
 *
 * Why the rewrite is exact: the pattern IR's expressions are total and free of side effects (the floor
 * helpers define division by zero as 0), so evaluating every operand cannot change the value; and `&` binds
 * tighter than `|`, both looser than comparisons, exactly as `&&` over `||`, so the rendered (fully
 * parenthesised) structure is unchanged. The result is an int 0/1 that converts to the function's `bool`.
 */

import type { PatternInstance } from '../../compiler/ir.js';
import { callsPowerHelpers } from '../common/dialect.js';
import { MASK_SYMBOLS } from '../common/render-mask.js';
import { renderSplitMaskFunctions } from '../common/split-mask.js';
import { cudaDialect } from './dialect.js';

/**
 * Rewrite the `return` line of `tp_allowed` in rendered mask functions (any C-like dialect) to non-short-
 * circuit `&` / `|`. Other functions (the decoder) are left as they are.
 */
export function eagerAllowed(maskSource: string): string {
  const lines = maskSource.split('\n');
  const header = lines.findIndex((l) => l.includes(`${MASK_SYMBOLS.allowed}(`));
  const body = header + 1;
  if (header < 0 || !lines[body]?.trim().startsWith('return ')) {
    throw new Error(`internal: no '${MASK_SYMBOLS.allowed}' return line in the rendered mask functions`);
  }
  lines[body] = lines[body]!.replaceAll('&&', '&').replaceAll('||', '|');
  return lines.join('\n');
}

/**
 * `TpToken`, `tp_decode`, the per-side terms of the split mask and a branch-free `tp_allowed` over them, in
 * CUDA (codegen/common/split-mask.ts).
 */
export function renderCudaMaskFunctions(pattern: PatternInstance): string {
  return eagerAllowed(renderSplitMaskFunctions(pattern, cudaDialect));
}

/** The `log2` / `pow2` helpers the mask functions of `pattern` call, or '' when they call neither. */
export function renderCudaPowerHelpers(pattern: PatternInstance): string {
  return callsPowerHelpers(renderCudaMaskFunctions(pattern)) ? CUDA_POWER_HELPERS : '';
}

/**
 * `log2` (floor) and `pow2` with the pattern IR's rules, emitted only for patterns that use them. The log2 is a
 * five-step binary search rather than `__clz`, so the same text also compiles in host-side tests.
 */
const CUDA_POWER_HELPERS = `// Floor of log2(x) (x < 1 gives 0) and 2^x (x < 0 gives 0), as in the pattern IR.
__device__ __forceinline__ int tp_log2(int x) {
  if (x < 1) return 0;
  int r = 0;
  for (int bits = 16; bits > 0; bits >>= 1)
    if (x >= (1 << bits)) { x >>= bits; r += bits; }
  return r;
}
__device__ __forceinline__ int tp_pow2(int x) { return x < 0 ? 0 : 1 << x; }`;
