/**
 * One sampling step of the full-size Open-Sora-Plan 1.2 network on CUDA (SPEC §2: 32 blocks, 24 heads x 96)
 * with random bf16 weights made on the device: 29 frames at 720p (8 x 90 x 160 latents, 28,800 tokens; or 93
 * frames, 24 latent frames and 86,400 tokens, with TESSERA_LATENT_FRAMES=24),
 * classifier-free guidance as a batch of 2, 120 text tokens. Times the step with device events for full
 * attention everywhere and for a per-layer plan (`plans/example-t<frames>.json`), each three ways (eager on the
 * arena's pool, on a planned slab, replayed as a CUDA graph: runtime/cuda/step-graph.ts) with the device
 * memory each holds for activations; then a small network (2 blocks, 128 tokens) where launch overhead counts;
 * then the self-attention calls alone, the attention share and the speedup the plan's computed blocks predict.
 * Writes `model-step.json` into the output folder; `bench/gpu/model-step.py` times the same network in PyTorch.
 *
 * Usage: node dist/bench/model-step.js <outDir> [layers] [iterations]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { layerPlanSpeedup, planLayers, readLayerPlan } from '../compiler/layer-plan.js';
import { forwardPass, type NetworkInputs } from '../models/open-sora-plan/blocks.js';
import type { OpenSoraConfig } from '../models/open-sora-plan/config.js';
import { readModelConfig } from '../models/open-sora-plan/config-file.js';
import { randomDeviceTensor, randomDeviceWeights } from '../models/open-sora-plan/cuda-model.js';
import { layerAttention } from '../models/open-sora-plan/layer-attention.js';
import {
  type CudaExecution,
  CudaStepGraph,
  type CudaTensor,
  createCudaOps,
} from '../runtime/cuda/model-ops.js';
import type { SelfAttentionSpec, TokenGrid } from '../runtime/model-ops.js';

const outDir = process.argv[2] ?? 'out/bench-model';
const layersArg = Number(process.argv[3] ?? 32);
const iterations = Number(process.argv[4] ?? 2);
const BATCH = 2;
const TEXT_TOKENS = 120;
/** Latent frames: 8 (29 video frames) or 24 (93); the plan file is the example for that many. */
const FRAMES = Number(process.env.TESSERA_LATENT_FRAMES ?? 8);
const LATENT = { frames: FRAMES, height: 90, width: 160 };
const PLAN_FILE = `plans/example-t${FRAMES}.json`;
/** The small network: 2 blocks over 2 latent frames of 16 x 16 (128 tokens), timed over more steps. */
const SMALL_LATENT = { frames: 2, height: 16, width: 16 };
const SMALL_ITERATIONS = 20;
const EXECUTIONS: readonly CudaExecution[] = ['eager', 'planned', 'graph'];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(2)} GiB`;

/** One step's network and its inputs on the device (the timesteps go up each step, as in sampling). */
interface StepSetup {
  readonly name: string;
  readonly config: OpenSoraConfig;
  readonly grid: TokenGrid;
  readonly attention: readonly SelfAttentionSpec[];
  readonly latents: CudaTensor;
  readonly text: CudaTensor;
}

/** What one execution of a step measured. */
interface StepMeasurement {
  readonly ms: number;
  readonly runs: readonly number[];
  /** Bytes the arena holds beyond weights and inputs: the pool (eager) or the slab. */
  readonly activationBytes: number;
  readonly lowerBound: number;
  readonly graphNodes: number;
}

async function main(): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  const full = await readModelConfig('models/open-sora-plan/configs/open-sora-plan-1.2-720p.json');
  const config = { ...full, layers: layersArg, name: `${full.name} (${layersArg} layers)` };
  const grid: TokenGrid = { frames: LATENT.frames, height: LATENT.height / 2, width: LATENT.width / 2 };
  const N = grid.frames * grid.height * grid.width;
  const ops = createCudaOps({ syncAttention: false });
  console.log(
    `device ${ops.device.info.name}; ${config.name}; ${N} tokens, batch ${BATCH}, ${TEXT_TOKENS} text tokens`,
  );

  const weight = randomDeviceWeights(ops, config, 0);
  const text = randomDeviceTensor(ops, [BATCH, TEXT_TOKENS, config.captionChannels], 2);
  const x = randomDeviceTensor(ops, [BATCH, 4, LATENT.frames, LATENT.height, LATENT.width], 1);
  const small = { ...config, layers: Math.min(2, config.layers), name: `${full.name} (2 layers, small)` };
  const smallGrid: TokenGrid = {
    frames: SMALL_LATENT.frames,
    height: SMALL_LATENT.height / 2,
    width: SMALL_LATENT.width / 2,
  };
  const smallX = randomDeviceTensor(
    ops,
    [BATCH, 4, SMALL_LATENT.frames, SMALL_LATENT.height, SMALL_LATENT.width],
    3,
  );
  // Weights and the bench's inputs: what the arena holds beyond this is activations.
  const fixedBytes = ops.arena.heldBytes;
  const textMask = new Uint8Array(BATCH * TEXT_TOKENS).fill(1);
  const timesteps = Float32Array.of(500, 500);

  // The plan is written for the 32-layer network; a shorter benchmark network takes its first layers.
  const compiled = await planLayers(await readLayerPlan(PLAN_FILE), grid, undefined, null);
  const planned = layerAttention(compiled).slice(0, config.layers);
  const dense: SelfAttentionSpec[] = Array.from({ length: config.layers }, () => ({ kind: 'dense' }));

  /**
   * Median step ms of `execution` with device events, after warm-up steps that trace (and plan, and capture),
   * and the bytes the arena then holds for activations (the pool is emptied first, so they are this step's).
   */
  const measureStep = (s: StepSetup, execution: CudaExecution, runs: number): StepMeasurement => {
    ops.synchronize();
    ops.arena.trim();
    const steps = new CudaStepGraph(ops, execution);
    const pass = {
      inputs: (): NetworkInputs<CudaTensor> => ({
        latents: s.latents,
        text: s.text,
        textMask,
        timestepFeatures: ops.timestepFeatures(timesteps, s.config.timestepChannels),
      }),
      forward: (inputs: NetworkInputs<CudaTensor>) =>
        forwardPass(ops, weight, s.config, s.grid, s.attention, inputs),
    };
    const warmup = execution === 'eager' ? 1 : 2;
    const times = ops.device.time(() => steps.run(s.name, pass, () => undefined), runs, warmup);
    const stats = steps.stats();
    const activationBytes = ops.arena.heldBytes - fixedBytes;
    steps.dispose();
    return {
      ms: median(times),
      runs: times,
      activationBytes,
      lowerBound: stats.lowerBound,
      graphNodes: stats.graphNodes,
    };
  };

  const results: Record<string, number> = {};
  const rows: string[] = [];
  const measure = (s: StepSetup, runs: number) => {
    for (const execution of EXECUTIONS) {
      const m = measureStep(s, execution, runs);
      const prefix = `${s.name}_${execution}`;
      results[`${prefix}_step_ms`] = m.ms;
      results[`${prefix}_activation_bytes`] = m.activationBytes;
      if (execution !== 'eager') results[`${prefix}_lower_bound_bytes`] = m.lowerBound;
      if (execution === 'graph') results[`${prefix}_nodes`] = m.graphNodes;
      const memory =
        execution === 'eager'
          ? `${gib(m.activationBytes)} (pool)`
          : `${gib(m.activationBytes)} (slab; lower bound ${gib(m.lowerBound)})`;
      const how = execution === 'graph' ? `graph (${m.graphNodes} nodes)` : execution;
      const vsEager = results[`${s.name}_eager_step_ms`]! / m.ms;
      rows.push(`| ${s.name} | ${how} | ${m.ms.toFixed(2)} | ${vsEager.toFixed(2)}x | ${memory} |`);
      console.log(
        `${s.name} ${execution}: step ${m.ms.toFixed(2)} ms (runs ${m.runs.map((t) => t.toFixed(2)).join(', ')})`,
      );
    }
  };
  measure({ name: 'full', config, grid, attention: dense, latents: x, text }, iterations);
  measure({ name: 'plan', config, grid, attention: planned, latents: x, text }, iterations);
  // A small network of the same width where launches, not arithmetic, set the pace.
  const smallDense = dense.slice(0, small.layers);
  measure(
    { name: 'small', config: small, grid: smallGrid, attention: smallDense, latents: smallX, text },
    SMALL_ITERATIONS,
  );
  // The eager steps under the names model-step.py and the earlier results use.
  results.full_step_ms = results.full_eager_step_ms!;
  results.plan_step_ms = results.plan_eager_step_ms!;
  results.small_layers = small.layers;
  results.small_tokens = smallGrid.frames * smallGrid.height * smallGrid.width;

  // Self-attention alone, per distinct spec, on [B, N, 2304] bf16 operands.
  const D = config.heads * config.headDim;
  const qkv = [0, 1, 2].map((s) => randomDeviceTensor(ops, [BATCH, N, D], 10 + s));
  const attentionMs = (spec: SelfAttentionSpec) =>
    median(
      ops.device.time(
        () => {
          const m = ops.mark();
          ops.selfAttention(qkv[0]!, qkv[1]!, qkv[2]!, config.heads, spec);
          ops.release(m);
        },
        3,
        1,
      ),
    );
  const denseAttention = attentionMs({ kind: 'dense' });
  const perSpec = new Map<SelfAttentionSpec, number>();
  for (const spec of planned) if (!perSpec.has(spec)) perSpec.set(spec, attentionMs(spec));
  results.full_attention_ms = denseAttention * config.layers;
  results.plan_attention_ms = planned.reduce((sum, spec) => sum + perSpec.get(spec)!, 0);
  results.predicted_attention_speedup = layerPlanSpeedup({
    ...compiled,
    layers: compiled.layers.slice(0, config.layers),
  });
  const share = results.full_attention_ms / results.full_step_ms!;
  results.attention_share = share;
  results.predicted_step_speedup = 1 / (1 - share + share / results.predicted_attention_speedup);
  results.measured_step_speedup = results.full_step_ms! / results.plan_step_ms!;
  results.measured_attention_speedup = results.full_attention_ms / results.plan_attention_ms;
  results.layers = config.layers;
  results.tokens = N;
  results.weights_bytes = fixedBytes;
  writeFileSync(join(outDir, 'model-step.json'), `${JSON.stringify(results, null, 2)}\n`);

  console.log('\n| attention | step ms | self-attention ms (sum over layers) | attention share |');
  console.log('| --- | ---: | ---: | ---: |');
  console.log(
    `| full | ${results.full_step_ms!.toFixed(1)} | ${results.full_attention_ms.toFixed(1)} | ${(100 * share).toFixed(1)}% |`,
  );
  console.log(
    `| ${PLAN_FILE} | ${results.plan_step_ms!.toFixed(1)} | ${results.plan_attention_ms.toFixed(1)} | ${((100 * results.plan_attention_ms) / results.plan_step_ms!).toFixed(1)}% |`,
  );
  console.log(
    `\nattention speedup: measured ${results.measured_attention_speedup.toFixed(2)}x, predicted by computed blocks ${results.predicted_attention_speedup.toFixed(2)}x`,
  );
  console.log(
    `step speedup: measured ${results.measured_step_speedup.toFixed(2)}x, predicted ${results.predicted_step_speedup.toFixed(2)}x (attention share ${(100 * share).toFixed(1)}%)`,
  );
  console.log(
    `\nExecution: eager on the arena's pool; planned on one slab from the first step's trace; graph planned, the forward replayed as one CUDA graph. small = ${results.small_layers} layers, ${results.small_tokens} tokens, batch ${BATCH}.`,
  );
  console.log('| network | execution | step ms | vs eager | activation memory held |');
  console.log('| --- | --- | ---: | ---: | ---: |');
  for (const row of rows) console.log(row);
  console.log(
    `device memory held by the arena, full attention: eager ${gib(fixedBytes + results.full_eager_activation_bytes!)}, planned ${gib(fixedBytes + results.full_planned_activation_bytes!)} (weights and inputs ${gib(fixedBytes)})`,
  );
  ops.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
