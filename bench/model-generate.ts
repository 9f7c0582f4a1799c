/**
 * `tessera generate` at full size (issue 5): writes a random-weight Open-Sora-Plan 1.2 checkpoint (the real
 * tensor names and shapes, bf16, ~5.4 GB, streamed tensor by tensor) and mT5-XXL-shaped text embeddings, then
 * runs the real command line (`node dist/cli/main.js generate ... --json`, a child process) with a per-layer plan
 * and, with fewer steps, with full attention. For each run it checks the latents file (shape, float32, finite
 * values) and reports the network build time, per-step times, the attention share, the total and the peak
 * device memory (nvidia-smi, sampled) and host memory of the run. Writes `model-generate.json` into the folder.
 *
 * Usage (from the repository root, for plans and models/open-sora-plan/configs):
 *   node dist/bench/model-generate.js [--out DIR] [--config NAME|FILE] [--backend cuda|cpu] [--frames 29]
 *     [--size 720p] [--sampler segment] [--steps 20] [--full-steps 4] [--guidance 7.5]
 *     [--plan FILE|none] [--seed 0] [--text-tokens 120] [--reuse] [--execution eager|planned|graph]
 * --full-steps 0 skips the full-attention run, --plan none the planned one; --reuse keeps a checkpoint already
 * in DIR when its header matches the config. Small and on the CPU, e.g.:
 *   --config tiny --backend cpu --frames 9 --size 64x32 --steps 2 --full-steps 1 --plan PLAN.json
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { GenerateReport } from '../cli/generate.js';
import { parseSize, resolveConfig, VAE_STRIDE } from '../cli/generate-inputs.js';
import { gaussianNoise } from '../core/random.js';
import { readSafetensors, SafetensorsFile, writeSafetensors } from '../core/safetensors.js';
import { fromValues } from '../core/tensor.js';
import type { OpenSoraConfig } from '../models/open-sora-plan/config.js';
import { writeRandomOpenSoraCheckpoint } from '../models/open-sora-plan/random-weights.js';
import { openSoraWeightSpecs } from '../models/open-sora-plan/weight-names.js';
import { checkWeightEntries } from '../models/open-sora-plan/weights.js';

const { values: args } = parseArgs({
  options: {
    out: { type: 'string', default: 'out/bench-generate' },
    config: { type: 'string', default: 'models/open-sora-plan/configs/open-sora-plan-1.2-720p.json' },
    backend: { type: 'string', default: 'cuda' },
    frames: { type: 'string', default: '29' },
    size: { type: 'string', default: '720p' },
    sampler: { type: 'string', default: 'segment' },
    steps: { type: 'string', default: '20' },
    'full-steps': { type: 'string', default: '4' },
    guidance: { type: 'string', default: '7.5' },
    plan: { type: 'string', default: 'plans/example-t8.json' },
    seed: { type: 'string', default: '0' },
    'text-tokens': { type: 'string', default: '120' },
    reuse: { type: 'boolean', default: false },
    // Passed to `tessera generate --execution` when given (cuda: eager, planned or graph; default planned).
    execution: { type: 'string' },
  },
});

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));

/** The checkpoint in `dir`: reused when asked and its header fits the config, written otherwise. */
async function checkpoint(dir: string, config: OpenSoraConfig, seed: number) {
  const path = join(dir, 'weights.safetensors');
  if (args.reuse && existsSync(path)) {
    const file = await SafetensorsFile.open(path);
    const problems = checkWeightEntries(openSoraWeightSpecs(config), file.entries);
    const bytes = file.entries.reduce((a, e) => a + e.end - e.begin, 0);
    await file.close();
    if (problems.length === 0) return { path, bytes, writeMs: 0, reused: true };
    console.log(`${path} does not fit ${config.name} (${problems.length} problems): writing it again`);
  }
  const start = performance.now();
  const bytes = await writeRandomOpenSoraCheckpoint(path, config, seed);
  return { path, bytes, writeMs: performance.now() - start, reused: false };
}

/**
 * Text embeddings as an mT5-XXL pipeline would dump them: bf16 [1, L, D] and int64 [1, L] masks; the prompt
 * fills all L tokens, the negative prompt ("") is one token (EOS) and padding.
 */
async function textEmbeddings(dir: string, width: number, tokens: number, seed: number): Promise<string> {
  const path = join(dir, 'text-embeddings.safetensors');
  const mask = (visible: number) => {
    const bytes = new Uint8Array(8 * tokens);
    for (let i = 0; i < visible; i++) bytes[8 * i] = 1;
    return { dtype: 'I64' as const, shape: [1, tokens], bytes };
  };
  const embeds = (stream: number) =>
    fromValues('bfloat16', [1, tokens, width], gaussianNoise(seed, stream, tokens * width));
  await writeSafetensors(path, [
    ['prompt_embeds', embeds(0)],
    ['prompt_attention_mask', mask(tokens)],
    ['negative_prompt_embeds', embeds(1)],
    ['negative_prompt_attention_mask', mask(1)],
  ]);
  return path;
}

const GPU_MEMORY_QUERY = ['--query-gpu=memory.used', '--format=csv,noheader,nounits'];

/** Device memory in use (MiB) on `gpu` now, from nvidia-smi; null where there is none. */
function gpuMemoryNow(gpu: string): number | null {
  try {
    const text = execFileSync('nvidia-smi', [...GPU_MEMORY_QUERY, '-i', gpu], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const value = Number(text.trim());
    return Number.isFinite(value) ? value : null;
  } catch {
    return null;
  }
}

/**
 * Peak device memory on `gpu` (nvidia-smi in loop mode, every `ms`) and peak host memory of process `pid`
 * while a run lasts; `stop` ends the sampling and returns both in MiB (null where unavailable).
 */
function memorySampler(pid: number, gpu: string | null, ms = 200) {
  let gpuPeak: number | null = null;
  let hostPeak: number | null = null;
  const smi =
    gpu === null
      ? null
      : spawn('nvidia-smi', [...GPU_MEMORY_QUERY, '-i', gpu, '-lms', String(ms)], {
          stdio: ['ignore', 'pipe', 'ignore'],
        });
  smi?.on('error', () => {});
  let pending = '';
  smi?.stdout.setEncoding('utf8').on('data', (text: string) => {
    const lines = (pending + text).split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      const used = Number(line.trim());
      if (line.trim() !== '' && Number.isFinite(used)) gpuPeak = Math.max(gpuPeak ?? 0, used);
    }
  });
  const timer = setInterval(() => {
    try {
      // VmHWM is the process's own peak resident size (Linux), so a late sample loses nothing.
      const kib = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      if (kib) hostPeak = Number(kib) / 1024;
    } catch {
      // The process has exited, or there is no /proc.
    }
  }, ms);
  return {
    stop: () => {
      clearInterval(timer);
      smi?.kill();
      return { gpuPeakMiB: gpuPeak, hostPeakMiB: hostPeak };
    },
  };
}

interface Run {
  readonly name: string;
  readonly plan: string | null;
  readonly steps: number;
}

interface Inputs {
  readonly config: string;
  readonly weights: string;
  readonly text: string;
  readonly dir: string;
  /** The latents' shape [1, C, T, H, W]. */
  readonly shape: readonly number[];
}

/** Run `tessera generate` once; progress lines go through to stderr as they come. */
async function generate(run: Run, inputs: Inputs) {
  const out = join(inputs.dir, `latents-${run.name}.safetensors`);
  const cliArgs = [
    ...['generate', '--config', inputs.config, '--weights', inputs.weights],
    ...['--text-embeddings', inputs.text, '--frames', args.frames, '--size', args.size],
    ...['--sampler', args.sampler, '--steps', String(run.steps), '--guidance', args.guidance],
    ...['--seed', args.seed, '--backend', args.backend, '--out', out, '--json'],
    ...(run.plan === null ? [] : ['--plan', run.plan]),
    ...(args.execution === undefined ? [] : ['--execution', args.execution]),
  ];
  console.log(`\n[${run.name}] tessera ${cliArgs.join(' ')}`);
  const gpu = args.backend === 'cuda' ? (process.env.CUDA_VISIBLE_DEVICES?.split(',')[0] ?? '0') : null;
  const baselineMiB = gpu === null ? null : gpuMemoryNow(gpu);
  const start = performance.now();
  const child = spawn(process.execPath, [CLI, ...cliArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
  const memory = memorySampler(child.pid!, baselineMiB === null ? null : gpu);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
    process.stderr.write(s);
  });
  const code = await new Promise<number>((done) => child.on('close', (c) => done(c ?? 1)));
  const wallMs = performance.now() - start;
  const { gpuPeakMiB, hostPeakMiB } = memory.stop();
  const failed = (error: string) => ({ ...run, code, wallMs, error });
  if (code !== 0) return failed(stderr.trim().split('\n').slice(-20).join('\n'));
  let report: GenerateReport;
  let latents: Awaited<ReturnType<typeof checkLatents>>;
  try {
    report = JSON.parse(stdout) as GenerateReport;
    latents = await checkLatents(out, inputs.shape);
  } catch (e) {
    return failed(`no report or latents: ${(e as Error).message}\n${stdout.slice(0, 2000)}`);
  }
  return {
    ...run,
    code,
    wallMs,
    report,
    latents,
    deviceMemoryMiB:
      baselineMiB === null || gpuPeakMiB === null
        ? null
        : { baseline: baselineMiB, peak: gpuPeakMiB, run: gpuPeakMiB - baselineMiB },
    hostPeakMiB,
  };
}

/** Read the latents back: [1, C, T, H, W] float32 with finite values; their statistics. */
async function checkLatents(path: string, expected: readonly number[]) {
  const latents = (await readSafetensors(path)).tensors.get('latents');
  const problems: string[] = [];
  if (!latents) return { path, ok: false, problems: ['no tensor "latents"'] };
  if (latents.dtype !== 'float32') problems.push(`dtype ${latents.dtype}, expected float32`);
  if (latents.shape.join() !== expected.join())
    problems.push(`shape [${latents.shape.join(', ')}], expected [${expected.join(', ')}]`);
  const data = latents.data as Float32Array;
  let nonFinite = 0;
  let sum = 0;
  let squares = 0;
  let maxAbs = 0;
  for (const v of data) {
    if (!Number.isFinite(v)) nonFinite++;
    else {
      sum += v;
      squares += v * v;
      maxAbs = Math.max(maxAbs, Math.abs(v));
    }
  }
  if (nonFinite > 0) problems.push(`${nonFinite} of ${data.length} values are NaN or infinite`);
  const mean = sum / data.length;
  const std = Math.sqrt(Math.max(0, squares / data.length - mean * mean));
  return { path, ok: problems.length === 0, problems, shape: latents.shape, mean, std, maxAbs };
}

const average = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const gib = (mib: number | null | undefined) => (mib == null ? '-' : (mib / 1024).toFixed(1));

/** A whole-number option, checked (the command line checks its own again). */
function count(name: keyof typeof args, min: number): number {
  const value = Number(args[name]);
  if (!Number.isSafeInteger(value) || value < min)
    throw new Error(`--${name}: expected an integer of at least ${min}, found "${args[name]}"`);
  return value;
}

type Result = Awaited<ReturnType<typeof generate>>;

/** The table of runs (markdown, for bench/RESULTS.md) and the latents checks; false when anything failed. */
function printResults(results: readonly Result[]): boolean {
  console.log(
    '\n| run | steps | build s | first step ms | later steps ms (mean) | attention | steps s | process s | device GiB | host GiB |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  let ok = true;
  const later = new Map<string, number>();
  for (const r of results) {
    if (!('report' in r)) {
      ok = false;
      console.log(
        `| ${r.name} | ${r.steps} | failed (exit ${r.code}) | | | | | ${(r.wallMs / 1000).toFixed(1)} | | |`,
      );
      continue;
    }
    const ms = r.report.steps.map((s) => s.ms);
    later.set(r.name, ms.length > 1 ? average(ms.slice(1)) : ms[0]!);
    const share = r.report.attentionShare;
    console.log(
      `| ${r.name} | ${ms.length} | ${(r.report.setupMs / 1000).toFixed(1)} | ${ms[0]!.toFixed(0)} | ` +
        `${later.get(r.name)!.toFixed(1)} | ${share === undefined ? '-' : `${(100 * share).toFixed(1)}%`} | ` +
        `${(r.report.totalMs / 1000).toFixed(1)} | ${(r.wallMs / 1000).toFixed(1)} | ` +
        `${gib(r.deviceMemoryMiB?.run)} | ${gib(r.hostPeakMiB)} |`,
    );
  }
  console.log('');
  for (const r of results) {
    if (!('report' in r)) {
      console.log(`[${r.name}] exit ${r.code}:\n${r.error}`);
      continue;
    }
    const l = r.latents;
    ok &&= l.ok;
    const stats = l.ok
      ? `[${l.shape?.join(', ')}] float32, mean ${l.mean?.toFixed(4)}, std ${l.std?.toFixed(4)}, max |x| ${l.maxAbs?.toFixed(2)}`
      : `WRONG: ${l.problems.join('; ')}`;
    console.log(`[${r.name}] latents ${l.path}: ${stats}`);
  }
  const plan = later.get('plan');
  const full = later.get('full');
  if (plan !== undefined && full !== undefined)
    console.log(`per-step speedup of the plan over full attention: ${(full / plan).toFixed(2)}x`);
  return ok;
}

async function main(): Promise<void> {
  const dir = args.out;
  mkdirSync(dir, { recursive: true });
  const config = await resolveConfig(args.config);
  const seed = count('seed', 0);
  const frames = count('frames', 1);
  const tokens = count('text-tokens', 1);
  const params = openSoraWeightSpecs(config).reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1), 0);
  console.log(`${config.name}: ${params.toLocaleString('en-US')} parameters; backend ${args.backend}`);

  const ckpt = await checkpoint(dir, config, seed);
  const size = `${(ckpt.bytes / 1e6).toFixed(1)} MB`;
  console.log(
    ckpt.reused
      ? `checkpoint ${ckpt.path} reused (${size})`
      : `checkpoint ${ckpt.path}: ${size} of bf16 written in ${(ckpt.writeMs / 1000).toFixed(1)} s ` +
          `(${(ckpt.bytes / 1e3 / ckpt.writeMs).toFixed(0)} MB/s)`,
  );
  const text = await textEmbeddings(dir, config.captionChannels, tokens, seed);
  const { width, height } = parseSize(args.size);
  const shape = [
    1,
    config.inChannels,
    (frames - 1) / VAE_STRIDE.frames + 1,
    height / VAE_STRIDE.height,
    width / VAE_STRIDE.width,
  ];

  const runs: Run[] = [];
  if (args.plan !== 'none') runs.push({ name: 'plan', plan: args.plan, steps: count('steps', 1) });
  if (count('full-steps', 0) > 0) runs.push({ name: 'full', plan: null, steps: count('full-steps', 1) });
  const results: Result[] = [];
  for (const run of runs)
    results.push(await generate(run, { config: args.config, weights: ckpt.path, text, dir, shape }));
  const ok = printResults(results);

  const summary = {
    config: config.name,
    parameters: params,
    backend: args.backend,
    execution: args.execution ?? (args.backend === 'cuda' ? 'planned' : 'eager'),
    frames,
    size: args.size,
    latent: shape,
    sampler: args.sampler,
    guidance: Number(args.guidance),
    seed,
    textTokens: tokens,
    checkpoint: ckpt,
    runs: results,
    ok,
    node: process.version,
  };
  const summaryFile = join(dir, 'model-generate.json');
  writeFileSync(summaryFile, `${JSON.stringify(summary, null, 2)}\n`);
  console.log(`summary: ${summaryFile}${ok ? '' : ' (FAILED)'}`);
  if (!ok) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
