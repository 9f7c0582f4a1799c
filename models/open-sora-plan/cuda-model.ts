/**
 * The Open-Sora-Plan graph on the CUDA ops: weights uploaded once (kept for good), then every forward pass run
 * eagerly on the arena's pool, on a memory plan, or replayed as a CUDA graph (see {@link CudaStepGraph}). Plus
 * seeded random weights generated on the device, for benchmarks of the full-size model without a
 * multi-gigabyte checkpoint.
 */

import { TensorError } from '../../core/tensor.js';
import type { CudaTensor } from '../../runtime/cuda/device-arena.js';
import type { CudaOps } from '../../runtime/cuda/model-ops.js';
import { type CudaExecution, CudaStepGraph, type CudaStepStats } from '../../runtime/cuda/step-graph.js';
import type { DeviceWeights } from './blocks.js';
import type { OpenSoraConfig } from './config.js';
import { createOpenSoraNetwork, type OpenSoraModel, type OpenSoraModelOptions } from './network.js';
import { uniformBound, weightInits } from './random-weights.js';
import { openSoraWeightSpecs } from './weight-names.js';
import type { ModelWeights } from './weights.js';

/** Options of {@link createCudaOpenSoraModel}. */
export interface CudaOpenSoraModelOptions
  extends Omit<OpenSoraModelOptions<CudaTensor>, 'ops' | 'precision'> {
  /**
   * How each `predictNoise` runs (default `eager`): `eager` on the arena's pool; `planned` on one slab planned
   * from the first pass's allocations; `graph` planned, with the forward captured once into a CUDA graph and
   * replayed after its inputs are uploaded. Planned and graph passes are re-planned when the batch, the text
   * length or the text mask changes. In `graph` execution `lastAttentionMs` is undefined after a captured or
   * replayed step (only the first, eager step of a shape times attention).
   */
  readonly execution?: CudaExecution;
}

/** The CUDA network, with its execution's counters. */
export interface CudaOpenSoraModel extends OpenSoraModel {
  readonly execution: CudaExecution;
  /** Traces, plans, captures and replays so far; the slab and graph in use. */
  stepStats(): CudaStepStats;
  /** Free the slab and the graph (the weights stay in the ops' arena). */
  dispose(): void;
}

/**
 * The network on `ops`. Memory is scoped per `predictNoise` call: the pass's activations are released after the
 * output is downloaded, so peak memory is one pass (weights + that pass's activations, or the slab).
 */
export function createCudaOpenSoraModel(
  config: OpenSoraConfig,
  weights: ModelWeights,
  ops: CudaOps,
  options: CudaOpenSoraModelOptions,
): CudaOpenSoraModel {
  const { execution = 'eager', ...modelOptions } = options;
  const network = ops.persistent(() => createOpenSoraNetwork(config, weights, { ...modelOptions, ops }));
  const {
    check,
    upload,
    forward,
    epsilon,
    lastAttentionMs,
    ops: _timedOps,
    weight: _weight,
    ...model
  } = network;
  const steps = new CudaStepGraph(ops, execution);
  // Attention is timed by the JavaScript forward, which a captured step only records and a replay skips.
  let timed = true;
  return {
    ...model,
    execution,
    async predictNoise(x, timesteps, text, textMask, batch) {
      const host = check(x, timesteps, text, textMask, batch);
      // What shapes the pass: sizes, and the text mask, which cross-attention uploads once per content.
      const key = `${batch}/${host.textTokens}/${Buffer.from(host.textMask).toString('base64')}`;
      const traces = steps.stats().traces;
      const out = steps.run(key, { inputs: () => upload(host), forward }, (t) => ops.download(t));
      timed = execution !== 'graph' || steps.stats().traces > traces;
      return epsilon(out, batch);
    },
    lastAttentionMs: () => (timed ? lastAttentionMs() : undefined),
    stepStats: () => steps.stats(),
    dispose: () => steps.dispose(),
  };
}

/**
 * Seeded random weights for `config` made on the device (bf16), with the scales of `weightInits` (random-weights.ts):
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
  const inits = weightInits(specs);
  const tensors = new Map<string, CudaTensor>();
  ops.persistent(() => {
    specs.forEach((spec, index) => {
      const shape =
        spec.name === 'pos_embed.proj.weight'
          ? [spec.shape[0]!, spec.shape.slice(1).reduce((a, b) => a * b, 1)]
          : spec.shape;
      const t = ops.arena.tensor('bfloat16', shape, spec.name);
      const total = shape.reduce((a, b) => a * b, 1);
      const bound = uniformBound(inits.get(spec.name)!);
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

/** A persistent bf16 tensor of seeded uniform values in [-1, 1), made on the device (benchmark and test inputs). */
export function randomDeviceTensor(ops: CudaOps, shape: readonly number[], seed: number): CudaTensor {
  const t = ops.persistent(() => ops.arena.tensor('bfloat16', shape, 'random input'));
  const total = shape.reduce((a, b) => a * b, 1);
  ops.kernels.elementwise('randomUniform', total, { out: t.buffer.ptr, total, seed, low: -1, high: 1 });
  return t;
}
