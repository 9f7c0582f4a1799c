/**
 * The CUDA backend. Importing this module loads nothing native: the addon is loaded on the first call, so the
 * package imports, builds and tests on machines without CUDA, where {@link cudaAvailable} says why not and
 * {@link createCudaBackend} throws a readable {@link CudaUnavailableError}.
 */
import type { CudaDType } from '../../codegen/cuda/kernel-options.js';
import type { BlockPlan } from '../../compiler/plan/plan.js';
import { attentionShape, fromStorage, TensorError } from '../../core/tensor.js';
import type { AttentionBackend, KernelDtype } from '../attention-backend.js';
import type { AttentionInputs, AttentionResult } from '../cpu/attention-inputs.js';
import { CudaAttention, type CudaAttentionOptions } from './attention.js';
import { CudaDevice } from './device.js';
import { loadNative } from './native-binding.js';

export {
  CudaAttention,
  type CudaAttentionOperands,
  type CudaAttentionOptions,
  type CudaAttentionResult,
  defaultKernelFamily,
} from './attention.js';
export { cubinCacheDir, cubinCacheKey } from './cubin-cache.js';
export {
  byteView,
  CudaDevice,
  CudaUnavailableError,
  type DeviceTensor,
  type LoadedKernel,
} from './device.js';
export { CudaGraph } from './graph.js';
export * from './model-ops.js';

/** Whether the CUDA backend can run here, and if not, why (never throws). */
export function cudaAvailable(): { available: boolean; reason: string } {
  const { native, reason } = loadNative();
  if (native === null) return { available: false, reason };
  const probe = native.probe();
  return { available: probe.available, reason: probe.reason };
}

/**
 * The CUDA backend as an {@link AttentionBackend}: host inputs go up as float32 and become `dtype` on the
 * device; results come back as float32. Kernels are compiled once per (plan, head dim, dtype); `options`
 * picks the kernel family (default: the device's, see `defaultKernelFamily`).
 */
export function createCudaBackend(ordinal = 0, options: CudaAttentionOptions = {}): AttentionBackend {
  const device = CudaDevice.open(ordinal);
  const compiled = new Map<string, CudaAttention>();
  const attentionFor = (plan: BlockPlan, headDim: number, dtype: CudaDType): CudaAttention => {
    const key = `${plan.key}/${headDim}/${dtype}`;
    let a = compiled.get(key);
    if (!a) {
      a = new CudaAttention(device, plan, headDim, dtype, options);
      compiled.set(key, a);
    }
    return a;
  };
  return {
    name: `cuda (${device.info.name}${options.family ? `, ${options.family} kernel` : ''})`,
    rank: 30,
    capabilities: new Set(['f16', 'bf16', 'tensor-cores']),
    async attention(plan: BlockPlan, inputs: AttentionInputs, dtype: KernelDtype): Promise<AttentionResult> {
      if (dtype !== 'bfloat16' && dtype !== 'float16') {
        throw new TensorError('q', `the CUDA backend computes in bfloat16 or float16, got ${dtype}`);
      }
      if ((inputs.kvLen ?? inputs.seqLen) !== inputs.seqLen) {
        throw new TensorError(
          'k',
          `self-attention only: kvLen ${inputs.kvLen} differs from seqLen ${inputs.seqLen}`,
        );
      }
      const shape = attentionShape(inputs.layout, inputs.batch, inputs.seqLen, inputs.heads, inputs.headDim);
      const host = (name: string, data: ArrayLike<number>) =>
        fromStorage('float32', shape, Float32Array.from(data), name);
      const attention = attentionFor(plan, inputs.headDim, dtype);
      const q = device.upload(host('q', inputs.q), dtype, 'q');
      const k = device.upload(host('k', inputs.k), dtype, 'k');
      const v = device.upload(host('v', inputs.v), dtype, 'v');
      const out = device.empty(dtype, shape, 'out');
      const lse = device.empty('float32', [inputs.batch, inputs.heads, inputs.seqLen], 'lse');
      try {
        device.fillBytes(out, 0xff); // poison: an element the kernel skips reads back as NaN
        device.fillBytes(lse, 0xff);
        attention.run({ q, k, v, out, lse, layout: inputs.layout });
        device.synchronize(attention.kernel.name);
        return {
          out: device.download(out).data as Float32Array,
          lse: device.download(lse).data as Float32Array,
        };
      } finally {
        for (const t of [q, k, v, out, lse]) device.free(t);
      }
    },
    async dispose() {
      for (const a of compiled.values()) a.dispose();
      compiled.clear();
      device.dispose();
    },
  };
}
