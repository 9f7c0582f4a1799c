/**
 * CUDA kernel benchmark at Open-Sora-Plan shapes (batch 1, 24 heads, head dim 96, bf16; 28,800 and 86,400
 * tokens): full attention and the Attention Tile masks, timed with device events (warm-up, then rounds that
 * time every mask in turn; median). Plans come from the built-in patterns (`patterns/attention-tile.tile`,
 * `full.tile`) through the front end and `buildPlan`. Writes `ours.json` and, per mask, the FlexAttention block mask
 * (`codegen/flex/block-mask.ts`, safetensors) and mask_mod into the output folder, for
 * `bench/gpu/bench_attention.py`, which times PyTorch SDPA (flash, cuDNN) and FlexAttention on the same masks
 * in the same session and prints the side-by-side table.
 *
 * Usage: node dist/bench/cuda-attention.js <outDir> [iterations]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFlexBlockMask } from '../codegen/flex/block-mask.js';
import { renderFlexMaskMod } from '../codegen/flex/mask-mod.js';
import type { BlockPlan } from '../compiler/plan/plan.js';
import {
  CudaAttention,
  type CudaAttentionOptions,
  CudaDevice,
  defaultKernelFamily,
} from '../runtime/cuda/index.js';
import { benchPlan, HEAD_DIM, HEADS, median, randomFiller } from './cuda-bench-common.js';

/** The benchmark's masks: full attention and a:(T-a) for each frame count. */
const CONFIGS: readonly { frames: number; globals: number | null }[] = [
  { frames: 8, globals: null },
  { frames: 8, globals: 4 },
  { frames: 8, globals: 2 },
  { frames: 8, globals: 1 },
  { frames: 24, globals: null },
  { frames: 24, globals: 12 },
  { frames: 24, globals: 6 },
  { frames: 24, globals: 3 },
];

function maskName(frames: number, globals: number | null): string {
  return globals === null ? 'full' : `${globals}:${frames - globals}`;
}

/** The plan with its partial blocks moved into the full lists: same blocks, no element mask (timing only). */
function partialsAsFull(plan: BlockPlan): BlockPlan {
  const offsets = new Int32Array(plan.numQBlocks + 1);
  const indices: number[] = [];
  for (let qb = 0; qb < plan.numQBlocks; qb++) {
    const row = [plan.full, plan.partial].flatMap((csr) =>
      Array.from(csr.indices.subarray(csr.offsets[qb]!, csr.offsets[qb + 1]!)),
    );
    indices.push(...row.sort((a, b) => a - b));
    offsets[qb + 1] = indices.length;
  }
  return {
    ...plan,
    key: `${plan.key}_unmasked`,
    full: { offsets, indices: Int32Array.from(indices) },
    partial: { offsets: new Int32Array(plan.numQBlocks + 1), indices: new Int32Array(0) },
    closedForm: null,
  };
}

/**
 * Rounds of the round-robin timing: each round times every mask `iterations / ROUNDS` times, so a drift of the
 * GPU's clocks over the run (measured: the same dense kernel at 14.9 and at 15.9 ms a few minutes apart) weighs
 * on every mask alike, and the sparse-over-dense ratios compare like with like.
 */
const ROUNDS = 4;

/**
 * `TESSERA_WGMMA_TUNING=tileK,minBlocksPerSm` (e.g. `64,2`) times the wgmma kernel at that tuning instead of the
 * per-plan default, for tuning studies in the benchmark's own round-robin timing.
 */
function wgmmaTuningFromEnv(): CudaAttentionOptions {
  const text = process.env.TESSERA_WGMMA_TUNING;
  if (!text) return {};
  const [tileK, minBlocksPerSm] = text.split(',').map(Number);
  if (!(tileK === 64 || tileK === 128) || !(minBlocksPerSm === 1 || minBlocksPerSm === 2))
    throw new Error(`TESSERA_WGMMA_TUNING: expected "64|128,1|2", got "${text}"`);
  return { wgmmaTuning: { tileK, minBlocksPerSm } };
}

async function main(): Promise<void> {
  const outDir = process.argv[2] ?? 'bench-out';
  const iterations = Number(process.argv[3] ?? 20);
  mkdirSync(outDir, { recursive: true });
  const device = CudaDevice.open();
  const fill = randomFiller(device);
  const shapes = new Map<number, ReturnType<typeof inputSets>>();
  /** Two input sets per sequence length, alternated, so no run reads what the previous one left in L2. */
  function inputSets(S: number) {
    const shape = [1, HEADS, S, HEAD_DIM];
    const sets = [0, 1].map((s) => {
      const [q, k, v] = ['q', 'k', 'v'].map((name, i) => {
        const t = device.empty('bfloat16', shape, name);
        fill(t, 11 + i + 7 * s);
        return t;
      });
      return { q: q!, k: k!, v: v! };
    });
    return {
      sets,
      out: device.empty('bfloat16', shape, 'out'),
      lse: device.empty('float32', [1, HEADS, S], 'lse'),
    };
  }
  /** The plan's kernel ready to time on the shared inputs of its length. */
  const prepare = (plan: BlockPlan, options: CudaAttentionOptions = wgmmaTuningFromEnv()) => {
    const S = plan.seqLen;
    if (!shapes.has(S)) shapes.set(S, inputSets(S));
    const { sets, out, lse } = shapes.get(S)!;
    const attention = new CudaAttention(device, plan, HEAD_DIM, 'bfloat16', options);
    let turn = 0;
    const run = () => attention.run({ ...sets[turn++ % 2]!, out, lse, layout: 'bhsd' });
    return { attention, run, times: [] as number[] };
  };
  /** Median time of a kernel timed alone (the mma record and the ablation). */
  const timeAlone = (plan: BlockPlan, options: CudaAttentionOptions = {}) => {
    const p = prepare(plan, options);
    const times = device.time(p.run, iterations, 3);
    device.synchronize(p.attention.kernel.name);
    p.attention.dispose();
    return { ms: median(times), registers: p.attention.loaded.registers };
  };
  const rows: Record<string, unknown>[] = [];
  const ablation: Record<string, unknown>[] = [];
  // On Hopper the default is the wgmma kernel; the mma (sm_80) kernel is timed beside it for the record.
  const family = defaultKernelFamily(device);
  const configs = CONFIGS.map(({ frames, globals }) => {
    const plan = benchPlan(frames, globals);
    return { frames, globals, plan, ...prepare(plan) };
  });
  const perRound = Math.max(1, Math.round(iterations / ROUNDS));
  for (const c of configs) device.time(c.run, 0, 3); // warm-up, and the first load of every kernel
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of configs) c.times.push(...device.time(c.run, perRound, 1));
  }
  device.synchronize();
  for (const { frames, globals, plan, attention, times } of configs) {
    const S = plan.seqLen;
    const ms = median(times);
    const { registers, localBytes } = attention.loaded;
    const mma = family === 'mma' ? null : timeAlone(plan, { family: 'mma' });
    const computed = plan.stats.full + plan.stats.partial;
    const blockFlops = 4 * plan.blockQ * plan.blockK * HEAD_DIM * HEADS;
    const denseFlops = 4 * S * S * HEAD_DIM * HEADS;
    const name = maskName(frames, globals);
    const prefix = `T${frames}_${name.replace(':', '-')}`;
    await writeFlexBlockMask(join(outDir, `${prefix}.blockmask.safetensors`), plan);
    writeFileSync(join(outDir, `${prefix}.mask_mod.py`), renderFlexMaskMod(plan.pattern));
    writeFileSync(join(outDir, `${prefix}.cu`), attention.kernel.source);
    rows.push({
      prefix,
      frames,
      mask: name,
      seqLen: S,
      heads: HEADS,
      headDim: HEAD_DIM,
      ms,
      family,
      mmaMs: mma?.ms ?? null,
      spreadMs: [Math.min(...times), Math.max(...times)],
      computedBlocks: computed,
      partialBlocks: plan.stats.partial,
      totalBlocks: plan.stats.total,
      // FLOPs of the computed blocks (what the kernel does) and of dense attention at this length.
      tflopsComputed: (computed * blockFlops) / ms / 1e9,
      tflopsDenseEquivalent: denseFlops / ms / 1e9,
      registers,
      localBytes,
      kernel: attention.kernel.name,
      keyWalk: plan.closedForm ? plan.closedForm.kind : 'csr',
    });
    console.log(
      `${prefix}: ${family} ${ms.toFixed(3)} ms, ${((computed * blockFlops) / ms / 1e9).toFixed(1)} TFLOP/s on computed blocks, ${registers} registers` +
        (mma ? `; mma kernel ${mma.ms.toFixed(3)} ms (${mma.registers} registers)` : ''),
    );
    if (process.env.TESSERA_BENCH_ABLATION && plan.stats.partial > 0) {
      // Timing only (the output is wrong): the same blocks with no element mask, to price the partial tiles.
      const unmasked = timeAlone(partialsAsFull(plan));
      const extra = ms - unmasked.ms;
      ablation.push({
        prefix,
        ms,
        unmaskedMs: unmasked.ms,
        partialBlocks: plan.stats.partial,
        registers: unmasked.registers,
      });
      console.log(
        `${prefix} ablation: partial blocks run unmasked ${unmasked.ms.toFixed(3)} ms; the element mask costs ${extra.toFixed(3)} ms, ` +
          `${((1000 * extra * 132) / (plan.stats.partial * HEADS * (plan.blockK / 64))).toFixed(2)} us per masked tile per SM (132 SMs)`,
      );
    }
  }
  for (const c of configs) c.attention.dispose();
  for (const { sets, out, lse } of shapes.values()) {
    for (const set of sets) for (const t of [set.q, set.k, set.v]) device.free(t);
    device.free(out);
    device.free(lse);
  }
  writeFileSync(
    join(outDir, 'ours.json'),
    JSON.stringify(
      {
        device: device.info.name,
        arch: device.arch,
        driver: device.info.driverVersion,
        iterations,
        rows,
        ablation,
      },
      null,
      2,
    ),
  );
  device.dispose();
}

await main();
