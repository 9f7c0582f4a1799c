/**
 * CUDA attention benchmark at the shapes of the video DiTs people run (bench/attention-cases.ts: Open-Sora-Plan
 * 1.2 at 29 and 93 frames, Wan 2.x 14B and HunyuanVideo at 720p; full attention, Attention Tile and sliding-tile
 * plans; head dims 64/96/128, bf16 and fp16), timed with device events: warm-up, then rounds that time every row in
 * turn (so a drift of the GPU's clocks weighs on every row alike), median. Plans come from the built-in patterns
 * through the front end and `buildPlan`. Writes `ours.json` and, per plan, the FlexAttention block mask
 * (`codegen/flex/block-mask.ts`, safetensors) and mask_mod, and per kernel its source, into the output folder,
 * for `bench/gpu/bench_attention.py`, which times PyTorch SDPA (flash, cuDNN) and FlexAttention on the same
 * shapes and masks in the same session and prints the side-by-side table and the targets.
 *
 * Usage: node dist/bench/cuda-attention.js <outDir> [iterations] [set]   (set: targets (default), wan, hunyuan,
 * osp; see BENCH_SETS)
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
  type DeviceTensor,
  defaultKernelFamily,
} from '../runtime/cuda/index.js';
import { type AttentionCase, BENCH_SETS, caseGrid, MODELS } from './attention-cases.js';
import { maskName, maskPlan, median, randomFiller } from './cuda-bench-common.js';

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
  // TESSERA_WGMMA_WS=pingPong,persistent (0 or 1 each): the warp-specialised kernel with those knobs where a plan
  // allows it; `off`: the original wgmma kernel.
  const ws = process.env.TESSERA_WGMMA_WS;
  if (ws === 'off') return { warpSpecialized: false };
  if (ws) {
    const [pingPong, persistent] = ws.split(',').map((x) => x === '1');
    return { warpSpecialized: { pingPong: pingPong === true, persistent: persistent === true } };
  }
  const text = process.env.TESSERA_WGMMA_TUNING;
  if (!text) return {};
  const [tileK, minBlocksPerSm] = text.split(',').map(Number);
  if (!(tileK === 64 || tileK === 128) || !(minBlocksPerSm === 1 || minBlocksPerSm === 2))
    throw new Error(`TESSERA_WGMMA_TUNING: expected "64|128,1|2", got "${text}"`);
  return { wgmmaTuning: { tileK, minBlocksPerSm } };
}

/**
 * `TESSERA_BENCH_ALT='{"wgmmaTuning": {...}}'`: kernel options timed beside the default on every row (a variant
 * study inside the benchmark's own run, e.g. 128-key tiles in two stages where the default takes 64-key tiles).
 */
function altOptionsFromEnv(): CudaAttentionOptions | null {
  const text = process.env.TESSERA_BENCH_ALT;
  if (!text) return null;
  try {
    return JSON.parse(text) as CudaAttentionOptions;
  } catch (error) {
    throw new Error(`TESSERA_BENCH_ALT: expected kernel options as JSON, got "${text}" (${String(error)})`);
  }
}

/** Time the alternative kernel, or null (with the reason printed) where it cannot be built for the row. */
function timeAltAlone(
  time: () => { ms: number; registers: number },
): { ms: number; registers: number } | null {
  try {
    return time();
  } catch (error) {
    console.log(`alt kernel not built: ${String(error).split('\n')[0]}`);
    return null;
  }
}

/** Tokens of a plan that are not padding: what dense attention over the video would see. */
function realTokens(plan: BlockPlan): number {
  const layout = plan.pattern.layout;
  return layout.videoSizes.reduce((a, b) => a * b, 1) + layout.textLength;
}

/** File-name stem of a case's plan (`wan_T21_3-18`), shared by its head dims and dtypes. */
function planPrefix(c: AttentionCase): string {
  return `${c.model}_T${c.frames}_${maskName(c.mask, c.frames).replace(':', '-').replace(' ', '-')}`;
}

const DTYPE_SHORT = { bfloat16: 'bf16', float16: 'fp16' } as const;

async function main(): Promise<void> {
  const outDir = process.argv[2] ?? 'bench-out';
  const iterations = Number(process.argv[3] ?? 20);
  const setName = process.argv[4] ?? 'targets';
  const set = BENCH_SETS[setName];
  if (!set) throw new Error(`unknown set '${setName}'; choose from ${Object.keys(BENCH_SETS).join(', ')}`);
  const cases = set();
  const started = Date.now();
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(0)} s`;
  mkdirSync(outDir, { recursive: true });
  const device = CudaDevice.open();
  const fill = randomFiller(device);
  /** Two input sets per shape and dtype, alternated, so no run reads what the previous one left in L2. */
  const inputs = new Map<
    string,
    { sets: { q: DeviceTensor; k: DeviceTensor; v: DeviceTensor }[]; out: DeviceTensor; lse: DeviceTensor }
  >();
  const inputsFor = (S: number, heads: number, D: number, dtype: AttentionCase['dtype']) => {
    const key = `${S}:${heads}:${D}:${dtype}`;
    let entry = inputs.get(key);
    if (!entry) {
      const shape = [1, heads, S, D];
      const sets = [0, 1].map((s) => {
        const [q, k, v] = ['q', 'k', 'v'].map((name, i) => {
          const t = device.empty(dtype, shape, name);
          fill(t, 11 + i + 7 * s);
          return t;
        });
        return { q: q!, k: k!, v: v! };
      });
      entry = {
        sets,
        out: device.empty(dtype, shape, 'out'),
        lse: device.empty('float32', [1, heads, S], 'lse'),
      };
      inputs.set(key, entry);
    }
    return entry;
  };
  /** A case's kernel ready to time on the shared inputs of its shape. */
  const prepare = (
    c: AttentionCase,
    plan: BlockPlan,
    options: CudaAttentionOptions = wgmmaTuningFromEnv(),
  ) => {
    const heads = MODELS[c.model].heads;
    const { sets, out, lse } = inputsFor(plan.seqLen, heads, c.headDim, c.dtype);
    const attention = new CudaAttention(device, plan, c.headDim, c.dtype, options);
    let turn = 0;
    const run = () => attention.run({ ...sets[turn++ % 2]!, out, lse, layout: 'bhsd' });
    return { attention, run, times: [] as number[] };
  };
  /** Median time of a kernel timed alone (the mma record and the ablation). */
  const timeAlone = (c: AttentionCase, plan: BlockPlan, options: CudaAttentionOptions = {}) => {
    const p = prepare(c, plan, options);
    const times = device.time(p.run, iterations, 3);
    device.synchronize(p.attention.kernel.name);
    p.attention.dispose();
    return { ms: median(times), registers: p.attention.loaded.registers };
  };
  const altOptions = altOptionsFromEnv();
  const rows: Record<string, unknown>[] = [];
  const ablation: Record<string, unknown>[] = [];
  // On Hopper the default is the wgmma kernel; the mma (sm_80) kernel is timed beside it for the record on the
  // Open-Sora-Plan rows of its own head dim and dtype.
  const family = defaultKernelFamily(device);
  const plans = new Map<string, BlockPlan>();
  const configs = [];
  for (const c of cases) {
    const prefix = planPrefix(c);
    let plan = plans.get(prefix);
    if (!plan) {
      plan = maskPlan(caseGrid(c), c.mask);
      plans.set(prefix, plan);
      await writeFlexBlockMask(join(outDir, `${prefix}.blockmask.safetensors`), plan);
      writeFileSync(join(outDir, `${prefix}.mask_mod.py`), renderFlexMaskMod(plan.pattern));
    }
    configs.push({ c, prefix, plan, ...prepare(c, plan) });
  }
  console.log(
    `set '${setName}': ${configs.length} rows, ${plans.size} plans, kernels compiled (${elapsed()})`,
  );
  const perRound = Math.max(1, Math.round(iterations / ROUNDS));
  for (const c of configs) device.time(c.run, 0, 3); // warm-up, and the first load of every kernel
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of configs) c.times.push(...device.time(c.run, perRound, 1));
  }
  device.synchronize();
  console.log(`timed (${elapsed()})`);
  for (const { c, prefix, plan, attention, times } of configs) {
    const S = plan.seqLen;
    const heads = MODELS[c.model].heads;
    const D = c.headDim;
    const ms = median(times);
    const { registers, localBytes } = attention.loaded;
    // The warp-specialised wgmma kernel is timed against the original one on every row; the original against
    // the mma kernel on the Open-Sora-Plan rows.
    const warpSpecialized = attention.kernel.name.startsWith('tessera_fwd90ws_');
    const recordMma =
      !warpSpecialized &&
      family !== 'mma' &&
      c.model === 'osp' &&
      D === MODELS.osp.headDim &&
      c.dtype === 'bfloat16';
    const mma = recordMma ? timeAlone(c, plan, { family: 'mma' }) : null;
    const plain = warpSpecialized ? timeAlone(c, plan, { family: 'wgmma', warpSpecialized: false }) : null;
    const alt = altOptions ? timeAltAlone(() => timeAlone(c, plan, altOptions)) : null;
    const computed = plan.stats.full + plan.stats.partial;
    const blockFlops = 4 * plan.blockQ * plan.blockK * D * heads;
    const tokens = realTokens(plan);
    const denseFlops = 4 * tokens * tokens * D * heads;
    const mask = maskName(c.mask, c.frames);
    const kernelFile = `${prefix}_d${D}_${DTYPE_SHORT[c.dtype]}.cu`;
    writeFileSync(join(outDir, kernelFile), attention.kernel.source);
    rows.push({
      prefix,
      model: c.model,
      modelName: MODELS[c.model].name,
      frames: c.frames,
      mask,
      maskKind: c.mask.kind,
      tokens,
      seqLen: S,
      heads,
      headDim: D,
      dtype: c.dtype,
      ms,
      family,
      mmaMs: mma?.ms ?? null,
      warpSpecialized,
      plainWgmmaMs: plain?.ms ?? null,
      altMs: alt?.ms ?? null,
      spreadMs: [Math.min(...times), Math.max(...times)],
      computedBlocks: computed,
      partialBlocks: plan.stats.partial,
      totalBlocks: plan.stats.total,
      // FLOPs of the computed blocks (what the kernel does) and of dense attention over the real tokens.
      tflopsComputed: (computed * blockFlops) / ms / 1e9,
      tflopsDenseEquivalent: denseFlops / ms / 1e9,
      registers,
      localBytes,
      kernel: attention.kernel.name,
      kernelFile,
      keyWalk: plan.closedForm ? plan.closedForm.kind : 'csr',
    });
    console.log(
      `${MODELS[c.model].name} T${c.frames} ${mask} d${D} ${DTYPE_SHORT[c.dtype]}: ${family} ${ms.toFixed(3)} ms, ` +
        `${((computed * blockFlops) / ms / 1e9).toFixed(1)} TFLOP/s on computed blocks, ${registers} registers, ${localBytes} B local` +
        (mma ? `; mma kernel ${mma.ms.toFixed(3)} ms (${mma.registers} registers)` : '') +
        (plain ? `; original wgmma kernel ${plain.ms.toFixed(3)} ms (${plain.registers} registers)` : '') +
        (alt ? `; alt (TESSERA_BENCH_ALT) ${alt.ms.toFixed(3)} ms (${alt.registers} registers)` : ''),
    );
    if (process.env.TESSERA_BENCH_ABLATION && plan.stats.partial > 0) {
      // Timing only (the output is wrong): the same blocks with no element mask, to price the partial tiles.
      const unmasked = timeAlone(c, partialsAsFull(plan));
      const extra = ms - unmasked.ms;
      ablation.push({
        prefix,
        headDim: D,
        dtype: c.dtype,
        ms,
        unmaskedMs: unmasked.ms,
        partialBlocks: plan.stats.partial,
        registers: unmasked.registers,
      });
      console.log(
        `${prefix} ablation: partial blocks run unmasked ${unmasked.ms.toFixed(3)} ms; the element mask costs ${extra.toFixed(3)} ms, ` +
          `${((1000 * extra * 132) / (plan.stats.partial * heads * (plan.blockK / 64))).toFixed(2)} us per masked tile per SM (132 SMs)`,
      );
    }
  }
  for (const c of configs) c.attention.dispose();
  for (const { sets, out, lse } of inputs.values()) {
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
        set: setName,
        iterations,
        rows,
        ablation,
      },
      null,
      2,
    ),
  );
  console.log(`done (${elapsed()})`);
  device.dispose();
}

await main();
