/**
 * Which rank this process is, read from the environment of the launchers people already use; nothing
 * tessera-specific needs setting:
 * - torchrun (`torchrun --nproc-per-node 4 --no-python tessera generate ...`) and tessera's own launcher
 *   (`tessera generate --gpus 4`): RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT;
 * - Slurm's srun: SLURM_PROCID, SLURM_NTASKS (SLURM_STEP_NUM_TASKS), SLURM_LOCALID, and the first host of the
 *   step's (else the job's) node list as the root.
 * The world meets at the root on a TCP port: MASTER_PORT, or MASTER_PORT + 1 when torchrun's agent already
 * serves its own store there (TORCHELASTIC_USE_AGENT_STORE=True), or a port derived from the Slurm job and
 * step ids; TESSERA_RENDEZVOUS_PORT overrides either.
 */
import { ParallelConfigError } from './errors.js';
import { firstHost } from './hostlist.js';

/** Where this process sits in a world of ranks. */
export interface RankEnv {
  readonly rank: number;
  readonly world: number;
  /** Rank on this machine: picks the GPU (modulo the GPUs the process sees). */
  readonly localRank: number;
  /** The root's host and the rendezvous port. */
  readonly host: string;
  readonly port: number;
  /** Who launched the process. */
  readonly launcher: 'tessera' | 'torchrun' | 'slurm' | 'environment';
}

type Env = Readonly<Record<string, string | undefined>>;

function count(env: Env, name: string, min: number): number {
  const text = env[name]!;
  const value = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(value) || value < min)
    throw new ParallelConfigError(`${name}=${text}: expected an integer of at least ${min}`);
  return value;
}

function port(env: Env, name: string): number {
  const p = count(env, name, 1);
  if (p > 65535) throw new ParallelConfigError(`${name}=${p}: not a TCP port`);
  return p;
}

function checkRank(rank: number, world: number, rankName: string, worldName: string): void {
  if (rank >= world) throw new ParallelConfigError(`${rankName}=${rank} is not below ${worldName}=${world}`);
}

/** The rank environment, or null when no launcher started this process (a world of one). */
export function detectRankEnv(env: Env = process.env): RankEnv | null {
  const override = env.TESSERA_RENDEZVOUS_PORT ? port(env, 'TESSERA_RENDEZVOUS_PORT') : undefined;
  if (env.RANK !== undefined && env.WORLD_SIZE !== undefined) {
    const world = count(env, 'WORLD_SIZE', 1);
    const rank = count(env, 'RANK', 0);
    checkRank(rank, world, 'RANK', 'WORLD_SIZE');
    const localRank = env.LOCAL_RANK !== undefined ? count(env, 'LOCAL_RANK', 0) : rank;
    const launcher = env.TESSERA_LAUNCHER
      ? 'tessera'
      : env.TORCHELASTIC_RUN_ID !== undefined || env.GROUP_RANK !== undefined
        ? 'torchrun'
        : 'environment';
    if (world === 1) return { rank, world, localRank, host: '127.0.0.1', port: 0, launcher };
    if (!env.MASTER_ADDR)
      throw new ParallelConfigError(
        'RANK and WORLD_SIZE are set but MASTER_ADDR is not: where does rank 0 run?',
      );
    if (!env.MASTER_PORT && override === undefined)
      throw new ParallelConfigError('RANK and WORLD_SIZE are set but MASTER_PORT is not');
    // torchrun's agent hosts its own TCP store on MASTER_PORT and says so; the next port is tessera's.
    const agentStore = env.TORCHELASTIC_USE_AGENT_STORE === 'True';
    const master = env.MASTER_PORT ? port(env, 'MASTER_PORT') : 0;
    const p = override ?? (agentStore ? master + 1 : master);
    if (p > 65535)
      throw new ParallelConfigError(`MASTER_PORT=${master}: no port after it for tessera's rendezvous`);
    return { rank, world, localRank, host: env.MASTER_ADDR, port: p, launcher };
  }
  const stepId = env.SLURM_STEP_ID ?? env.SLURM_STEPID;
  const tasksName = ['SLURM_STEP_NUM_TASKS', 'SLURM_NTASKS', 'SLURM_NPROCS'].find(
    (n) => env[n] !== undefined,
  );
  // srun sets SLURM_STEP_ID; a batch script has SLURM_PROCID=0 and SLURM_NTASKS too but runs one process.
  if (env.SLURM_PROCID !== undefined && tasksName && stepId !== undefined) {
    const world = count(env, tasksName, 1);
    const rank = count(env, 'SLURM_PROCID', 0);
    checkRank(rank, world, 'SLURM_PROCID', tasksName);
    const localRank = env.SLURM_LOCALID !== undefined ? count(env, 'SLURM_LOCALID', 0) : 0;
    if (world === 1) return { rank, world, localRank, host: '127.0.0.1', port: 0, launcher: 'slurm' };
    const listName = ['SLURM_STEP_NODELIST', 'SLURM_JOB_NODELIST', 'SLURM_NODELIST'].find((n) => env[n]);
    const host = env.MASTER_ADDR || (listName ? firstHost(env[listName]!) : undefined);
    if (!host)
      throw new ParallelConfigError(
        'srun started this process but neither SLURM_STEP_NODELIST, SLURM_JOB_NODELIST nor MASTER_ADDR names the root host',
      );
    let p = override ?? (env.MASTER_PORT ? port(env, 'MASTER_PORT') : undefined);
    if (p === undefined) {
      // Every task derives the same port from the job and step ids, so no set-up is needed.
      const job = env.SLURM_JOB_ID ?? env.SLURM_JOBID;
      if (job === undefined || !/^\d+$/.test(job) || !/^\d+$/.test(stepId))
        throw new ParallelConfigError('srun started this process without SLURM_JOB_ID; set MASTER_PORT');
      p = 20000 + ((Number(job) * 16 + Number(stepId)) % 20000);
    }
    return { rank, world, localRank, host, port: p, launcher: 'slurm' };
  }
  return null;
}
