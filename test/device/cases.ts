/**
 * Random attention cases for the GPU tests: the built-in patterns (`patterns/*.tile`, through the front
 * end and `buildPlan`) at random sizes and parameters, frames padded or not, block sizes 64 / 128, head
 * dims, dtypes and token layouts, drawn with fast-check. Frames of 64 / 128 / 256 tokens and padded frames
 * give the `units` closed form, full attention the `dense` one and cut frames the CSR tables, so every key
 * walk of the kernel runs.
 */
import fc from 'fast-check';
import type { BlockPlan } from '../../compiler/plan/plan.js';
import { builtinPlan } from './builtin-plans.js';

/** One GPU test case. */
export interface GpuCase {
  readonly plan: BlockPlan;
  readonly headDim: number;
  readonly dtype: 'bfloat16' | 'float16';
  readonly layout: 'bshd' | 'bhsd';
  readonly batch: number;
  readonly heads: number;
  readonly seed: number;
}

const blockArb = fc.constantFrom(64, 128);

/** Parameters of each video pattern, given the frame count (Attention Tile needs a <= t). */
const PARAMS: Readonly<Record<string, (t: number) => fc.Arbitrary<Record<string, number | boolean>>>> = {
  attention_tile: (t) => fc.record({ a: fc.integer({ min: 1, max: t }) }),
  full: () => fc.constant({}),
  causal: () => fc.record({ token: fc.boolean() }),
  frame_window: () => fc.record({ r: fc.integer({ min: 0, max: 2 }) }),
  spatial: () => fc.constant({}),
  temporal: () => fc.constant({}),
  dilated_frames: () => fc.record({ d: fc.integer({ min: 1, max: 3 }), r: fc.integer({ min: 0, max: 2 }) }),
  // Radial Attention: windows halving per doubling of frame distance, narrowest window `block` tokens.
  radial: () =>
    fc.record({
      decay_percent: fc.integer({ min: 5, max: 100 }),
      wan: fc.boolean(),
      block: fc.constantFrom(8, 16, 32, 64),
    }),
};

/** Video patterns; sizes stay small enough for the float64 CPU oracle (at most ~1,500 tokens). */
const videoPlanArb: fc.Arbitrary<BlockPlan> = fc
  .record({
    name: fc.constantFrom(...Object.keys(PARAMS)),
    t: fc.integer({ min: 1, max: 6 }),
    frame: fc.oneof(
      fc.record({ h: fc.integer({ min: 1, max: 12 }), w: fc.integer({ min: 1, max: 16 }) }),
      // Frames of 64, 128 or 256 tokens: aligned to the blocks, so the units closed form appears.
      fc.constantFrom({ h: 4, w: 16 }, { h: 8, w: 16 }, { h: 16, w: 16 }),
    ),
    padUnit: fc.constantFrom(undefined, undefined, 16, 64, 128),
    bq: blockArb,
    bk: blockArb,
  })
  .chain(({ name, t, frame, padUnit, bq, bk }) =>
    PARAMS[name]!(t).map((params) => builtinPlan(name, { sizes: { t, ...frame }, params, padUnit }, bq, bk)),
  );

/** Video then text tokens (text sees all, all see text). */
const textVideoPlanArb: fc.Arbitrary<BlockPlan> = fc
  .record({
    t: fc.integer({ min: 1, max: 5 }),
    h: fc.integer({ min: 1, max: 10 }),
    w: fc.integer({ min: 1, max: 12 }),
    l: fc.integer({ min: 1, max: 80 }),
    a: fc.integer({ min: 1, max: 5 }),
    bq: blockArb,
    bk: blockArb,
  })
  .map(({ t, h, w, l, a, bq, bk }) =>
    builtinPlan('text_video', { sizes: { t, h, w, l }, params: { a: Math.min(a, t) } }, bq, bk),
  );

/** Sparse VideoGen's spatial and temporal heads on video then text tokens. */
const sparseVideoGenPlanArb: fc.Arbitrary<BlockPlan> = fc
  .record({
    name: fc.constantFrom('svg_spatial', 'svg_temporal'),
    t: fc.integer({ min: 1, max: 5 }),
    h: fc.integer({ min: 1, max: 10 }),
    w: fc.integer({ min: 1, max: 12 }),
    l: fc.integer({ min: 1, max: 80 }),
    width: fc.integer({ min: 1, max: 3 }),
    sink: fc.boolean(),
    round: fc.constantFrom(1, 16, 128),
    bq: blockArb,
    bk: blockArb,
  })
  .map(({ name, t, h, w, l, width, sink, round, bq, bk }) =>
    builtinPlan(
      name,
      { sizes: { t, h, w, l }, params: name === 'svg_spatial' ? { width, sink, round } : { width } },
      bq,
      bk,
    ),
  );

/** 3D sliding tiles of 6 x 8 x 8 tokens (edge tiles cut when sizes are not tile multiples). */
const slidingTilePlanArb: fc.Arbitrary<BlockPlan> = fc
  .record({
    t: fc.constantFrom(4, 6),
    h: fc.constantFrom(8, 10, 16),
    w: fc.constantFrom(8, 12),
    wt: fc.integer({ min: 1, max: 3 }),
    wh: fc.integer({ min: 1, max: 3 }),
    ww: fc.integer({ min: 1, max: 3 }),
    bq: blockArb,
    bk: blockArb,
  })
  .map(({ t, h, w, wt, wh, ww, bq, bk }) =>
    builtinPlan('sliding_tile', { sizes: { t, h, w }, params: { wt, wh, ww } }, bq, bk),
  );

const planArb: fc.Arbitrary<BlockPlan> = fc.oneof(
  { arbitrary: videoPlanArb, weight: 4 },
  { arbitrary: textVideoPlanArb, weight: 1 },
  { arbitrary: sparseVideoGenPlanArb, weight: 1 },
  { arbitrary: slidingTilePlanArb, weight: 1 },
);

/** Random GPU cases. */
export const gpuCaseArb: fc.Arbitrary<GpuCase> = fc.record({
  plan: planArb,
  headDim: fc.constantFrom(64, 96, 128),
  dtype: fc.constantFrom('bfloat16' as const, 'float16' as const),
  layout: fc.constantFrom('bshd' as const, 'bhsd' as const),
  batch: fc.integer({ min: 1, max: 2 }),
  heads: fc.integer({ min: 1, max: 2 }),
  seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
});

/** A small deterministic generator (mulberry32) for input values. */
export function randomValues(n: number, seed: number, scale = 1): Float64Array {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Float64Array(n);
  // Sums of uniforms: roughly normal, never all-zero, occasional large logits so the softmax max matters.
  for (let i = 0; i < n; i++) out[i] = (next() + next() + next() - 1.5) * 2 * scale;
  return out;
}
