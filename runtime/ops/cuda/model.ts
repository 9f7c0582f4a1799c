/**
 * The Open-Sora-Plan graph on the CUDA ops: weights uploaded once (kept for good), and every forward pass's
 * activations returned to the pool when it ends. Plus seeded random weights generated on the device, for
 * benchmarks of the full-size model without a multi-gigabyte checkpoint.
 */
import { openSoraWeightSpecs } from '../../../models/weights/open-sora-plan-1.2.js';
import type { DeviceWeights } from '../../model/blocks.js';
import type { OpenSoraConfig } from '../../model/config.js';
import { createOpenSoraModel, type OpenSoraModel, type OpenSoraModelOptions } from '../../model/open-sora.js';
import type { ModelWeights } from '../../model/weights.js';
import { TensorError } from '../../tensor.js';
import type { CudaTensor } from './device-arena.js';
import type { CudaOps } from './index.js';

/**
 * The network on `ops`. Memory is scoped per `predictNoise` call: the pass's activations go back to the pool
 * after the output is downloaded, so peak memory is one pass (weights + that pass's activations).
 */
export function createCudaOpenSoraModel(
  config: OpenSoraConfig,
  weights: ModelWeights,
  ops: CudaOps,
  options: Omit<OpenSoraModelOptions<CudaTensor>, 'ops' | 'precision'>,
): OpenSoraModel {
  const model = ops.persistent(() => createOpenSoraModel(config, weights, { ...options, ops }));
  return {
    ...model,
    async predictNoise(x, timesteps, text, textMask, batch) {
      const mark = ops.mark();
      try {
        return await model.predictNoise(x, timesteps, text, textMask, batch);
      } finally {
        ops.release(mark);
      }
    },
  };
}

/**
 * Seeded random weights for `config` made on the device (bf16), with the scales of `randomOpenSoraWeights`:
 * linear weights and biases uniform in +-1/sqrt(fan-in), modulation tables with standard deviation
 * 1/sqrt(dim) (uniform here). The values differ from the host generator's (another random source); the
 * patch conv's kernel comes as the [D, C * ph * pw] matrix the graph uses.
 */
export function randomDeviceWeights(
  ops: CudaOps,
  config: OpenSoraConfig,
  seed: number,
): DeviceWeights<CudaTensor> {
  const specs = openSoraWeightSpecs(config);
  const fanIn = new Map<string, number>();
  for (const spec of specs) {
    if (spec.name.endsWith('.weight'))
      fanIn.set(
        spec.name.slice(0, -'.weight'.length),
        spec.shape.slice(1).reduce((a, b) => a * b, 1),
      );
  }
  const tensors = new Map<string, CudaTensor>();
  ops.persistent(() => {
    specs.forEach((spec, index) => {
      const shape =
        spec.name === 'pos_embed.proj.weight' ? [spec.shape[0]!, fanIn.get('pos_embed.proj')!] : spec.shape;
      const t = ops.arena.tensor('bfloat16', shape, spec.name);
      const total = shape.reduce((a, b) => a * b, 1);
      const bound = spec.name.endsWith('scale_shift_table')
        ? Math.sqrt(3 / spec.shape[1]!)
        : 1 / Math.sqrt(fanIn.get(spec.name.slice(0, spec.name.lastIndexOf('.'))) ?? spec.shape[0]!);
      ops.kernels.elementwise('randomUniform', total, {
        out: t.buffer.ptr,
        total,
        seed: BigInt(seed) * 1_000_003n + BigInt(index),
        low: -bound,
        high: bound,
      });
      tensors.set(spec.name, t);
    });
  });
  return (name) => {
    const t = tensors.get(name);
    if (!t) throw new TensorError(name, `no such weight in ${config.name}`);
    return t;
  };
}
