/**
 * One sampling step of the full-size Open-Sora-Plan 1.2 network (32 blocks, 24 heads x 96, guidance's batch
 * of 2, 120 text tokens, random bf16 weights made on the device) split over P GPUs of this machine: P = 1 and
 * 2, 4, 8 as far as the machine has them; 29 and 93 frames at 720p (8 and 24 latent frames: 28,800 and 86,400
 * tokens); full attention and the per-layer plan (plans/example-t<frames>.json); Ulysses over all P ranks and
 * CFG-parallel with Ulysses P / 2 per row. Every case runs in fresh processes started by tessera's launcher
 * (the one `tessera generate --gpus` uses), NCCL between them; rank 0 times its steps with device events
 * (after the trace and the plan) and reports. Prints ms per step, speedup over P = 1 and efficiency
 * (speedup / P), and the bytes each all-to-all moves; writes parallel-step.json for bench/gpu/parallel-step.py
 * (the PyTorch peer, torch.distributed all-to-alls under torchrun).
 *
 * Usage: node dist/bench/parallel-step.js <outDir> [iterations]
 * Environment: TESSERA_BENCH_GPUS (e.g. "1,2"), TESSERA_BENCH_FRAMES ("8,24"), TESSERA_BENCH_EXECUTION
 * (planned | graph | eager; default planned).
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { planLayers, readLayerPlan } from '../compiler/layer-plan.js';
import { readModelConfig } from '../models/open-sora-plan/config-file.js';
import { randomDeviceTensor, randomDeviceWeights } from '../models/open-sora-plan/cuda-model.js';
import { layerAttention } from '../models/open-sora-plan/layer-attention.js';
import { deviceStepPass } from '../models/open-sora-plan/parallel-model.js';
import { type CudaExecution, CudaStepGraph, createCudaOps } from '../runtime/cuda/model-ops.js';
import { loadNative } from '../runtime/cuda/native-binding.js';
import type { SelfAttentionSpec, TokenGrid } from '../runtime/model-ops.js';
import { launchRanks } from '../runtime/parallel/launch.js';
import type { ParallelDegrees } from '../runtime/parallel/layout.js';
import { detectRankEnv } from '../runtime/parallel/rank-env.js';
import { joinCudaWorld } from '../runtime/parallel/world.js';

const BATCH = 2;
const TEXT_TOKENS = 120;
const SCRIPT = fileURLToPath(import.meta.url);

/** One benchmark case. */
interface BenchCase {
  readonly frames: number;
  readonly attention: 'full' | 'plan';
  readonly world: number;
  readonly degrees: ParallelDegrees;
  readonly iterations: number;
  readonly execution: CudaExecution;
}

/** What rank 0 reports for a case. */
interface CaseResult extends BenchCase {
  readonly ms: number;
  readonly runs: readonly number[];
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** A rank of one case (started by the launcher below). */
async function runRank(c: BenchCase, out: string): Promise<void> {
  const env = detectRankEnv();
  const world = env?.world ?? 1;
  const config = await readModelConfig('models/open-sora-plan/configs/open-sora-plan-1.2-720p.json');
  const grid: TokenGrid = { frames: c.frames, height: 45, width: 80 };
  const joined =
    world > 1
      ? joinCudaWorld(
          {
            env: env!,
            degrees: c.degrees,
            summary: { bench: JSON.stringify(c) },
            timeoutMs: 600_000,
          },
          (device) => createCudaOps({ device, syncAttention: false }),
        )
      : null;
  const ops = joined?.ops ?? createCudaOps({ syncAttention: false });
  const weight = randomDeviceWeights(ops, config, 0);
  const x = randomDeviceTensor(ops, [BATCH, 4, c.frames, 90, 160], 1);
  const text = randomDeviceTensor(ops, [BATCH, TEXT_TOKENS, config.captionChannels], 2);
  const textMask = new Uint8Array(BATCH * TEXT_TOKENS).fill(1);
  const timesteps = Float32Array.of(500, 500);
  const attention: SelfAttentionSpec[] =
    c.attention === 'full'
      ? Array.from({ length: config.layers }, () => ({ kind: 'dense' as const }))
      : layerAttention(
          await planLayers(await readLayerPlan(`plans/example-t${c.frames}.json`), grid, undefined, null),
        );
  const steps = new CudaStepGraph(ops, c.execution);
  const pass = deviceStepPass(ops, joined, weight, config, grid, attention, {
    latents: x,
    text,
    timesteps,
    textMask,
  });
  // Two warm-up steps: the first traces (and compiles the kernels), the second plans (and captures).
  const runs = ops.device.time(() => steps.run('step', pass, () => undefined), c.iterations, 2);
  joined?.comm?.check();
  if ((env?.rank ?? 0) === 0)
    writeFileSync(out, JSON.stringify({ ...c, ms: median(runs), runs } satisfies CaseResult));
  steps.dispose();
  joined?.comm?.close();
  ops.dispose();
}

/** Bytes one rank sends to the others in one all-to-all of one [B, N, 2304] bf16 tensor split U ways. */
function allToAllBytes(tokens: number, sp: number, rows: number): number {
  return sp === 1 ? 0 : ((rows * tokens * 2304 * 2) / sp) * ((sp - 1) / sp);
}

async function main(): Promise<void> {
  const outDir = process.argv[2] ?? 'out/bench-parallel';
  const iterations = Number(process.argv[3] ?? 2);
  mkdirSync(outDir, { recursive: true });
  const execution = (process.env.TESSERA_BENCH_EXECUTION ?? 'planned') as CudaExecution;
  const devices = loadNative().native?.probe().devices ?? 0;
  const gpus = (process.env.TESSERA_BENCH_GPUS ?? '1,2,4,8')
    .split(',')
    .map(Number)
    .filter((p) => p <= devices);
  if (gpus.length === 0) {
    console.log(`no GPU to run on (${loadNative().reason || 'the driver reports none'})`);
    process.exitCode = 1;
    return;
  }
  const frames = (process.env.TESSERA_BENCH_FRAMES ?? '8,24').split(',').map(Number);
  console.log(
    `${devices} GPU(s); P in {${gpus.join(', ')}}; latent frames {${frames.join(', ')}}; ${execution} execution`,
  );
  const cases: BenchCase[] = [];
  for (const f of frames)
    for (const attention of ['full', 'plan'] as const)
      for (const world of gpus) {
        const splits: ParallelDegrees[] =
          world === 1
            ? [{ sp: 1, cfg: 1 }]
            : [{ sp: world, cfg: 1 }, ...(world % 2 === 0 ? [{ sp: world / 2, cfg: 2 as const }] : [])];
        for (const degrees of splits)
          cases.push({ frames: f, attention, world, degrees, iterations, execution });
      }
  const results: CaseResult[] = [];
  let failed = 0;
  for (const c of cases) {
    const file = join(outDir, 'case.json');
    rmSync(file, { force: true });
    const label = `${c.frames * 4 - 3} frames, ${c.attention}, P=${c.world}, ${c.degrees.cfg === 2 ? `CFG x Ulysses ${c.degrees.sp}` : `Ulysses ${c.degrees.sp}`}`;
    const { exitCode } = await launchRanks({
      world: c.world,
      args: [SCRIPT],
      env: { TESSERA_BENCH_CASE: JSON.stringify(c), TESSERA_BENCH_OUT: file },
    });
    if (exitCode !== 0) {
      failed++;
      console.log(`${label}: FAILED (exit ${exitCode})`);
      continue;
    }
    const r = JSON.parse(readFileSync(file, 'utf8')) as CaseResult;
    results.push(r);
    console.log(
      `${label}: ${r.ms.toFixed(1)} ms per step (runs ${r.runs.map((t) => t.toFixed(1)).join(', ')})`,
    );
  }
  writeFileSync(join(outDir, 'parallel-step.json'), `${JSON.stringify(results, null, 2)}\n`);
  console.log(
    '\n| frames | attention | P | split | ms / step | speedup vs P = 1 | efficiency | all-to-all bytes per rank per layer |',
  );
  console.log('| ---: | --- | ---: | --- | ---: | ---: | ---: | ---: |');
  for (const r of results) {
    const base = results.find((b) => b.frames === r.frames && b.attention === r.attention && b.world === 1);
    const speedup = base ? base.ms / r.ms : Number.NaN;
    const tokens = r.frames * 3600;
    const rows = BATCH / r.degrees.cfg;
    // Per layer: Q, K, V to heads (3 tensors) and the output back (1), each split U ways.
    const bytes = 4 * allToAllBytes(tokens, r.degrees.sp, rows);
    const split =
      r.world === 1
        ? 'one GPU'
        : r.degrees.cfg === 2
          ? `CFG x Ulysses ${r.degrees.sp}`
          : `Ulysses ${r.degrees.sp}`;
    console.log(
      `| ${r.frames * 4 - 3} | ${r.attention} | ${r.world} | ${split} | ${r.ms.toFixed(1)} | ${speedup.toFixed(2)}x | ${((100 * speedup) / r.world).toFixed(0)}% | ${(bytes / 2 ** 20).toFixed(0)} MiB |`,
    );
  }
  if (failed > 0) process.exitCode = 1;
}

const job = process.env.TESSERA_BENCH_CASE;
if (job) {
  runRank(JSON.parse(job) as BenchCase, process.env.TESSERA_BENCH_OUT!).catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
