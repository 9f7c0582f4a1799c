/**
 * Issue 3: at a few hundred tokens and head dims >= 64 the kernel returned garbage on llvmpipe, because Mesa's
 * gallivm ends every loop of an invocation after 65,535 loop passes in total (codegen/wgsl/loop-budget.ts).
 * These tests pin the device behaviour the backend relies on (a loop probe), run the sizes that used to fail
 * against the float64 oracle, check that calls over the budget are split (and merged) correctly, and that
 * the pass count the split relies on is tight against the real limit.
 */
import { afterAll, describe, expect, it } from 'vitest';
import {
  dispatchVisitRanges,
  GALLIVM_LOOP_LIMIT,
  kernelLoopPasses,
} from '../../../codegen/wgsl/loop-budget.js';
import { renderWgslModule } from '../../../codegen/wgsl/render-module.js';
import {
  attentionTilePattern,
  fullPattern,
  videoLayout,
} from '../../../compiler/classify/reference-patterns.js';
import type { PatternInstance } from '../../../compiler/ir.js';
import { buildPlan } from '../../../compiler/plan/build.js';
import type { BlockPlan } from '../../../compiler/plan/plan.js';
import { TesseraError } from '../../../dsl/diagnostics.js';
import {
  lseMismatch,
  openTestBackend,
  oracleCase,
  type RunShape,
  randomOperand,
  relativeError,
  TOLERANCE,
} from './gpu-fixture.js';

const backend = await openTestBackend();
afterAll(() => backend?.dispose());

/** Passes of two loops run one after the other in one invocation, as the device executes them. */
async function loopProbe(first: number, second: number): Promise<[number, number]> {
  const device = backend!.device;
  const code = `@group(0) @binding(0) var<storage, read_write> io: array<u32, 4>;
@compute @workgroup_size(1)
fn main() {
  var a = 0u;
  for (var i = 0u; i < io[0]; i++) { a++; }
  var b = 0u;
  for (var i = 0u; i < io[1]; i++) { b++; }
  io[2] = a;
  io[3] = b;
}`;
  const module = device.createShaderModule({ label: 'loop probe', code });
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  const buffer = device.createBuffer({ size: 16, usage: 0x80 | 0x4 | 0x8 }); // STORAGE | COPY_SRC | COPY_DST
  const read = device.createBuffer({ size: 16, usage: 0x1 | 0x8 }); // MAP_READ | COPY_DST
  device.queue.writeBuffer(buffer, 0, new Uint32Array([first, second, 0, 0]));
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(
    0,
    device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [{ binding: 0, resource: { buffer } }],
    }),
  );
  pass.dispatchWorkgroups(1);
  pass.end();
  encoder.copyBufferToBuffer(buffer, 0, read, 0, 16);
  device.queue.submit([encoder.finish()]);
  await read.mapAsync(1 /* GPUMapMode.READ */);
  const result = new Uint32Array(read.getMappedRange().slice(0));
  read.unmap();
  buffer.destroy();
  read.destroy();
  return [result[2]!, result[3]!];
}

describe.skipIf(backend === null)('the loop budget of the WebGPU device', () => {
  it('is declared exactly when the device cuts loops short, and counts passes as loop-budget.ts does', async () => {
    const budget = backend!.capabilities.limits.maxLoopIterations;
    // 60,000 iterations then 10,000: gallivm runs 65,535 - 60,001 of the second loop (the pass that ends
    // the first loop counts too); a device without a limit runs both in full.
    const [a, b] = await loopProbe(60_000, 10_000);
    expect(a).toBe(60_000);
    if (budget === undefined) expect(b).toBe(10_000);
    else {
      expect(b).toBe(GALLIVM_LOOP_LIMIT - 60_001);
      expect(budget).toBeLessThanOrEqual(GALLIVM_LOOP_LIMIT);
    }
  });
});

describe.skipIf(backend === null)('WGSL attention at sizes past the old loop budget', () => {
  // Head dim x tokens that returned garbage on llvmpipe before issue 3, with several block shapes: the
  // staging loop's share of the budget grows as the workgroup (the query block) shrinks.
  const cases = [
    { headDim: 96, frames: 4, block: [32, 32], globals: 0 }, // 400 tokens (failed from 328)
    { headDim: 96, frames: 4, block: [8, 64], globals: 0 },
    { headDim: 128, frames: 3, block: [64, 16], globals: 0 }, // 300 tokens (failed from 240)
    { headDim: 64, frames: 5, block: [40, 24], globals: 1 }, // 500 tokens, partial blocks (failed from 480)
  ];
  for (const { headDim, frames, block, globals } of cases) {
    const layout = videoLayout(frames, 10, 10);
    const [blockQ, blockK] = block as [number, number];
    it(`matches the oracle at head dim ${headDim}, ${layout.length} tokens, blocks ${blockQ} x ${blockK}`, async () => {
      const pattern = globals === 0 ? fullPattern(layout) : attentionTilePattern(layout, globals);
      const plan = buildPlan(pattern, blockQ, blockK);
      const shape: RunShape = { batch: 1, heads: 2, headDim, layout: 'bhsd' };
      const { q, k, v, ref } = oracleCase(plan, shape, headDim + frames);
      const got = await backend!.attention(plan, q, k, v, { ...shape, poison: true });
      expect(got.out.every(Number.isFinite), 'every output element written').toBe(true);
      expect(relativeError(got.out, ref.out)).toBeLessThan(TOLERANCE.f32);
      expect(lseMismatch(got.lse, ref.lse, TOLERANCE.f32)).toBeNull();
    });
  }

  it('splits a call over the budget into dispatches whose merged result matches the oracle', async () => {
    // Small budgets force 2..many dispatches on any device: CSR with partial blocks and padding, the closed
    // form, rows that see no key in some dispatches, and rows that see none at all (frame 1 below).
    const tile = attentionTilePattern(videoLayout(6, 5, 7), 2);
    const aligned = attentionTilePattern(videoLayout(6, 4, 8), 2);
    const cases = [
      { pattern: tile, blockQ: 32, blockK: 24, parts: 2, enumeration: 'csr' as const },
      { pattern: tile, blockQ: 16, blockK: 16, parts: 4, enumeration: 'csr' as const },
      { pattern: aligned, blockQ: 16, blockK: 16, parts: 3, enumeration: 'closed-form' as const },
    ];
    for (const { pattern, blockQ, blockK, parts, enumeration } of cases) {
      const plan = buildPlan(pattern, blockQ, blockK);
      const config = renderWgslModule(plan, {
        headDim: 64,
        enumeration,
        limits: backend!.capabilities.limits,
      }).config;
      // The largest budget (in steps of 5%) that splits the call into at least `parts` dispatches.
      let budget = kernelLoopPasses(plan, config);
      while (dispatchVisitRanges(plan, config, budget).length < parts) budget = Math.floor(budget * 0.95);
      const shape: RunShape = { batch: 2, heads: 2, headDim: 64, layout: 'bshd' };
      const { q, k, v, ref } = oracleCase(plan, shape, budget);
      const options = { ...shape, enumeration, loopBudget: budget, poison: true };
      const prepared = await backend!.prepare(plan, q, k, v, options);
      expect(prepared.dispatches, `${plan.key} at budget ${budget}`).toBeGreaterThanOrEqual(parts);
      await prepared.run();
      const got = await prepared.read();
      expect(got.out.every(Number.isFinite), 'every output element written').toBe(true);
      expect(relativeError(got.out, ref.out)).toBeLessThan(TOLERANCE.f32);
      expect(lseMismatch(got.lse, ref.lse, TOLERANCE.f32)).toBeNull();
    }
  });

  it('refuses a key block that alone exceeds the budget with TP408', async () => {
    const plan = buildPlan(fullPattern(videoLayout(2, 4, 8)), 16, 16);
    const shape: RunShape = { batch: 1, heads: 1, headDim: 64, layout: 'bshd' };
    const operand = new Float32Array(plan.seqLen * 64);
    const failure = await backend!
      .prepare(plan, operand, operand, operand, { ...shape, loopBudget: 100 })
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(TesseraError);
    expect((failure as TesseraError).diagnostics[0]!.code).toBe('TP408');
  });
});

/**
 * T frames of 10 x 10 tokens where only the first 10 queries see anything (every key): the oracle and the GPU
 * do 10 rows of work while the busy invocations walk every key. Query blocks of 1 make staging cost ~16 passes
 * per key at head dim 128 (the limit at ~3,500 keys); blocks of 64, ~2.6 (at ~24,000 keys).
 */
function firstRowPlan(frames: number, blockQ: number) {
  const q = (axis: number) => ({ op: 'coord' as const, side: 'q' as const, axis });
  const zero = { op: 'const' as const, value: 0 };
  const pattern: PatternInstance = {
    key: `first_row_t${frames}`,
    name: 'first_row',
    params: {},
    layout: videoLayout(frames, 10, 10),
    predicate: {
      op: 'and',
      args: [
        { op: 'cmp', cmp: 'eq', a: q(0), b: zero },
        { op: 'cmp', cmp: 'eq', a: q(1), b: zero },
      ],
    },
  };
  return buildPlan(pattern, blockQ, blockQ === 1 ? 32 : 64);
}

describe.skipIf(backend === null)('the loop-pass count against the device limit', () => {
  const shape: RunShape = { batch: 1, heads: 1, headDim: 128, layout: 'bshd' };
  const passesOf = (plan: BlockPlan) =>
    kernelLoopPasses(
      plan,
      renderWgslModule(plan, { headDim: 128, limits: backend!.capabilities.limits }).config,
    );
  /** The first frame count from `from` whose plan's count satisfies `accept`. */
  const framesWhere = (blockQ: number, from: number, accept: (passes: number) => boolean) => {
    for (let frames = from; ; frames++) if (accept(passesOf(firstRowPlan(frames, blockQ)))) return frames;
  };

  it('is not an underestimate: a kernel counted just under 65,535 passes runs whole in one dispatch', async () => {
    // The largest plan of the family counted at most the limit (~270 passes per frame): its single dispatch
    // must equal a split into dispatches far from the limit.
    const frames = framesWhere(64, 235, (p) => p > GALLIVM_LOOP_LIMIT) - 1;
    const plan = firstRowPlan(frames, 64);
    expect(passesOf(plan)).toBeGreaterThan(GALLIVM_LOOP_LIMIT - 300);
    const n = plan.seqLen * shape.headDim;
    const [q, k, v] = [randomOperand(n, 1), randomOperand(n, 2), randomOperand(n, 3)];
    const whole = await backend!.prepare(plan, q, k, v, {
      ...shape,
      loopBudget: GALLIVM_LOOP_LIMIT,
      poison: true,
    });
    expect(whole.dispatches).toBe(1);
    await whole.run();
    const single = await whole.read();
    const parts = await backend!.prepare(plan, q, k, v, { ...shape, loopBudget: 20_000, poison: true });
    expect(parts.dispatches).toBeGreaterThan(3);
    await parts.run();
    const split = await parts.read();
    expect(relativeError(single.out, split.out)).toBeLessThan(TOLERANCE.f32);
    expect(lseMismatch(single.lse, split.lse, TOLERANCE.f32)).toBeNull();
  });

  it('splits a kernel over the limit by itself; unsplit, the device cuts it short', async () => {
    // Over the limit even if the compiler zeroes kTile and vTile in one loop (loop-budget.ts counts two).
    const frames = framesWhere(1, 30, (p) => p > GALLIVM_LOOP_LIMIT + 2500);
    const plan = firstRowPlan(frames, 1);
    const limit = backend!.capabilities.limits.maxLoopIterations;
    const { q, k, v, ref } = oracleCase(plan, shape, frames);
    const split = await backend!.prepare(plan, q, k, v, { ...shape, poison: true });
    expect(split.dispatches).toBe(limit === undefined ? 1 : 2);
    await split.run();
    const got = await split.read();
    expect(relativeError(got.out, ref.out)).toBeLessThan(TOLERANCE.f32);
    expect(lseMismatch(got.lse, ref.lse, TOLERANCE.f32)).toBeNull();
    if (limit === undefined) return; // no limit to bite on this device
    const whole = await backend!.prepare(plan, q, k, v, { ...shape, loopBudget: Infinity, poison: true });
    expect(whole.dispatches).toBe(1);
    await whole.run();
    const cut = await whole.read();
    expect(lseMismatch(cut.lse, ref.lse, TOLERANCE.f32)).not.toBeNull();
  });
});
