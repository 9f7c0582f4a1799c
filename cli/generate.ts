/**
 * `tessera generate`: sample a video latent with the Open-Sora-Plan 1.2 DiT from text embeddings, and write it
 * as safetensors (`latents` [1, C, T, H, W] float32, with the run's settings in the metadata). Progress goes to
 * stderr (one updating line on a terminal, a line per step otherwise); the timing report goes to stdout (JSON
 * with --json).
 */
import { OptionError } from '../core/errors.js';
import { writeSafetensors } from '../core/safetensors.js';
import { fromStorage } from '../core/tensor.js';
import type { OpenSoraConfig } from '../models/open-sora-plan/config.js';
import type { Denoiser, LatentShape } from '../models/open-sora-plan/denoiser.js';
import {
  DEFAULT_SPACING,
  guidedPredictor,
  linearDdpmSchedule,
  type StepReport,
  sample,
  sampleTimesteps,
} from '../models/samplers/index.js';
import { detectRankEnv } from '../runtime/parallel/rank-env.js';
import { handleFailure } from './exit.js';
import {
  type GenerateBackend,
  type GenerateCliOptions,
  type GenerateExecution,
  type GenerateOptions,
  latentShape,
  missingNegativePrompt,
  parseGenerateOptions,
  readTextEmbeddings,
  resolveCheckpoint,
  VAE_STRIDE,
} from './generate-inputs.js';
import { launchGenerate, runRankGenerate } from './generate-parallel.js';
import { GenerateProgress } from './generate-progress.js';
import { prepareOutputFile } from './output-paths.js';

/** What building a network needs: the model is bound to one latent shape and one per-layer plan. */
export interface DenoiserRequest {
  readonly config: OpenSoraConfig;
  /** Path of the diffusers-style safetensors weights file. */
  readonly weights: string;
  /** Path of the per-layer plan JSON; absent means full attention everywhere. */
  readonly plan?: string;
  readonly latent: LatentShape;
  readonly backend: GenerateBackend;
  /** The CUDA network's step execution; absent: planned memory. */
  readonly execution?: GenerateExecution;
  /** Hears of each finished transformer block of a forward pass (progress inside a step). */
  readonly onLayer?: (done: number, layers: number) => void;
}

/** A text sink (stdout, stderr, or a test's buffer); `isTTY` turns on the updating progress line. */
export interface TextSink {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

/** What `runGenerate` needs from the outside world; tests inject fakes. */
export interface GenerateDependencies {
  createDenoiser(request: DenoiserRequest): Promise<Denoiser>;
  readonly stdout?: TextSink;
  readonly stderr?: TextSink;
  /**
   * A rank of a parallel run: every rank samples in lockstep, only rank 0 prints progress and writes the
   * latents. Absent: the run is this process alone.
   */
  readonly rank?: { readonly rank: number; readonly world: number; readonly description: string };
}

/** Per-step timings and where the latents went. */
export interface GenerateReport {
  readonly out: string;
  readonly sampler: string;
  readonly timesteps: readonly number[];
  /** Building the network: reading the checkpoint, uploading the weights, compiling the per-layer plan. */
  readonly setupMs: number;
  readonly steps: readonly StepReport[];
  /** Sum of the step times (the setup and writing the latents excluded). */
  readonly totalMs: number;
  /** Share of step time spent in attention, when the network reports attention time for every step. */
  readonly attentionShare?: number;
  /** A parallel run: its ranks and how they split the step. */
  readonly parallel?: { readonly ranks: number; readonly split: string };
}

function formatTimestep(t: number): string {
  return Number.isInteger(t) ? String(t) : t.toFixed(2);
}

/** The report printed for humans. */
export function formatGenerateReport(report: GenerateReport): string {
  const lines = [
    `wrote ${report.out}`,
    `network built in ${report.setupMs.toFixed(1)} ms (weights read and uploaded, plan compiled)`,
    ...(report.parallel ? [`${report.parallel.ranks} ranks: ${report.parallel.split}`] : []),
    `${report.sampler}: ${report.steps.length} steps, ${report.totalMs.toFixed(1)} ms`,
  ];
  const withAttention = report.attentionShare !== undefined;
  lines.push(`  step  timestep        ms${withAttention ? '  attention ms' : ''}`);
  for (const s of report.steps) {
    const attention = withAttention ? `  ${(s.attentionMs ?? 0).toFixed(1).padStart(12)}` : '';
    lines.push(
      `  ${String(s.index + 1).padStart(4)}  ${formatTimestep(s.timestep).padStart(8)}  ${s.ms.toFixed(1).padStart(8)}${attention}`,
    );
  }
  const mean = report.steps.length ? report.totalMs / report.steps.length : 0;
  lines.push(`mean ${mean.toFixed(1)} ms per step`);
  if (withAttention)
    lines.push(`attention ${(100 * (report.attentionShare as number)).toFixed(1)}% of step time`);
  return `${lines.join('\n')}\n`;
}

/** Sample and write the latents; returns the report (errors are thrown, see {@link runGenerate}). */
export async function generate(
  options: GenerateOptions,
  deps: GenerateDependencies,
): Promise<GenerateReport> {
  const stderr = deps.stderr ?? process.stderr;
  // Ranks other than 0 sample in lockstep with it but print nothing and write nothing.
  const lead = (deps.rank?.rank ?? 0) === 0;
  const { config, weightsFile } = await resolveCheckpoint(options.weights, options.configName);
  const latent = latentShape(config, options);
  const text = await readTextEmbeddings(options.textEmbeddings, config.captionChannels);
  const uncond = text.uncond;
  if (options.guidance !== 1 && !uncond) {
    throw missingNegativePrompt(options.guidance);
  }
  // A path that cannot be written fails now, not after the last step.
  if (lead) await prepareOutputFile(options.out);
  let progress: GenerateProgress | undefined;
  const setupStart = performance.now();
  const denoiser = await deps.createDenoiser({
    config,
    weights: weightsFile,
    onLayer: (done, layers) => progress?.layer(done, layers),
    latent,
    backend: options.backend,
    ...(options.plan === undefined ? {} : { plan: options.plan }),
    ...(options.execution === undefined ? {} : { execution: options.execution }),
  });
  const setupMs = performance.now() - setupStart;
  const model = guidedPredictor(denoiser, {
    cond: text.cond,
    scale: options.guidance,
    ...(uncond === undefined ? {} : { uncond }),
  });
  const schedule = linearDdpmSchedule();
  const request = {
    sampler: options.sampler,
    steps: options.steps,
    seed: options.seed,
    ...(options.spacing === undefined ? {} : { spacing: options.spacing }),
  };
  const timesteps = sampleTimesteps(schedule, request);
  const steps: StepReport[] = [];
  if (lead) progress = new GenerateProgress(stderr, timesteps.length);
  const latents = await sample(model, schedule, {
    ...request,
    onStep: (r) => {
      steps.push(r);
      progress?.step(r);
    },
  });
  const { channels, frames, height, width } = latent;
  if (lead)
    await writeSafetensors(
      options.out,
      { latents: fromStorage('float32', [1, channels, frames, height, width], latents, 'latents') },
      {
        format: 'tessera-latents',
        config: config.name,
        weights: weightsFile,
        sampler: options.sampler,
        steps: String(options.steps),
        spacing: options.spacing ?? DEFAULT_SPACING[options.sampler],
        timesteps: JSON.stringify(timesteps),
        guidance: String(options.guidance),
        seed: String(options.seed),
        plan: options.plan ?? 'full',
        frames: String(options.frames),
        size: `${latent.width * VAE_STRIDE.width}x${latent.height * VAE_STRIDE.height}`,
        backend: options.backend,
      },
    );
  const totalMs = steps.reduce((a, s) => a + s.ms, 0);
  const attentionMs = steps.every((s) => s.attentionMs !== undefined)
    ? steps.reduce((a, s) => a + (s.attentionMs as number), 0)
    : undefined;
  return {
    out: options.out,
    sampler: options.sampler,
    timesteps,
    setupMs,
    steps,
    totalMs,
    ...(attentionMs === undefined || totalMs === 0 ? {} : { attentionShare: attentionMs / totalMs }),
    ...(deps.rank ? { parallel: { ranks: deps.rank.world, split: deps.rank.description } } : {}),
  };
}

/** The command: check options, generate, print the report; returns the exit code (see `cli/exit.ts`). */
export async function runGenerate(cli: GenerateCliOptions, deps: GenerateDependencies): Promise<number> {
  try {
    const options = parseGenerateOptions(cli);
    const env = detectRankEnv();
    if (options.launch && options.launch.processes > 1) {
      if (env && env.world > 1)
        throw new OptionError(
          `${options.launch.option}: ${env.launcher === 'slurm' ? 'srun' : env.launcher} already started this process as rank ${env.rank} of ${env.world}; leave ${options.launch.option} out`,
        );
      return await launchGenerate(options, process.argv.slice(1));
    }
    if (env && env.world > 1) return await runRankGenerate(options, env, deps, runSingle);
    if ((options.spDegree ?? 1) !== 1 || options.cfgParallel)
      throw new OptionError(
        '--sp-degree and --cfg-parallel split a step over ranks; start them with --gpus, --ranks, torchrun or srun',
      );
    return await runSingle(options, deps);
  } catch (error) {
    return handleFailure(error);
  }
}

/** Generate and print the report (rank 0 of a parallel run prints; the other ranks only sample). */
async function runSingle(options: GenerateOptions, deps: GenerateDependencies): Promise<number> {
  const report = await generate(options, deps);
  if ((deps.rank?.rank ?? 0) !== 0) return 0;
  const stdout = deps.stdout ?? process.stdout;
  stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : formatGenerateReport(report));
  return 0;
}
