/**
 * The Open-Sora-Plan network split over a parallel world (SPEC §1.4): the graph of blocks.ts, unchanged, on
 * the ops of runtime/parallel (Ulysses over the tokens, CFG-parallel over guidance's two rows), so every rank
 * runs the same forward on its share and ends with the whole output; the sampler then runs on every rank in
 * lockstep (the same epsilon everywhere gives the same latents) and rank 0 writes them. On CUDA a step runs
 * eagerly, on a memory plan or as one replayed CUDA graph, as the unsharded model does.
 */
import { TensorError } from '../../core/tensor.js';
import type { CudaTensor } from '../../runtime/cuda/device-arena.js';
import type { CudaOps } from '../../runtime/cuda/model-ops.js';
import {
  type CudaExecution,
  type CudaPass,
  CudaStepGraph,
  type CudaStepStats,
} from '../../runtime/cuda/step-graph.js';
import type { OpTensor, SelfAttentionSpec, TokenGrid } from '../../runtime/model-ops.js';
import { checkDegrees } from '../../runtime/parallel/layout.js';
import { parallelOps } from '../../runtime/parallel/parallel-ops.js';
import { replicated, type Sharded } from '../../runtime/parallel/sharded.js';
import type { ParallelWorld } from '../../runtime/parallel/world.js';
import { type DeviceWeights, forwardPass } from './blocks.js';
import type { OpenSoraConfig } from './config.js';
import {
  createOpenSoraNetwork,
  type OpenSoraModel,
  type OpenSoraModelOptions,
  type OpenSoraNetwork,
  tokenGrid,
} from './network.js';
import type { ModelWeights } from './weights.js';

/** Options of {@link createParallelOpenSoraModel}: the model's, and the world it runs on. */
export interface ParallelOpenSoraModelOptions<T extends OpTensor>
  extends Omit<OpenSoraModelOptions<Sharded<T>>, 'ops' | 'precision'> {
  readonly world: ParallelWorld<T>;
}

/** A parallel model: the denoiser, the world, and a way to leave it. */
export interface ParallelOpenSoraModel extends OpenSoraModel {
  readonly world: ParallelWorld<OpTensor>['layout'];
  /** Leave the world (after the last step): closes the communicator. */
  close(): void;
}

/**
 * The network in pieces (see `OpenSoraNetwork`) on the world's decorated ops, with the degrees checked against
 * the model; its forward returns the whole output on every rank.
 */
export function createParallelOpenSoraNetwork<T extends OpTensor>(
  config: OpenSoraConfig,
  weights: ModelWeights,
  options: ParallelOpenSoraModelOptions<T>,
): OpenSoraNetwork<Sharded<T>> {
  const { world, ...modelOptions } = options;
  const grid = tokenGrid(config, options.latent);
  checkDegrees(world.layout, world.layout.world, {
    heads: config.heads,
    frames: grid.frames,
    guided: world.layout.cfg === 2,
  });
  const ops = parallelOps(world.base, world.shards, world.layout, grid);
  return createOpenSoraNetwork(config, weights, { ...modelOptions, ops });
}

function checkBatch(world: ParallelWorld<OpTensor>['layout'], batch: number): void {
  if (world.cfg === 2 && batch !== 2)
    throw new TensorError(
      'batch',
      `CFG-parallel runs guidance's unconditional and conditional rows on two rank groups; a batch of ${batch} has no such rows (use guidance, or leave CFG-parallel off)`,
    );
}

/** The network on a world of host ranks (CPU: logical ranks, or one rank per process over the host communicator). */
export function createParallelOpenSoraModel<T extends OpTensor>(
  config: OpenSoraConfig,
  weights: ModelWeights,
  options: ParallelOpenSoraModelOptions<T>,
): ParallelOpenSoraModel {
  const { world } = options;
  const { check, upload, forward, epsilon, ops, ...model } = createParallelOpenSoraNetwork(
    config,
    weights,
    options,
  );
  return {
    ...model,
    world: world.layout,
    async predictNoise(x, timesteps, text, textMask, batch) {
      const host = check(x, timesteps, text, textMask, batch);
      checkBatch(world.layout, batch);
      const outer = ops.mark?.();
      try {
        const out = ops.download(forward(upload(host)));
        world.comm?.check();
        return epsilon(out, batch);
      } finally {
        if (outer !== undefined) ops.release?.(outer);
      }
    },
    close: () => world.comm?.close(),
  };
}

/** Options of {@link createParallelCudaOpenSoraModel}. */
export interface ParallelCudaOpenSoraModelOptions extends ParallelOpenSoraModelOptions<CudaTensor> {
  /** How each step runs (default `eager`; see `createCudaOpenSoraModel`). */
  readonly execution?: CudaExecution;
}

/** A parallel CUDA model, with its execution's counters. */
export interface ParallelCudaOpenSoraModel extends ParallelOpenSoraModel {
  readonly execution: CudaExecution;
  stepStats(): CudaStepStats;
  /** Free the slab and the graph (the weights stay). */
  dispose(): void;
}

/**
 * The network on a world of CUDA ranks (`ops` is the world's base: one GPU per process over NCCL, or logical
 * ranks on one GPU). Weights are uploaded once per process and kept; steps run per `execution`.
 */
export function createParallelCudaOpenSoraModel(
  config: OpenSoraConfig,
  weights: ModelWeights,
  ops: CudaOps,
  options: ParallelCudaOpenSoraModelOptions,
): ParallelCudaOpenSoraModel {
  const { execution = 'eager', ...rest } = options;
  const { world } = rest;
  const network = ops.persistent(() => createParallelOpenSoraNetwork(config, weights, rest));
  const { check, upload, forward, epsilon, lastAttentionMs, ops: _decorated, ...model } = network;
  const steps = new CudaStepGraph(ops, execution);
  let timed = true;
  const whole = (t: Sharded<CudaTensor>): CudaTensor => {
    if (!t.whole) throw new TensorError('output', 'the parallel forward did not gather its output');
    return t.parts[0]!;
  };
  return {
    ...model,
    world: world.layout,
    execution,
    async predictNoise(x, timesteps, text, textMask, batch) {
      const host = check(x, timesteps, text, textMask, batch);
      checkBatch(world.layout, batch);
      const key = `${batch}/${host.textTokens}/${Buffer.from(host.textMask).toString('base64')}`;
      const before = steps.stats();
      const out = steps.run(key, { inputs: () => upload(host), forward: (i) => whole(forward(i)) }, (t) =>
        ops.download(t),
      );
      const after = steps.stats();
      if (after.replays > before.replays) world.comm?.replayed?.();
      world.comm?.check();
      timed = execution !== 'graph' || after.traces > before.traces;
      return epsilon(out, batch);
    },
    lastAttentionMs: () => (timed ? lastAttentionMs() : undefined),
    stepStats: () => steps.stats(),
    dispose: () => steps.dispose(),
    close: () => {
      steps.dispose();
      world.comm?.close();
    },
  };
}

/** A step's inputs already on the device (benchmarks and device checks, which skip the host checkpoint). */
export interface DeviceStepInputs {
  readonly latents: CudaTensor;
  readonly text: CudaTensor;
  readonly timesteps: Float32Array;
  readonly textMask: Uint8Array;
}

/**
 * One step of the network on device-resident weights and inputs as a pass for {@link CudaStepGraph}: on `ops`
 * alone when `world` is null, else on the world's decorated ops with the weights and inputs replicated on its
 * local ranks (the output is the first local rank's whole output).
 */
export function deviceStepPass(
  ops: CudaOps,
  world: ParallelWorld<CudaTensor> | null,
  weight: DeviceWeights<CudaTensor>,
  config: OpenSoraConfig,
  grid: TokenGrid,
  attention: readonly SelfAttentionSpec[],
  inputs: DeviceStepInputs,
): CudaPass<unknown> {
  const { latents, text, timesteps, textMask } = inputs;
  if (!world)
    return {
      inputs: () => ops.timestepFeatures(timesteps, config.timestepChannels),
      forward: (features) =>
        forwardPass(ops, weight, config, grid, attention, {
          latents,
          text,
          timestepFeatures: features as CudaTensor,
          textMask,
        }),
    };
  const pops = parallelOps(ops, world.shards, world.layout, grid);
  const n = world.layout.local.length;
  return {
    inputs: () => pops.timestepFeatures(timesteps, config.timestepChannels),
    forward: (features) => {
      const out = forwardPass(pops, (name) => replicated(weight(name), n), config, grid, attention, {
        latents: replicated(latents, n),
        text: replicated(text, n),
        timestepFeatures: features as Sharded<CudaTensor>,
        textMask,
      });
      if (!out.whole) throw new TensorError('output', 'the parallel forward did not gather its output');
      return out.parts[0]!;
    },
  };
}
