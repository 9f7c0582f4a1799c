/**
 * The WebGPU backend behind the common {@link AttentionBackend} interface (Dawn in Node), so the driver's
 * "best backend present" and shared checks can use it without knowing its own API.
 */
import type { BlockPlan } from '../../compiler/plan/plan.js';
import { TensorError } from '../../core/tensor.js';
import type { AttentionBackend, Capability, KernelDtype } from '../attention-backend.js';
import type { AttentionInputs, AttentionResult } from '../cpu/attention-inputs.js';
import { createNodeWebGpuBackend } from './node-gpu.js';

/** Open Dawn's best adapter; throws `WebGpuUnavailableError` when there is none. */
export async function createWebGpuAttentionBackend(): Promise<AttentionBackend> {
  const backend = await createNodeWebGpuBackend();
  const capabilities = new Set<Capability>(['f32']);
  if (backend.capabilities.f16) capabilities.add('f16');
  if (backend.capabilities.subgroups) capabilities.add('subgroups');
  return {
    name: `webgpu (${backend.capabilities.adapter})`,
    rank: 10,
    capabilities,
    async attention(plan: BlockPlan, inputs: AttentionInputs, dtype: KernelDtype): Promise<AttentionResult> {
      if (dtype !== 'float32' && dtype !== 'float16') {
        throw new TensorError('q', `the WebGPU backend computes in float32 or float16, got ${dtype}`);
      }
      if ((inputs.kvLen ?? inputs.seqLen) !== inputs.seqLen) {
        throw new TensorError(
          'k',
          `self-attention only: kvLen ${inputs.kvLen} differs from seqLen ${inputs.seqLen}`,
        );
      }
      const { out, lse } = await backend.attention(plan, inputs.q, inputs.k, inputs.v, {
        batch: inputs.batch,
        heads: inputs.heads,
        headDim: inputs.headDim,
        layout: inputs.layout,
        io: dtype === 'float16' ? 'f16' : 'f32',
      });
      return { out, lse };
    },
    async dispose() {
      backend.dispose();
    },
  };
}
