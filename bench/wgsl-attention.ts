/**
 * WGSL kernel benchmark on the WebGPU adapter present (Dawn in Node): full attention and the Attention Tile
 * masks a:(T-a) at one small video shape, at a block size aligned with frames (closed-form enumeration, no
 * partial blocks) and one that is not (CSR tables, partial blocks with the element mask). Prints, per mask:
 * block density, dispatches per call (> 1 where a call is split to fit llvmpipe's loop budget), kernel time
 * (median of fresh runs after warm-up, upload and read-back excluded), effective GFLOP/s
 * (4 * allowed pairs * head dim * batch * heads / time) and sparse/dense time at the same block size. Every
 * timed kernel is first checked against the float64 oracle. On llvmpipe (CI's software renderer) the times
 * measure the CPU, not a GPU: they show the scaling with block density, not WebGPU speed.
 *
 * Usage: node dist/bench/wgsl-attention.js [frames=8] [height=6] [width=8] [heads=4] [headDim=64] [iterations=5]
 */

import { elementMask } from '../compiler/classify/element-mask.js';
import { attentionTilePattern, fullPattern, videoLayout } from '../compiler/classify/reference-patterns.js';
import { buildPlan } from '../compiler/plan/build.js';
import type { BlockPlan } from '../compiler/plan/plan.js';
import { denseAttention } from '../runtime/cpu/attention.js';
import type { WebGpuBackend } from '../runtime/webgpu/backend.js';
import { createNodeWebGpuBackend } from '../runtime/webgpu/node-gpu.js';

interface Row {
  readonly mask: string;
  readonly block: number;
  readonly enumeration: string;
  readonly density: number;
  readonly partial: number;
  /** Dispatches per call: more than 1 where the call was split to fit the device's loop budget (llvmpipe). */
  readonly dispatches: number;
  readonly ms: number;
  readonly gflops: number;
  readonly vsDense: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function operand(length: number, seed: number): Float32Array {
  const out = new Float32Array(length);
  let s = seed;
  for (let i = 0; i < length; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32) * 2 - 1 || 0.5;
  }
  return out;
}

/** Kernel time in ms, and the relative error of its output against the float64 oracle (a wrong kernel's time is void). */
async function timeKernel(
  backend: WebGpuBackend,
  plan: BlockPlan,
  heads: number,
  headDim: number,
  iterations: number,
): Promise<{ ms: number; error: number; dispatches: number }> {
  const n = plan.seqLen * heads * headDim;
  const [q, k, v] = [operand(n, 1), operand(n, 2), operand(n, 3)];
  const shape = { batch: 1, heads, headDim, layout: 'bshd' } as const;
  const prepared = await backend.prepare(plan, q, k, v, { ...shape, poison: true });
  for (let i = 0; i < 2; i++) await prepared.run();
  const got = await prepared.read();
  const ref = denseAttention({ q, k, v, ...shape, seqLen: plan.seqLen }, elementMask(plan.pattern));
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (got.out[i]! - ref.out[i]!) ** 2;
    den += ref.out[i]! ** 2;
  }
  const times: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const start = performance.now();
    await prepared.run();
    times.push(performance.now() - start);
  }
  return { ms: median(times), error: Math.sqrt(num / den), dispatches: prepared.dispatches };
}

async function main(): Promise<void> {
  const [frames = 8, height = 6, width = 8, heads = 4, headDim = 64, iterations = 5] = process.argv
    .slice(2)
    .map(Number);
  const layout = videoLayout(frames, height, width);
  const frameTokens = height * width;
  // One block per frame (aligned: closed forms), and 64-token blocks (usually not aligned: partial blocks).
  const blocks = [...new Set([frameTokens, 64])].filter((b) => b <= 256);
  const masks: { name: string; globals: number | null }[] = [{ name: 'full', globals: null }];
  for (const a of [4, 3, 2, 1]) if (a < frames) masks.push({ name: `${a}:${frames - a}`, globals: a });

  const backend = await createNodeWebGpuBackend();
  try {
    console.log(`adapter: ${backend.capabilities.adapter}`);
    console.log(
      `shape: T=${frames} x ${height} x ${width} = ${layout.length} tokens, batch 1, ${heads} heads, head dim ${headDim}, f32`,
    );
    const rows: Row[] = [];
    for (const block of blocks) {
      let denseMs = 0;
      for (const mask of masks) {
        const pattern =
          mask.globals === null ? fullPattern(layout) : attentionTilePattern(layout, mask.globals);
        const plan = buildPlan(pattern, block, block);
        const { ms, error, dispatches } = await timeKernel(backend, plan, heads, headDim, iterations);
        if (!(error < 1e-4))
          throw new Error(`${plan.key}: kernel output differs from the oracle (relative error ${error})`);
        if (mask.globals === null) denseMs = ms;
        const flops = 4 * plan.stats.allowedPairs * headDim * heads;
        rows.push({
          mask: mask.name,
          block,
          enumeration: plan.closedForm ? 'closed form' : 'CSR',
          density: 1 - plan.stats.sparsity,
          partial: plan.stats.partial,
          dispatches,
          ms,
          gflops: flops / (ms * 1e6),
          vsDense: ms / denseMs,
        });
      }
    }
    console.log('');
    console.log(
      '| mask | block | enumeration | block density | partial blocks | dispatches | ms | GFLOP/s | time vs full |',
    );
    console.log('|---|---|---|---|---|---|---|---|---|');
    for (const r of rows) {
      console.log(
        `| ${r.mask} | ${r.block} | ${r.enumeration} | ${(100 * r.density).toFixed(1)}% | ${r.partial} | ${r.dispatches} | ${r.ms.toFixed(2)} | ${r.gflops.toFixed(2)} | ${r.vsDense.toFixed(2)} |`,
      );
    }
  } finally {
    backend.dispose();
  }
}

await main();
