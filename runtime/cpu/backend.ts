/**
 * The CPU reference as an {@link AttentionBackend}: float64 or float32 arithmetic, always present, the last
 * resort of "the best backend present" and the oracle of every other.
 */

import { planElementMask } from '../../compiler/plan/element-mask.js';
import type { BlockPlan } from '../../compiler/plan/plan.js';
import type { AttentionBackend, KernelDtype } from '../attention-backend.js';
import { blockSparseAttention } from './attention.js';
import type { AttentionInputs, AttentionResult } from './attention-inputs.js';

/** The CPU backend. */
export function createCpuBackend(): AttentionBackend {
  return {
    name: 'cpu',
    rank: 0,
    capabilities: new Set(['float64', 'f32']),
    async attention(plan: BlockPlan, inputs: AttentionInputs, dtype: KernelDtype): Promise<AttentionResult> {
      return blockSparseAttention(inputs, plan, planElementMask(plan), {
        precision: dtype === 'float64' ? 'float64' : 'float32',
      });
    },
    async dispose() {},
  };
}
