/**
 * A plan's element mask, for runtimes that evaluate partial blocks pair by pair (the CPU reference): the
 * pattern's predicate compiled to a function of layout indices, and which indices are real tokens. With the
 * CSR tables this is the rebuild loop that defines the plan format (plan.ts).
 */
import { compiledElementMask } from '../classify/element-mask.js';
import { isRealToken } from '../layout.js';
import type { BlockPlan } from './plan.js';

/** allowed(qi, ki) on layout indices (false for padding) and real(i), of the plan's pattern. */
export interface PlanElementMask {
  readonly allowed: (qi: number, ki: number) => boolean;
  readonly isReal: (i: number) => boolean;
}

/** The element mask of `plan`'s pattern. */
export function planElementMask(plan: BlockPlan): PlanElementMask {
  const layout = plan.pattern.layout;
  return { allowed: compiledElementMask(plan.pattern), isReal: (i) => isRealToken(layout, i) };
}
