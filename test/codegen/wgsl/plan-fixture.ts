/**
 * Block plans for the WebGPU codegen tests, built by brute force (every element pair classified with the
 * reference mask), independently of the compiler's plan builder, so a kernel is checked against the plan's
 * meaning rather than against the code that produced it. The brute-force builder is the CPU reference
 * tests' one; this only attaches the pattern (the kernel renders its mask) and an optional closed form.
 */
import type { PatternInstance } from '../../../compiler/ir.js';
import type { BlockPlan, ClosedForm } from '../../../compiler/plan/plan.js';
import { patternMask, bruteForcePlan as planOfMask } from '../../runtime/cpu/support.js';

/** A plan for `pattern` at `blockQ x blockK`, classified element by element. */
export function bruteForcePlan(
  pattern: PatternInstance,
  blockQ: number,
  blockK: number,
  closedForm: ClosedForm | null = null,
): BlockPlan {
  const plan = planOfMask(patternMask(pattern), blockQ, blockK);
  return { ...plan, key: `${pattern.key}_b${blockQ}x${blockK}`, pattern, closedForm };
}
