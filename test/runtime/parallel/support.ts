/**
 * Shared pieces of the parallel tests: a network whose 12 heads split over 2, 3, 4 and 6 ranks (head dim 6, the
 * smallest RoPE3D allows), a video of 5 latent frames (no degree above 1 divides it), seeded inputs with text
 * padding, and the float64 forward of a network (the parallel one returns the whole output on every rank).
 */
import { parseLayerPlan, planLayers } from '../../../compiler/layer-plan.js';
import { parseModelConfig } from '../../../models/open-sora-plan/config.js';
import { createOpenSoraNetwork, tokenGrid } from '../../../models/open-sora-plan/network.js';
import { createParallelOpenSoraNetwork } from '../../../models/open-sora-plan/parallel-model.js';
import { randomOpenSoraWeights } from '../../../models/open-sora-plan/random-weights.js';
import type { CpuTensor } from '../../../runtime/cpu/cpu-tensor.js';
import type { SelfAttentionSpec } from '../../../runtime/model-ops.js';
import type { ParallelWorld } from '../../../runtime/parallel/world.js';
import { randomArray } from '../../models/open-sora-plan/support.js';

export { relativeError } from '../../../core/error-metrics.js';

/** 12 heads x 6, two blocks. */
export const PARALLEL_CONFIG = parseModelConfig({
  name: 'parallel-test-12x6',
  layers: 2,
  heads: 12,
  headDim: 6,
  ffnDim: 96,
  inChannels: 4,
  outChannels: 4,
  patch: [1, 2, 2],
  captionChannels: 8,
  timestepChannels: 16,
  normEps: 1e-6,
  ropeBase: 10000,
  ropeInterpolation: [1, 1.5, 2],
});

/** 5 latent frames of 4 x 6: a 5 x 2 x 3 token grid (30 tokens). */
export const PARALLEL_LATENT = { frames: 5, height: 4, width: 6 } as const;
export const PARALLEL_GRID = tokenGrid(PARALLEL_CONFIG, PARALLEL_LATENT);
export const PARALLEL_WEIGHTS = randomOpenSoraWeights(PARALLEL_CONFIG, 11);

/** Inputs of a guided step (batch 2: unconditional, conditional), text padded differently per row. */
export function parallelInputs(seed = 3, batch = 2) {
  const L = 4;
  const { frames, height, width } = PARALLEL_LATENT;
  return {
    batch,
    x: randomArray(seed, batch * PARALLEL_CONFIG.inChannels * frames * height * width, 1.5),
    timesteps: Float32Array.from([700.5, 31].slice(0, batch)),
    text: randomArray(seed + 1, batch * L * PARALLEL_CONFIG.captionChannels),
    textMask: Uint8Array.from([1, 1, 0, 0, 1, 1, 1, 0].slice(0, batch * L)),
  };
}

/** Layer 0 full, layer 1 attention_tile a=1 at 6-token blocks (frames cut by blocks: partial blocks). */
export async function sparsePlan() {
  const plan = parseLayerPlan(
    {
      format: 'tessera.layer-plan/1',
      layers: 2,
      sizes: { t: 5, h: 2, w: 3 },
      patterns: { full: { builtin: 'full' }, tile: { builtin: 'attention_tile', params: { a: 1 } } },
      default: 'tile',
      assign: { '0': 'full' },
    },
    '/tmp/parallel-test-plan.json',
  );
  return planLayers(plan, PARALLEL_GRID, { blockQ: 4, blockK: 4 }, null);
}

/**
 * Layer 0 splits its 12 heads over three patterns in ranges that no Ulysses degree's head groups follow (0-4
 * spatial, 5-6 full, 7-11 attention_tile a=1, which shares one plan with layer 1): each rank holds a mix.
 */
export async function perHeadPlan() {
  const plan = parseLayerPlan(
    {
      format: 'tessera.layer-plan/1',
      layers: 2,
      heads: 12,
      sizes: { t: 5, h: 2, w: 3 },
      patterns: {
        full: { builtin: 'full' },
        spatial: { builtin: 'spatial' },
        tile: { builtin: 'attention_tile', params: { a: 1 } },
      },
      default: 'tile',
      assign: { '0': { heads: { '0-4': 'spatial', '5-6': 'full', '7-11': 'tile' } } },
    },
    '/tmp/parallel-test-per-head-plan.json',
  );
  return planLayers(plan, PARALLEL_GRID, { blockQ: 4, blockK: 4 }, null);
}

type Inputs = ReturnType<typeof parallelInputs>;

/** The unsharded float64 forward's output values. */
export function unshardedForward(inputs: Inputs, attention?: readonly SelfAttentionSpec[]): Float64Array {
  const net = createOpenSoraNetwork(PARALLEL_CONFIG, PARALLEL_WEIGHTS, {
    latent: PARALLEL_LATENT,
    precision: 'float64',
    ...(attention ? { attention } : {}),
  });
  const host = net.check(inputs.x, inputs.timesteps, inputs.text, inputs.textMask, inputs.batch);
  return (net.forward(net.upload(host)) as CpuTensor).data as Float64Array;
}

/** The parallel forward's output values (whole, as every rank ends with it), from the first local rank. */
export function parallelForward(
  world: ParallelWorld<CpuTensor>,
  inputs: Inputs,
  attention?: readonly SelfAttentionSpec[],
): Float64Array {
  const net = createParallelOpenSoraNetwork(PARALLEL_CONFIG, PARALLEL_WEIGHTS, {
    latent: PARALLEL_LATENT,
    world,
    ...(attention ? { attention } : {}),
  });
  const host = net.check(inputs.x, inputs.timesteps, inputs.text, inputs.textMask, inputs.batch);
  const out = net.forward(net.upload(host));
  if (!out.whole) throw new Error('the parallel forward did not gather its output');
  // Every local rank holds the same whole output.
  for (const p of out.parts)
    if (p.data !== out.parts[0]!.data && p.data.some((v, i) => v !== out.parts[0]!.data[i]))
      throw new Error('local ranks disagree');
  return out.parts[0]!.data as Float64Array;
}
