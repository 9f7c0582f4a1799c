/**
 * Seeded random weights for a config, and writing them as a checkpoint with the real tensor names: what tests
 * and benchmarks use in place of the released weights. Scales follow PyTorch's defaults closely enough to keep
 * activations O(1) through the network (linear weights ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), modulation tables
 * ~ N(0, 1) / sqrt(dim) as OpenSoraT2V initialises them), so float32 vs float64 comparisons are meaningful.
 */
import { openSoraWeightSpecs } from '../../models/weights/open-sora-plan-1.2.js';
import { type SafetensorsInput, writeSafetensors } from '../io/safetensors.js';
import { seededUniform } from '../random.js';
import { fromValues } from '../tensor.js';
import type { OpenSoraConfig } from './config.js';
import { type ModelWeights, weightsFromArrays } from './weights.js';

export { seededUniform } from '../random.js';

/** Standard normal samples from a uniform source (Box-Muller). */
export function gaussian(uniform: () => number): () => number {
  return () => {
    const u = 1 - uniform();
    const v = uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
}

/** Random weights for `config` with seed `seed`. */
export function randomOpenSoraWeights(config: OpenSoraConfig, seed: number): ModelWeights {
  const uniform = seededUniform(seed);
  const normal = gaussian(uniform);
  const arrays = new Map<string, Float32Array>();
  const specs = openSoraWeightSpecs(config);
  // A bias takes its layer's bound, 1 / sqrt(fan-in of the matching weight), as nn.Linear / nn.Conv2d do.
  const fanIn = new Map<string, number>();
  for (const spec of specs) {
    if (spec.name.endsWith('.weight')) {
      const count = spec.shape.reduce((a, b) => a * b, 1);
      fanIn.set(spec.name.slice(0, -'.weight'.length), count / spec.shape[0]!);
    }
  }
  for (const spec of specs) {
    const count = spec.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(count);
    if (spec.name.endsWith('scale_shift_table')) {
      const dim = spec.shape[1]!;
      for (let i = 0; i < count; i++) data[i] = normal() / Math.sqrt(dim);
    } else {
      const layer = spec.name.slice(0, spec.name.lastIndexOf('.'));
      const bound = 1 / Math.sqrt(fanIn.get(layer) ?? spec.shape[0]!);
      for (let i = 0; i < count; i++) data[i] = (2 * uniform() - 1) * bound;
    }
    arrays.set(spec.name, data);
  }
  return weightsFromArrays(config, arrays);
}

/** Storage dtypes a checkpoint can be written in. */
export type CheckpointDType = 'float32' | 'float16' | 'bfloat16';

/** Write `weights` as a diffusers-style safetensors checkpoint (real names and shapes) in `dtype`. */
export async function writeOpenSoraCheckpoint(
  path: string,
  weights: ModelWeights,
  dtype: CheckpointDType = 'float32',
): Promise<void> {
  const tensors: [string, SafetensorsInput][] = weights.names.map((name) => {
    const w = weights.get(name);
    return [name, fromValues(dtype, w.shape, w.data, name)];
  });
  await writeSafetensors(path, tensors, { format: 'pt' });
}
