/**
 * One sampling step of the full-size Open-Sora-Plan 1.2 network on CUDA (SPEC §2: 32 blocks, 24 heads x 96)
 * with random bf16 weights made on the device: 29 frames at 720p (8 x 90 x 160 latents, 28,800 tokens),
 * classifier-free guidance as a batch of 2, 120 text tokens. Times the step with device events for full
 * attention everywhere and for a per-layer plan (`models/plans/example-t8.json`), the self-attention calls
 * alone, and prints the attention share and the speedup the plan's computed blocks predict. Writes
 * `model-step.json` into the output folder; `bench/gpu/model-step.py` times the same network in PyTorch.
 *
 * Usage: node dist/bench/model-step.js <outDir> [layers] [iterations]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readLayerPlan } from '../compiler/layer-plan.js';
import { compileLayerPlan, layerPlanSpeedup } from '../driver/layer-plans.js';
import {
  embedPatches,
  embedTimesteps,
  outputLayer,
  projectCaption,
  transformerBlock,
} from '../runtime/model/blocks.js';
import { readModelConfig } from '../runtime/model/config.js';
import { resolveLayerPlan } from '../runtime/model/layer-attention.js';
import {
  type CudaOps,
  type CudaTensor,
  createCudaOps,
  randomDeviceWeights,
} from '../runtime/ops/cuda/index.js';
import type { SelfAttentionSpec, TokenGrid } from '../runtime/ops/ops.js';

const outDir = process.argv[2] ?? 'out/bench-model';
const layersArg = Number(process.argv[3] ?? 32);
const iterations = Number(process.argv[4] ?? 2);
const PLAN_FILE = 'models/plans/example-t8.json';
const BATCH = 2;
const TEXT_TOKENS = 120;
const LATENT = { frames: 8, height: 90, width: 160 };

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  const full = await readModelConfig('models/configs/open-sora-plan-1.2.json');
  const config = { ...full, layers: layersArg, name: `${full.name} (${layersArg} layers)` };
  const grid: TokenGrid = { frames: LATENT.frames, height: LATENT.height / 2, width: LATENT.width / 2 };
  const N = grid.frames * grid.height * grid.width;
  const ops = createCudaOps({ syncAttention: false });
  console.log(
    `device ${ops.device.info.name}; ${config.name}; ${N} tokens, batch ${BATCH}, ${TEXT_TOKENS} text tokens`,
  );

  const weight = randomDeviceWeights(ops, config, 0);
  const inputs = {
    x: deviceRandom(ops, [BATCH, 4, LATENT.frames, LATENT.height, LATENT.width], 1),
    text: deviceRandom(ops, [BATCH, TEXT_TOKENS, config.captionChannels], 2),
  };
  const textMask = new Uint8Array(BATCH * TEXT_TOKENS).fill(1);
  const timesteps = Float32Array.of(500, 500);

  const plan = await readLayerPlan(PLAN_FILE);
  const planned = resolveLayerPlan({ ...plan, layers: 32 }, 32, grid).slice(0, config.layers);
  const dense: SelfAttentionSpec[] = Array.from({ length: config.layers }, () => ({ kind: 'dense' }));

  /** One forward pass (the step's model evaluation), activations released layer by layer. */
  const step = (attention: readonly SelfAttentionSpec[]) => {
    const outer = ops.mark();
    const { embedded, modulation } = embedTimesteps(ops, weight, timesteps, config);
    const caption = projectCaption(ops, weight, inputs.text);
    const ctx = {
      ops,
      config,
      weight,
      grid,
      rope: { base: config.ropeBase, interpolation: config.ropeInterpolation },
      timestep: modulation,
      text: caption,
      textMask,
    };
    const layerMark = ops.mark();
    let h: CudaTensor = embedPatches(ops, weight, inputs.x, config);
    ops.release(layerMark, [h]);
    for (let layer = 0; layer < config.layers; layer++) {
      h = transformerBlock(ctx, layer, h, attention[layer]!);
      ops.release(layerMark, [h]);
    }
    outputLayer(ops, weight, h, embedded, config, grid);
    ops.release(outer);
  };

  const results: Record<string, number> = {};
  for (const [name, attention] of [
    ['full', dense],
    ['plan', planned],
  ] as const) {
    const times = ops.device.time(() => step(attention), iterations, 1);
    results[`${name}_step_ms`] = median(times);
    console.log(
      `${name}: step ${median(times).toFixed(1)} ms (runs ${times.map((t) => t.toFixed(1)).join(', ')})`,
    );
  }

  // Self-attention alone, per distinct spec, on [B, N, 2304] bf16 operands.
  const D = config.heads * config.headDim;
  const qkv = [0, 1, 2].map((s) => deviceRandom(ops, [BATCH, N, D], 10 + s));
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
  const compiled = await compileLayerPlan({ ...plan, layers: 32 }, 128, 128, null, PLAN_FILE);
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
  console.log(`device memory held by the arena: ${(ops.arena.heldBytes / 2 ** 30).toFixed(1)} GiB`);
  ops.dispose();
}

/** A persistent bf16 tensor of uniform values in [-1, 1), made on the device. */
function deviceRandom(ops: CudaOps, shape: readonly number[], seed: number): CudaTensor {
  const t = ops.persistent(() => ops.arena.tensor('bfloat16', shape, 'bench input'));
  const total = shape.reduce((a, b) => a * b, 1);
  ops.kernels.elementwise('randomUniform', total, { out: t.buffer.ptr, total, seed, low: -1, high: 1 });
  return t;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
