/**
 * Random attention cases for the GPU tests: patterns (Attention Tile, full, a frame window, a 3D sliding-tile
 * window, text appended), layouts with and without padding, block sizes, head dims, dtypes and token
 * layouts, drawn with fast-check. Plans come from the exact classifier; aligned Attention Tile layouts also
 * get the `units` closed form and full attention the `dense` one, so every key walk of the kernel runs.
 */
import fc from 'fast-check';
import { abs, and, inSegment, int, kc, le, or, qc, sub } from '../../compiler/analysis/ir-builder.js';
import {
  attentionTilePattern,
  fullPattern,
  slidingTilePattern,
  videoLayout,
} from '../../compiler/analysis/reference-patterns.js';
import type { PatternInstance } from '../../compiler/ir.js';
import { layoutSignature, makeLayout } from '../../compiler/layout.js';
import type { BlockPlan, ClosedForm } from '../../compiler/plan.js';
import { planFromClasses } from '../codegen/cuda/plan-fixture.js';

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

/** Frame window |q.t - k.t| <= w on a video layout, with text tokens fully visible when present. */
function frameWindow(
  t: number,
  h: number,
  w: number,
  window: number,
  pad: number,
  text: number,
): PatternInstance {
  const layout = makeLayout({
    name: 'video',
    videoAxes: ['t', 'h', 'w'],
    videoSizes: [t, h, w],
    tile: null,
    unitPad: pad,
    text: text > 0 ? { axis: 'l', length: text, position: 'after', pad: 8 } : null,
  });
  const video = and(
    inSegment('q', 'video'),
    inSegment('k', 'video'),
    le(abs(sub(qc(0), kc(0))), int(window)),
  );
  const predicate = text > 0 ? or(video, inSegment('k', 'text'), inSegment('q', 'text')) : video;
  return {
    key: `frame_window_w${window}_${layoutSignature(layout)}`,
    name: 'frame_window',
    params: { w: window },
    layout,
    predicate,
  };
}

/** The `units` closed form of Attention Tile on a layout whose frames align with both block sizes. */
function attentionTileUnits(plan: BlockPlan, frames: number, globals: number): ClosedForm | null {
  const slot = plan.pattern.layout.unitSlot;
  if (slot % plan.blockQ !== 0 || slot % plan.blockK !== 0 || plan.pattern.layout.textSlots > 0) return null;
  const stride = Math.ceil(frames / globals);
  const count = Math.min(globals, Math.ceil(frames / stride));
  const progression = { start: 0, stride, count };
  return {
    kind: 'units',
    units: frames,
    unitBlocksQ: slot / plan.blockQ,
    unitBlocksK: slot / plan.blockK,
    firstBlockQ: 0,
    firstBlockK: 0,
    band: { lo: 0, hi: 0 },
    keyUnits: progression,
    queryUnits: progression,
  };
}

const blockArb = fc.constantFrom(64, 128);

/** Patterns with their plan; sizes stay small enough for the float64 CPU oracle. */
const planArb: fc.Arbitrary<BlockPlan> = fc.oneof(
  fc
    .record({
      t: fc.integer({ min: 2, max: 6 }),
      h: fc.integer({ min: 2, max: 12 }),
      w: fc.integer({ min: 2, max: 16 }),
      a: fc.integer({ min: 1, max: 6 }),
      pad: fc.constantFrom(1, 1, 8, 64),
      bq: blockArb,
      bk: blockArb,
    })
    .map(({ t, h, w, a, pad, bq, bk }) =>
      planFromClasses(attentionTilePattern(videoLayout(t, h, w, pad), Math.min(a, t)), bq, bk),
    ),
  fc
    .record({
      t: fc.integer({ min: 2, max: 6 }),
      a: fc.integer({ min: 1, max: 6 }),
      bq: blockArb,
      bk: blockArb,
      unit: fc.constantFrom(128, 256),
    })
    .map(({ t, a, bq, bk, unit }) => {
      const globals = Math.min(a, t);
      const base = planFromClasses(attentionTilePattern(videoLayout(t, unit / 16, 16), globals), bq, bk);
      return { ...base, closedForm: attentionTileUnits(base, t, globals) };
    }),
  fc
    .record({
      t: fc.integer({ min: 1, max: 4 }),
      h: fc.integer({ min: 1, max: 12 }),
      w: fc.integer({ min: 1, max: 20 }),
      bq: blockArb,
      bk: blockArb,
    })
    .map(({ t, h, w, bq, bk }) =>
      planFromClasses(fullPattern(videoLayout(t, h, w)), bq, bk, { kind: 'dense' }),
    ),
  fc
    .record({
      t: fc.integer({ min: 2, max: 6 }),
      h: fc.integer({ min: 1, max: 10 }),
      w: fc.integer({ min: 1, max: 12 }),
      window: fc.integer({ min: 0, max: 2 }),
      pad: fc.constantFrom(1, 16),
      text: fc.constantFrom(0, 0, 13, 77),
      bq: blockArb,
      bk: blockArb,
    })
    .map(({ t, h, w, window, pad, text, bq, bk }) =>
      planFromClasses(frameWindow(t, h, w, window, pad, text), bq, bk),
    ),
  fc
    .record({ bq: blockArb, bk: blockArb })
    .map(({ bq, bk }) => planFromClasses(slidingTilePattern([4, 10, 12], [2, 4, 4], [1, 3, 3]), bq, bk)),
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
