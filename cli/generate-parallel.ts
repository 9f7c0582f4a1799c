/**
 * `tessera generate` over several ranks. Without a launcher around it, `--gpus P` (or `--ranks P`) starts P
 * copies of the command on this machine (runtime/parallel/launch.ts) and waits for them. Each rank, whoever
 * launched it (tessera, torchrun, srun), joins the world with a hash of everything that must agree (model,
 * weights, plan, text, sampling settings, degrees), so ranks started with different settings refuse before any
 * work; then builds the parallel network on its share, samples in lockstep with the others, and only rank 0
 * prints and writes. A failure on any rank stops the others with its message.
 */
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { type CompiledLayerPlan, planLayers, readLayerPlan } from '../compiler/layer-plan.js';
import { COMPILER_VERSION } from '../compiler/version.js';
import { OptionError, UserError } from '../core/errors.js';
import { tokenGrid } from '../models/open-sora-plan/network.js';
import {
  createParallelCudaOpenSoraModel,
  createParallelOpenSoraModel,
  type ParallelOpenSoraModel,
} from '../models/open-sora-plan/parallel-model.js';
import { loadOpenSoraWeights } from '../models/open-sora-plan/weights.js';
import { cudaAvailable } from '../runtime/cuda/index.js';
import { RankError } from '../runtime/parallel/errors.js';
import { launchRanks } from '../runtime/parallel/launch.js';
import { checkDegrees, defaultDegrees, type ParallelDegrees } from '../runtime/parallel/layout.js';
import { ncclAvailable } from '../runtime/parallel/nccl.js';
import type { RankEnv } from '../runtime/parallel/rank-env.js';
import { joinCpuWorld, joinCudaWorld, type ParallelWorld } from '../runtime/parallel/world.js';
import type { GenerateDependencies } from './generate.js';
import {
  type Checkpoint,
  type GenerateOptions,
  latentShape,
  resolveCheckpoint,
  videoSize,
} from './generate-inputs.js';

/** Seconds a join, a silent root or a rank without progress may take (TESSERA_PARALLEL_TIMEOUT). */
export function parallelTimeoutMs(env: Readonly<Record<string, string | undefined>> = process.env): number {
  const text = env.TESSERA_PARALLEL_TIMEOUT;
  if (text === undefined || text === '') return 300_000;
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds <= 0)
    throw new OptionError(`TESSERA_PARALLEL_TIMEOUT=${text}: expected a positive number of seconds`);
  return seconds * 1000;
}

/** The command line without the option that asked for the launch (the ranks must not launch again). */
export function rankArguments(argv: readonly string[], option: '--gpus' | '--ranks'): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === option) {
      i++;
      continue;
    }
    if (a.startsWith(`${option}=`)) continue;
    out.push(a);
  }
  return out;
}

/** `--gpus P` / `--ranks P`: check the backend can run here, start P ranks, wait; the exit code of the run. */
export async function launchGenerate(options: GenerateOptions, argv: readonly string[]): Promise<number> {
  const { processes, option } = options.launch!;
  if (options.backend === 'cuda') {
    const cuda = cudaAvailable();
    if (!cuda.available)
      throw new UserError(`${option} ${processes}: CUDA backend unavailable: ${cuda.reason}`);
    const nccl = ncclAvailable();
    if (!nccl.available) throw new UserError(`${option} ${processes}: ${nccl.reason}`);
  }
  const args = rankArguments(argv, option);
  // The ranks do not see --gpus, which implied the backend: name it.
  if (!args.some((a) => a === '--backend' || a.startsWith('--backend=')))
    args.push('--backend', options.backend);
  const result = await launchRanks({ world: processes, args });
  return result.exitCode;
}

/** A fingerprint of a file: its size and a hash of its bytes (the first and last 4 MiB of large files). */
export function fileFingerprint(path: string): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new OptionError(
      `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  try {
    const size = fstatSync(fd).size;
    const hash = createHash('sha256');
    const window = 4 * 2 ** 20;
    const read = (at: number, n: number) => {
      const buf = Buffer.alloc(n);
      readSync(fd, buf, 0, n, at);
      hash.update(buf);
    };
    if (size <= 2 * window) read(0, size);
    else {
      read(0, window);
      read(size - window, window);
    }
    return `${size} bytes, ${hash.digest('hex').slice(0, 16)}`;
  } catch (e) {
    throw new OptionError(`cannot read ${path}: ${(e as Error).message}`);
  } finally {
    closeSync(fd);
  }
}

/** Everything the ranks of one run must agree on, as name -> value. */
function runSummary(
  options: GenerateOptions,
  checkpoint: Checkpoint,
  degrees: ParallelDegrees,
  world: number,
): Record<string, string> {
  const pixels = videoSize(checkpoint.config, options);
  return {
    tessera: COMPILER_VERSION,
    config: JSON.stringify(checkpoint.config),
    weights: fileFingerprint(checkpoint.weightsFile),
    'text embeddings': fileFingerprint(options.textEmbeddings),
    plan: options.plan === undefined ? 'full attention' : fileFingerprint(options.plan),
    video: `${options.frames} frames at ${pixels.width}x${pixels.height}`,
    sampler: `${options.sampler}, ${options.steps} steps, spacing ${options.spacing ?? 'default'}`,
    guidance: String(options.guidance),
    seed: String(options.seed),
    backend: `${options.backend}${options.execution ? ` (${options.execution})` : ''}`,
    split: `${world} ranks, Ulysses ${degrees.sp}, CFG-parallel ${degrees.cfg === 2 ? 'on' : 'off'}`,
  };
}

/** How the ranks split the step, in words. */
function describe(d: ParallelDegrees): string {
  if (d.cfg === 2 && d.sp > 1) return `CFG-parallel, Ulysses ${d.sp} per row`;
  if (d.cfg === 2) return 'CFG-parallel (one rank per guidance row)';
  return `Ulysses ${d.sp}`;
}

/**
 * One rank of a parallel run: join, build, sample in lockstep; rank 0 prints and writes (through `run`, the
 * single-process command with `deps` extended). Returns the exit code.
 */
export async function runRankGenerate(
  options: GenerateOptions,
  env: RankEnv,
  deps: GenerateDependencies,
  run: (options: GenerateOptions, deps: GenerateDependencies) => Promise<number>,
): Promise<number> {
  const checkpoint = await resolveCheckpoint(options.weights, options.configName);
  const { config } = checkpoint;
  const latent = latentShape(config, options);
  const ctx = { heads: config.heads, frames: latent.frames, guided: options.guidance !== 1 };
  let degrees: ParallelDegrees;
  if (options.spDegree === undefined && !options.cfgParallel) degrees = defaultDegrees(env.world, ctx);
  else {
    const cfg = options.cfgParallel ? 2 : 1;
    degrees = { sp: options.spDegree ?? env.world / cfg, cfg };
  }
  checkDegrees(degrees, env.world, ctx);
  const join = {
    env,
    degrees,
    summary: runSummary(options, checkpoint, degrees, env.world),
    timeoutMs: parallelTimeoutMs(),
  };
  let world: ParallelWorld<never> | undefined;
  let model: ParallelOpenSoraModel | undefined;
  try {
    const joined =
      options.backend === 'cuda'
        ? await import('../runtime/cuda/model-ops.js').then(({ createCudaOps }) =>
            joinCudaWorld(join, (device) => createCudaOps({ device })),
          )
        : joinCpuWorld(join);
    world = joined as ParallelWorld<never>;
    const code = await run(options, {
      ...deps,
      rank: { rank: env.rank, world: env.world, description: describe(degrees) },
      async createDenoiser(request) {
        const small = { frames: latent.frames, height: latent.height, width: latent.width };
        let layerPlan: CompiledLayerPlan | undefined;
        if (request.plan !== undefined) {
          await access(request.plan).catch((e: NodeJS.ErrnoException) => {
            throw new OptionError(`--plan: cannot read ${request.plan} (${e.code ?? e.message})`);
          });
          layerPlan = await planLayers(await readLayerPlan(request.plan), tokenGrid(request.config, small));
        }
        const weights = await loadOpenSoraWeights(request.weights, request.config);
        const modelOptions = { latent: small, ...(layerPlan === undefined ? {} : { layerPlan }) };
        if ('ops' in joined) {
          model = createParallelCudaOpenSoraModel(request.config, weights, joined.ops, {
            ...modelOptions,
            world: joined,
            execution: request.execution ?? 'planned',
          });
        } else
          model = createParallelOpenSoraModel(request.config, weights, { ...modelOptions, world: joined });
        return model;
      },
    });
    if (code !== 0) {
      world.comm?.check();
      return code;
    }
    if (model) model.close();
    else world.comm?.close();
    return 0;
  } catch (error) {
    // The world's fault explains this rank's error (a peer died, so this exchange failed): report the cause.
    const cause = error instanceof RankError ? error : world?.comm ? faultOf(world) : null;
    const message = error instanceof Error ? error.message : String(error);
    world?.fail?.(message);
    if (cause) throw cause;
    if (error instanceof UserError && !(error instanceof RankError))
      throw new RankError(env.rank, env.world, message);
    throw error;
  }
}

/** The world's fault, if one arrived. */
function faultOf(world: ParallelWorld<never>): RankError | null {
  try {
    world.comm?.check();
    return null;
  } catch (e) {
    return e instanceof RankError ? e : null;
  }
}
