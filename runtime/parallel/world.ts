/**
 * A parallel world as the model sees it: the rank layout, the backend's ops and shard operations, and the
 * communicator to check and close. Three kinds:
 * - logical ranks: the whole world in one process (CPU, or one GPU with device copies for the exchanges), for
 *   checks against the unsharded step;
 * - CPU ranks in separate processes over the host communicator (the reference of the partitioning in CI);
 * - CUDA ranks, one per process and GPU, over NCCL.
 */
import type { CpuTensor } from '../cpu/cpu-tensor.js';
import { createCpuOps } from '../cpu/model-ops.js';
import { CudaDevice } from '../cuda/device.js';
import type { CudaTensor } from '../cuda/device-arena.js';
import type { CudaOps } from '../cuda/model-ops.js';
import { loadNative } from '../cuda/native-binding.js';
import type { ModelOps, OpPrecision, OpTensor } from '../model-ops.js';
import type { TensorCommunicator } from './communicator.js';
import { ControlChannel } from './control.js';
import { cpuShards } from './cpu-shards.js';
import { cudaShards } from './cuda-shards.js';
import { HostCommunicator } from './host-communicator.js';
import { logicalLayout, type ParallelDegrees, type RankLayout, rankLayout } from './layout.js';
import { NcclCommunicator } from './nccl.js';
import type { RankEnv } from './rank-env.js';
import type { ShardBackend } from './sharded.js';

/** What a parallel model runs on. */
export interface ParallelWorld<T extends OpTensor> {
  readonly layout: RankLayout;
  readonly base: ModelOps<T>;
  readonly shards: ShardBackend<T>;
  /** This process's communicator; absent for logical ranks. */
  readonly comm?: TensorCommunicator<unknown> & { replayed?(): void };
  /** Tell the other ranks this one failed with `message` (they stop at once), and leave. */
  readonly fail?: (message: string) => void;
}

/** The whole world on the CPU in this process (exchanges are copies). */
export function logicalCpuWorld(
  degrees: ParallelDegrees,
  precision: OpPrecision = 'float64',
): ParallelWorld<CpuTensor> {
  return { layout: logicalLayout(degrees), base: createCpuOps(precision), shards: cpuShards(precision) };
}

/** The whole world on one GPU (exchanges are device-to-device copies on the model's stream). */
export function logicalCudaWorld(degrees: ParallelDegrees, ops: CudaOps): ParallelWorld<CudaTensor> {
  return { layout: logicalLayout(degrees), base: ops, shards: cudaShards(ops) };
}

/** How a process joins its world. */
export interface JoinOptions {
  readonly env: RankEnv;
  readonly degrees: ParallelDegrees;
  /** What must agree across ranks (name -> value); its hash is exchanged when joining. */
  readonly summary: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
}

/** The control channel of `options`' rank (rank 0 hands `setup` to the others). */
function joinChannel(options: JoinOptions, setup?: Uint8Array): ControlChannel {
  const { env } = options;
  return ControlChannel.join({
    rank: env.rank,
    size: env.world,
    host: env.host,
    port: env.port,
    timeoutMs: options.timeoutMs,
    summary: options.summary,
    ...(setup ? { setup } : {}),
  });
}

/** Join as a CPU rank: the control channel and the host communicator. */
export function joinCpuWorld(
  options: JoinOptions,
  precision: OpPrecision = 'float32',
): ParallelWorld<CpuTensor> {
  const { env } = options;
  const channel = joinChannel(options);
  const comm = new HostCommunicator(channel);
  return {
    layout: rankLayout(options.degrees, [env.rank]),
    base: createCpuOps(precision),
    shards: cpuShards(precision, comm),
    comm,
    fail: (message) => channel.fail(message),
  };
}

/**
 * Join as a CUDA rank: open the GPU of the local rank (modulo the GPUs this process sees), join the control
 * channel (rank 0 hands out NCCL's unique id, unless NCCL_COMM_ID names NCCL's own root), create the NCCL
 * communicator, then the ops on that device (`makeOps`).
 */
export function joinCudaWorld(
  options: JoinOptions,
  makeOps: (device: CudaDevice) => CudaOps,
): ParallelWorld<CudaTensor> & { readonly ops: CudaOps } {
  const { env } = options;
  const devices = loadNative().native?.probe().devices ?? 0;
  const device = CudaDevice.open(devices > 0 ? env.localRank % devices : 0);
  const ncclOwnRoot = process.env.NCCL_COMM_ID !== undefined && process.env.NCCL_COMM_ID !== '';
  // NCCL is loaded before joining, so a rank without it fails at once rather than after the others waited.
  const native = NcclCommunicator.probeOrThrow();
  const ops = makeOps(device);
  const setupId = env.rank === 0 && !ncclOwnRoot ? native.ncclUniqueId() : undefined;
  const channel = joinChannel(options, setupId);
  const id = ncclOwnRoot ? native.ncclUniqueId() : undefined;
  const comm = NcclCommunicator.init({ rank: env.rank, size: env.world, channel, ...(id ? { id } : {}) });
  return {
    layout: rankLayout(options.degrees, [env.rank]),
    base: ops,
    shards: cudaShards(ops, comm),
    comm,
    fail: (message) => channel.fail(message),
    ops,
  };
}
