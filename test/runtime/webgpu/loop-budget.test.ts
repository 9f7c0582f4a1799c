/**
 * Issue 3: at a few hundred tokens and head dims >= 64 the kernel returned garbage on llvmpipe, because Mesa's
 * gallivm ends every loop of an invocation after 65,535 loop passes in total (codegen/wgsl/loop-budget.ts).
 * These tests pin the device behaviour the backend relies on (a loop probe), run the sizes that used to fail
 * against the float64 oracle, and check that a plan over the budget is refused instead of computed wrongly.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { kernelLoopPasses } from '../../../codegen/wgsl/loop-budget.js';
import { renderWgslModule } from '../../../codegen/wgsl/render-module.js';
import {
  attentionTilePattern,
  fullPattern,
  videoLayout,
} from '../../../compiler/analysis/reference-patterns.js';
import { buildPlan } from '../../../compiler/build-plan.js';
import { TesseraError } from '../../../dsl/diagnostics.js';
import {
  lseMismatch,
  openTestBackend,
  oracleCase,
  type RunShape,
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
    const limit = backend!.capabilities.limits.maxLoopIterations;
    // 60,000 iterations then 10,000: a device with a budget of L passes runs L - 60,001 of the second loop
    // (the pass that ends the first loop counts too); a device without one runs both in full.
    const [a, b] = await loopProbe(60_000, 10_000);
    expect(a).toBe(60_000);
    if (limit === undefined) expect(b).toBe(10_000);
    else expect(b).toBe(limit - 60_001);
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
      { pattern: tile, blockQ: 32, blockK: 24, budget: 3000 },
      { pattern: tile, blockQ: 16, blockK: 16, budget: 700 },
      { pattern: aligned, blockQ: 32, blockK: 32, budget: 2500 },
    ];
    for (const { pattern, blockQ, blockK, budget } of cases) {
      const plan = buildPlan(pattern, blockQ, blockK);
      const shape: RunShape = { batch: 2, heads: 2, headDim: 64, layout: 'bshd' };
      const { q, k, v, ref } = oracleCase(plan, shape, budget);
      const prepared = await backend!.prepare(plan, q, k, v, { ...shape, loopBudget: budget, poison: true });
      expect(prepared.dispatches, `${plan.key} at budget ${budget}`).toBeGreaterThan(1);
      await prepared.run();
      const got = await prepared.read();
      expect(got.out.every(Number.isFinite), 'every output element written').toBe(true);
      expect(relativeError(got.out, ref.out)).toBeLessThan(TOLERANCE.f32);
      expect(lseMismatch(got.lse, ref.lse, TOLERANCE.f32)).toBeNull();
    }
  });

  it('splits a call over the device budget by itself, and refuses a key block that alone exceeds it', async () => {
    // 3 x 60 x 64 = 11,520 tokens, every row sees every key; a query block of 4 makes staging expensive.
    const plan = buildPlan(fullPattern(videoLayout(3, 60, 64)), 4, 64);
    const shape: RunShape = { batch: 1, heads: 1, headDim: 128, layout: 'bshd' };
    expect(kernelLoopPasses(plan, renderWgslModule(plan, { headDim: 128 }).config)).toBeGreaterThan(65_535);
    const operand = new Float32Array(plan.seqLen * 128);
    const prepared = await backend!.prepare(plan, operand, operand, operand, shape);
    const limit = backend!.capabilities.limits.maxLoopIterations;
    expect(prepared.dispatches > 1).toBe(limit !== undefined);
    const failure = await backend!
      .prepare(plan, operand, operand, operand, { ...shape, loopBudget: 100 })
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(TesseraError);
    expect((failure as TesseraError).diagnostics[0]!.code).toBe('TP408');
  });
});
