/**
 * Sequence parallelism (SPEC §1.4): the communicator contract and its two implementations (NCCL, loaded at run
 * time; a host communicator for CPU ranks), Ulysses and CFG-parallel as decorators over the graph's ops, the
 * rank layout, the rank environment of tessera's launcher, torchrun and Slurm, and the launcher itself.
 * Importing it never loads the CUDA addon.
 */
export type { DeviceBuffer, HostBuffer, PeerBuffer, TensorCommunicator } from './communicator.js';
export { ControlChannel, type ControlOptions, summaryHash } from './control.js';
export { cpuShards } from './cpu-shards.js';
export { cudaShards } from './cuda-shards.js';
export { ParallelConfigError, RankError } from './errors.js';
export { HostCommunicator } from './host-communicator.js';
export { expandHostList, firstHost } from './hostlist.js';
export { type LaunchOptions, type LaunchResult, launchRanks, type RankExit } from './launch.js';
export {
  checkDegrees,
  type DegreeContext,
  defaultDegrees,
  degreeChoices,
  type FrameSlice,
  frameSlices,
  logicalLayout,
  type ParallelDegrees,
  type RankLayout,
  rankLayout,
  validSpDegrees,
} from './layout.js';
export { chunkRounds, NcclCommunicator, type NcclProbe, ncclAvailable, ncclCandidates } from './nccl.js';
export { parallelOps } from './parallel-ops.js';
export { detectRankEnv, type RankEnv } from './rank-env.js';
export { type Index3, type ShardBackend, type Sharded, shardedOps, type Transfer } from './sharded.js';
export { tokenSlices } from './ulysses.js';
export {
  type JoinOptions,
  joinCpuWorld,
  joinCudaWorld,
  logicalCpuWorld,
  logicalCudaWorld,
  type ParallelWorld,
} from './world.js';
