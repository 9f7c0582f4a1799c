/**
 * Seeded random weights for a config, and writing them as a checkpoint with the real tensor names: what tests
 * and benchmarks use in place of the released weights. Scales follow PyTorch's defaults closely enough to keep
 * activations O(1) through the network (linear weights ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), modulation tables
 * ~ N(0, 1) / sqrt(dim) as OpenSoraT2V initialises them), so float32 vs float64 comparisons are meaningful.
 */

import { seededUniform } from '../../core/random.js';
import {
  type SafetensorsInput,
  type SafetensorsSource,
  writeSafetensors,
  writeSafetensorsStream,
} from '../../core/safetensors.js';
import { fromValues, toBfloat16Bits } from '../../core/tensor.js';
import type { OpenSoraConfig } from './config.js';
import { openSoraWeightSpecs, type WeightSpec } from './weight-names.js';
import { type ModelWeights, weightsFromArrays } from './weights.js';

/** Standard normal samples from a uniform source (Box-Muller). */
export function gaussian(uniform: () => number): () => number {
  return () => {
    const u = 1 - uniform();
    const v = uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
}

/** How one weight is drawn: uniform in [-bound, bound], or normal with standard deviation `std`. */
export type WeightInit =
  | { readonly kind: 'uniform'; readonly bound: number }
  | { readonly kind: 'normal'; readonly std: number };

/**
 * The distribution of every weight in `specs`: modulation tables N(0, 1) / sqrt(dim); everything else uniform
 * in +-1 / sqrt(fan-in), a bias taking its layer's bound as nn.Linear / nn.Conv2d do.
 */
export function weightInits(specs: readonly WeightSpec[]): Map<string, WeightInit> {
  const fanIn = new Map<string, number>();
  for (const spec of specs) {
    if (spec.name.endsWith('.weight')) {
      const count = spec.shape.reduce((a, b) => a * b, 1);
      fanIn.set(spec.name.slice(0, -'.weight'.length), count / spec.shape[0]!);
    }
  }
  const inits = new Map<string, WeightInit>();
  for (const spec of specs) {
    if (spec.name.endsWith('scale_shift_table')) {
      inits.set(spec.name, { kind: 'normal', std: 1 / Math.sqrt(spec.shape[1]!) });
    } else {
      const layer = spec.name.slice(0, spec.name.lastIndexOf('.'));
      inits.set(spec.name, { kind: 'uniform', bound: 1 / Math.sqrt(fanIn.get(layer) ?? spec.shape[0]!) });
    }
  }
  return inits;
}

/** The uniform bound of `init`: its own, or for a normal init the uniform with the same standard deviation. */
export function uniformBound(init: WeightInit): number {
  return init.kind === 'uniform' ? init.bound : Math.sqrt(3) * init.std;
}

/** Random weights for `config` with seed `seed`. */
export function randomOpenSoraWeights(config: OpenSoraConfig, seed: number): ModelWeights {
  const uniform = seededUniform(seed);
  const normal = gaussian(uniform);
  const arrays = new Map<string, Float32Array>();
  const specs = openSoraWeightSpecs(config);
  const inits = weightInits(specs);
  for (const spec of specs) {
    const count = spec.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(count);
    const init = inits.get(spec.name)!;
    if (init.kind === 'normal') for (let i = 0; i < count; i++) data[i] = normal() * init.std;
    else for (let i = 0; i < count; i++) data[i] = (2 * uniform() - 1) * init.bound;
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

/** Elements per chunk when streaming a checkpoint (16 MB of bf16): memory stays small at any model size. */
const CHUNK_ELEMENTS = 1 << 23;

/** Options of {@link writeRandomOpenSoraCheckpoint}. */
export interface RandomCheckpointOptions {
  /** Elements generated and written at a time; even (so the file does not depend on it). Default 2^23. */
  readonly chunkElements?: number;
}

/** bf16 bits of the centres of 65,536 equal bins over [-bound, bound]: a 16-bit random index picks one. */
function uniformBfloat16Table(bound: number): Uint16Array {
  const table = new Uint16Array(65536);
  for (let k = 0; k < 65536; k++) table[k] = toBfloat16Bits(((k + 0.5) / 32768 - 1) * bound);
  return table;
}

/** A non-zero xorshift32 state for tensor `index` under `seed` (murmur3's finaliser mixes the two). */
function tensorState(seed: number, index: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h ^= h >>> 16;
  return h === 0 ? 1 : h;
}

/**
 * Fill `out` (bf16 bits) from `table`, two elements per xorshift32 draw (low half first, as a little-endian
 * word stores them); returns the generator's state for the next chunk. `out` must start 4-byte aligned.
 */
function fillFromTable(out: Uint16Array, table: Uint16Array, state: number): number {
  const pairs = out.length >>> 1;
  const words = new Uint32Array(out.buffer, out.byteOffset, pairs);
  let x = state;
  for (let i = 0; i < pairs; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = table[x & 0xffff]! | (table[x >>> 16]! << 16);
  }
  if (out.length % 2 === 1) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[out.length - 1] = table[x & 0xffff]!;
  }
  return x;
}

/**
 * Write seeded random bf16 weights for `config` straight to a checkpoint with the real names and shapes,
 * tensor by tensor and chunk by chunk, so memory stays at one chunk even for the full-size model (~5.4 GB).
 * Scales are {@link weightInits}', with normal tables drawn uniform at the same standard deviation (as
 * `randomDeviceWeights` does); values are 16-bit-quantised uniforms (a xorshift32 draw picks two entries of a
 * bf16 table), fast enough to write at disk speed, and differ from {@link randomOpenSoraWeights}'. The same
 * seed gives the same file. Returns the file's data bytes.
 */
export async function writeRandomOpenSoraCheckpoint(
  path: string,
  config: OpenSoraConfig,
  seed: number,
  options: RandomCheckpointOptions = {},
): Promise<number> {
  const chunkElements = options.chunkElements ?? CHUNK_ELEMENTS;
  // Two values per draw: an odd chunk would shift the pairing, and the values with it.
  if (!Number.isSafeInteger(chunkElements) || chunkElements < 2 || chunkElements % 2 !== 0)
    throw new RangeError(`chunkElements must be an even integer of at least 2, got ${chunkElements}`);
  const specs = openSoraWeightSpecs(config);
  const inits = weightInits(specs);
  const tables = new Map<number, Uint16Array>();
  const buffer = new Uint16Array(chunkElements);
  let total = 0;
  const sources = specs.map((spec, index): [string, SafetensorsSource] => {
    const init = inits.get(spec.name)!;
    const bound = uniformBound(init);
    const count = spec.shape.reduce((a, b) => a * b, 1);
    total += 2 * count;
    return [
      spec.name,
      {
        dtype: 'BF16',
        shape: spec.shape,
        *chunks() {
          let table = tables.get(bound);
          if (!table) {
            table = uniformBfloat16Table(bound);
            tables.set(bound, table);
          }
          let state = tensorState(seed, index);
          for (let start = 0; start < count; start += chunkElements) {
            const chunk = buffer.subarray(0, Math.min(chunkElements, count - start));
            state = fillFromTable(chunk, table, state);
            yield new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
          }
        },
      },
    ];
  });
  await writeSafetensorsStream(path, sources, { format: 'pt' });
  return total;
}
