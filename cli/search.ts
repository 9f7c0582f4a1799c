/**
 * `tessera search`: the layer-wise mask search (search/) on a checkpoint. Every input is checked before anything
 * runs (options, config, text embeddings, candidates compiled for the grid, the checkpoint against the config),
 * so a bad input writes nothing. Then: calibration along the sampler's path, the measurements with prefix
 * caching, and into `--out` one plan per threshold (`r<threshold>.json`), the error heatmap (PNG and SVG) and
 * `search.json` (the report). Progress goes to stderr (a live task list with a progress bar and the remaining
 * time on a terminal, plain lines otherwise); the report to stdout (JSON with --json).
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Listr, ListrLogger, ProcessOutput } from 'listr2';
import { renderScenePng, renderSceneSvg } from '../codegen/png/scene.js';
import { formatLayerPlan, type PlanBlockSizes } from '../compiler/layer-plan.js';
import { parseBlockSizes } from '../compiler/options.js';
import { OptionError } from '../core/errors.js';
import type { OpenSoraConfig } from '../models/open-sora-plan/config.js';
import { networkDenoiser, tokenGrid } from '../models/open-sora-plan/network.js';
import { DEFAULT_SPACING, type Guidance } from '../models/samplers/index.js';
import type { TokenGrid } from '../runtime/model-ops.js';
import {
  type CalibrationInput,
  type CalibrationSteps,
  calibrationCost,
  collectCalibration,
} from '../search/calibration.js';
import {
  type CandidateSpec,
  compileCandidates,
  defaultCandidates,
  parseCandidates,
  type SearchCandidate,
} from '../search/candidates.js';
import { errorHeatmapScene, searchHeatmaps } from '../search/heatmap.js';
import {
  SEARCH_MODES,
  type SearchMode,
  type SearchProgress,
  type SearchResult,
  searchLayers,
} from '../search/measure.js';
import { type SearchRecord, searchedPlans } from '../search/plans.js';
import { formatSearchReport, makeSearchReport } from '../search/report.js';
import { handleFailure } from './exit.js';
import {
  choice,
  type GenerateOptions,
  integer,
  latentShape,
  missingNegativePrompt,
  parseGenerateOptions,
  readTextEmbeddingSet,
  resolveCheckpoint,
} from './generate-inputs.js';
import type { ModelNetwork } from './generate-model.js';

/** The options of `tessera search` as commander hands them over (strings until checked). */
export interface SearchCliOptions {
  config: string;
  weights: string;
  textEmbeddings: string;
  frames: string;
  size?: string;
  candidates?: string;
  threshold: string;
  calibration: string;
  calibrationSteps: string;
  sampler: string;
  steps: string;
  spacing?: string;
  guidance: string;
  seed: string;
  mode: string;
  backend: string;
  block: string;
  out: string;
  json?: boolean;
  cache: boolean;
}

/** Checked options. */
export interface SearchCommandOptions {
  /** The options shared with `tessera generate` (config, weights, text, video size, sampler, backend). */
  readonly model: GenerateOptions;
  readonly candidates: readonly CandidateSpec[] | null;
  readonly thresholds: readonly number[];
  readonly seeds: readonly number[];
  readonly at: CalibrationSteps;
  readonly mode: SearchMode;
  readonly blocks: PlanBlockSizes;
  readonly out: string;
  readonly json: boolean;
  readonly cache: boolean;
}

/** How the command builds its network; tests inject one. */
export interface SearchDependencies {
  createNetwork(request: {
    config: OpenSoraConfig;
    weights: string;
    latent: ReturnType<typeof latentShape>;
    backend: GenerateOptions['backend'];
  }): Promise<ModelNetwork>;
}

const NUMBER = /^(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i;

/** `0.025,0.05,0.1`: non-negative numbers. */
export function parseThresholds(text: string): number[] {
  const parts = text.split(',').map((s) => s.trim());
  return parts.map((part) => {
    if (!NUMBER.test(part))
      throw new OptionError(
        `--threshold: "${part}" is not a number; give non-negative numbers, e.g. 0.025,0.05,0.1`,
      );
    return Number(part);
  });
}

/** `spread` or step indices `0,5,10`. */
function parseCalibrationSteps(text: string, steps: number): CalibrationSteps {
  if (text.trim() === 'spread') return 'spread';
  return text.split(',').map((s) => integer('--calibration-steps', s.trim(), 0, steps - 1));
}

/** Check every option value (files are checked when read). */
export function parseSearchOptions(cli: SearchCliOptions): SearchCommandOptions {
  const model = parseGenerateOptions({ ...cli, out: cli.out });
  const seeds = integer('--calibration', cli.calibration, 1, 1000);
  return {
    model,
    candidates: cli.candidates === undefined ? null : parseCandidates(cli.candidates),
    thresholds: parseThresholds(cli.threshold),
    seeds: Array.from({ length: seeds }, (_, i) => model.seed + i),
    at: parseCalibrationSteps(cli.calibrationSteps, model.steps),
    mode: choice('--mode', cli.mode, SEARCH_MODES),
    blocks: parseBlockSizes(cli.block),
    out: cli.out,
    json: cli.json === true,
    cache: cli.cache,
  };
}

/** SHA-256 of a file, streamed. */
async function sha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

const clock = (ms: number) => {
  const s = Math.round(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
};

/** `[#####.....] 42% layer 12/32, 1m02s elapsed, ETA 3m10s`. */
export function progressLine(p: SearchProgress, layers: number, width = 24): string {
  const share = p.total === 0 ? 1 : Math.min(1, p.done / p.total);
  const filled = Math.round(width * share);
  const eta = p.done === 0 ? '?' : clock((p.elapsedMs * (p.total - p.done)) / p.done);
  const paths = p.paths > 1 ? `, ${p.paths} paths` : '';
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(100 * share).toFixed(0)}% layer ${p.layer + 1}/${layers}${paths}, ${clock(p.elapsedMs)} elapsed, ETA ${eta}`;
}

/** Updates for a plain log: at most one per 10% or per 30 s. */
function throttled(tty: boolean, set: (line: string) => void): (line: string, share: number) => void {
  let lastShare = -1;
  let lastTime = 0;
  return (line, share) => {
    const now = performance.now();
    if (tty || share >= 1 || share - lastShare >= 0.1 || now - lastTime >= 30_000) {
      lastShare = share;
      lastTime = now;
      set(line);
    }
  };
}

/** A listr2 logger writing to stderr only. */
const stderrLogger = () =>
  new ListrLogger({ processOutput: new ProcessOutput(process.stderr, process.stderr) });

/** What the tasks hand on to each other. */
interface SearchContext {
  config: OpenSoraConfig;
  /** The safetensors file of the checkpoint (inside its folder, or the file given). */
  weightsFile: string;
  grid: TokenGrid;
  prompts: Guidance[];
  candidates: SearchCandidate[];
  model: ModelNetwork;
  checkpoint: Record<string, string>;
  inputs: CalibrationInput[];
  result: SearchResult;
}

/** The checks that need files (config, embeddings, candidates), before anything heavy runs. */
async function prepare(
  options: SearchCommandOptions,
): Promise<Pick<SearchContext, 'config' | 'weightsFile' | 'grid' | 'prompts' | 'candidates'>> {
  const { model } = options;
  const { config, weightsFile } = await resolveCheckpoint(model.weights, model.configName);
  const latent = latentShape(config, model);
  const grid = tokenGrid(config, latent);
  const set = await readTextEmbeddingSet(model.textEmbeddings, config.captionChannels);
  const prompts = set.map(({ cond, uncond }): Guidance => {
    // The same rule as `tessera generate`: guidance runs the encoded negative prompt, never an empty one.
    if (model.guidance !== 1 && !uncond) throw missingNegativePrompt(model.guidance);
    return { cond, scale: model.guidance, ...(uncond ? { uncond } : {}) };
  });
  const specs = options.candidates ?? defaultCandidates(grid.frames);
  const candidates = await compileCandidates(specs, grid, options.blocks, options.cache ? undefined : null);
  if (existsSync(options.out) && !statSync(options.out).isDirectory())
    throw new OptionError(`--out: ${options.out} exists and is not a folder`);
  return { config, weightsFile, grid, prompts, candidates };
}

/** Write the plans, the pictures and the report; returns the report. */
async function writeOutputs(options: SearchCommandOptions, ctx: SearchContext) {
  const { model } = options;
  const record: SearchRecord = {
    config: ctx.config,
    grid: ctx.grid,
    blocks: options.blocks,
    checkpoint: ctx.checkpoint,
    calibration: {
      sampler: model.sampler,
      steps: model.steps,
      spacing: model.spacing ?? DEFAULT_SPACING[model.sampler],
      guidance: model.guidance,
      seeds: options.seeds,
      prompts: ctx.prompts.length,
      at: options.at,
    },
    inputs: ctx.inputs,
  };
  await mkdir(options.out, { recursive: true });
  const files: string[] = [];
  const plans = searchedPlans(ctx.result, record, options.out);
  for (const p of plans) {
    const path = join(options.out, p.fileName);
    await writeFile(path, formatLayerPlan(p.plan, options.out));
    files.push(path);
  }
  for (const { name, input } of searchHeatmaps(ctx.result, record)) {
    const scene = errorHeatmapScene(input);
    for (const [ext, data] of [
      ['png', renderScenePng(scene)],
      ['svg', renderSceneSvg(scene)],
    ] as const) {
      const path = join(options.out, `${name}.${ext}`);
      await writeFile(path, data);
      files.push(path);
    }
  }
  const reportPath = join(options.out, 'search.json');
  files.push(reportPath);
  const report = makeSearchReport(ctx.result, record, plans, files, (p) => join(options.out, p.fileName));
  await writeFile(reportPath, `${JSON.stringify(report, null, 2)}\n`);
  return report;
}

/** The search with its progress as a task list on stderr. */
async function search(options: SearchCommandOptions, deps: SearchDependencies): Promise<SearchContext> {
  const tty = process.stderr.isTTY === true;
  const ctx = {} as SearchContext;
  const checked = await prepare(options);
  Object.assign(ctx, checked);
  const { model } = options;
  const tasks = new Listr<SearchContext>(
    [
      {
        title: `Load ${model.weights} on ${model.backend}`,
        task: async (_, task) => {
          const latent = latentShape(ctx.config, model);
          ctx.model = await deps.createNetwork({
            config: ctx.config,
            weights: ctx.weightsFile,
            latent,
            backend: model.backend,
          });
          task.output = 'SHA-256 of the checkpoint...';
          ctx.checkpoint = { file: ctx.weightsFile, sha256: await sha256(ctx.weightsFile) };
        },
      },
      {
        title: `Calibration: ${ctx.prompts.length} prompt(s) x ${options.seeds.length} seed(s) along ${model.sampler} (${model.steps} steps)`,
        task: async (_, task) => {
          const calls = calibrationCost(
            { seeds: options.seeds, sampler: model.sampler, steps: model.steps, at: options.at },
            ctx.prompts.length,
          );
          let done = 0;
          const update = throttled(tty, (line) => (task.output = line));
          ctx.inputs = await collectCalibration(
            networkDenoiser(ctx.model.network),
            {
              prompts: ctx.prompts,
              seeds: options.seeds,
              sampler: model.sampler,
              steps: model.steps,
              at: options.at,
              ...(model.spacing === undefined ? {} : { spacing: model.spacing }),
            },
            (r) => {
              done++;
              update(
                `prompt ${r.prompt}, seed ${r.seed}: step ${r.index + 1} (t=${r.timestep}), ${done}/${calls} forwards`,
                done / calls,
              );
            },
          );
          task.title = `Calibration: ${ctx.inputs.length} inputs from ${calls} full-model forwards`;
        },
      },
      {
        title: `Measure ${ctx.config.layers} layers x ${ctx.candidates.length} candidates x ${options.seeds.length * ctx.prompts.length} inputs (${options.mode} mode)`,
        task: async (_, task) => {
          const update = throttled(tty, (line) => (task.output = line));
          ctx.result = await searchLayers({
            network: ctx.model.network,
            candidates: ctx.candidates,
            inputs: ctx.inputs,
            thresholds: options.thresholds,
            mode: options.mode,
            onProgress: (p) =>
              update(progressLine(p, ctx.config.layers), p.total === 0 ? 1 : p.done / p.total),
          });
          const s = ctx.result.stats;
          task.title = `Measured ${s.suffixForwards} suffix forwards in ${clock(s.ms)}`;
        },
      },
    ],
    {
      // Everything on stderr: stdout carries the report (JSON with --json).
      renderer: 'default',
      rendererOptions: { logger: stderrLogger() },
      fallbackRenderer: 'simple',
      fallbackRendererCondition: !tty,
      fallbackRendererOptions: { logger: stderrLogger() },
      exitOnError: true,
      registerSignalListeners: false,
    },
  );
  try {
    await tasks.run(ctx);
  } finally {
    ctx.model?.dispose();
  }
  return ctx;
}

/** The command: check the inputs, search, write the plans, report and pictures; returns the exit code. */
export async function runSearch(cli: SearchCliOptions, deps: SearchDependencies): Promise<number> {
  try {
    const options = parseSearchOptions(cli);
    const ctx = await search(options, deps);
    const report = await writeOutputs(options, ctx);
    process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : formatSearchReport(report));
    return 0;
  } catch (error) {
    return handleFailure(error);
  }
}
