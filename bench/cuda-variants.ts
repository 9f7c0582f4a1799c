/**
 * Kernel tuning study (issue 4): every {@link CudaKernelTuning} variant below is first checked against the
 * float64 CPU reference on small random cases (padding, partial tiles, all head dims, both dtypes), then timed
 * at the Open-Sora-Plan shapes (batch 1, 24 heads, head dim 96, bf16; dense 28,800 and 86,400 tokens, Attention
 * Tile 1:7 at 8 frames and 3:21 at 24) with device events (3 warm-ups, median of `iterations`, two input sets
 * alternated). The baseline runs first and last, so the table carries the run-to-run spread. Writes
 * `variants.json`, and `ours.json` plus the Flex block masks for `bench/gpu/bench_attention.py`.
 *
 * Usage: node dist/bench/cuda-variants.js <outDir> [iterations]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type CudaKernelFamily,
  type CudaKernelTuning,
  FAMILY_ARCH,
  type WarpSpecializedTuning,
  type WgmmaKernelTuning,
} from '../codegen/cuda/kernel-options.js';
import { renderCudaKernel } from '../codegen/cuda/module.js';
import { writeFlexBlockMask } from '../codegen/flex/block-mask.js';
import { renderFlexMaskMod } from '../codegen/flex/mask-mod.js';
import { compiledElementMask } from '../compiler/classify/element-mask.js';
import type { BlockPlan } from '../compiler/plan/plan.js';
import { relativeError } from '../core/error-metrics.js';
import { fromStorage, roundToDType } from '../core/tensor.js';
import { TesseraError } from '../dsl/diagnostics.js';
import { denseAttention } from '../runtime/cpu/attention.js';
import { CudaAttention, CudaDevice } from '../runtime/cuda/index.js';
import { builtinPlan } from '../test/device/builtin-plans.js';
import { randomValues } from '../test/device/cases.js';
import { benchPlan, HEAD_DIM, HEADS, median, randomFiller } from './cuda-bench-common.js';

/**
 * Timing-only ablations of the `wgmma` kernel (the output is wrong), made by editing its source text: they
 * price one part of the loop by removing it. `no-exp`: the softmax's exp2 of the scores is skipped; `no-pv`:
 * the P V products are not issued; `no-mask`: partial tiles skip their element mask (priced as full tiles). (bench/RESULTS.md also has `no-kv-loads`, timed on the cp.async version of
 * the kernel before its K/V copies became bulk tensor copies.)
 */
type Ablation = 'no-exp' | 'no-pv' | 'no-mask';

function ablate(source: string, ablation: Ablation): string {
  const edits: Record<Ablation, [RegExp, string]> = {
    'no-exp': [/tp_exp2\(fmaf\(/g, '(fmaf('],
    'no-pv': [/TpWgmma<kHeadDim, T>::rs\(acc[^;]*;/g, ';'],
    'no-mask': [/\(is_partial \? kMaskElements :/g, '(is_partial ? kMaskNone :'],
  };
  const [pattern, replacement] = edits[ablation];
  const edited = source.replace(pattern, replacement);
  // A plan without partial tiles has no element mask to remove; the other parts are in every kernel.
  if (edited === source && ablation !== 'no-mask')
    throw new Error(`ablation ${ablation}: nothing to remove in the kernel source`);
  return edited;
}

/** A kernel to time: its family and tuning, or null for what the runtime launches by default. */
interface VariantKernel {
  readonly family: CudaKernelFamily;
  /** `wgmma` only: time the kernel with one part removed (its output is then wrong). */
  readonly ablation?: Ablation;
  /** `mma` only: the tuning forced on every plan (absent: `defaultCudaTuning` of each plan). */
  readonly tuning?: CudaKernelTuning;
  /** `wgmma` only. */
  readonly wgmmaTuning?: WgmmaKernelTuning;
  /** `wgmma` only: the warp-specialised kernel where the plan allows it. */
  readonly warpSpecialized?: WarpSpecializedTuning | false;
}

/**
 * The candidates; `kernel: null` is what the runtime launches by default (the `wgmma` kernel on Hopper).
 * Earlier studies' variants (base, tk128, qsmem, 2cta-qsmem, w32 forced on masked plans) are in
 * bench/RESULTS.md; construct them here again with the {@link CudaKernelTuning} fields to re-time them.
 */
const VARIANTS: readonly { name: string; kernel: VariantKernel | null }[] = [
  { name: 'mma', kernel: { family: 'mma' } },
  { name: 'default', kernel: null },
  { name: 'wgmma-tk128', kernel: { family: 'wgmma', wgmmaTuning: { tileK: 128, minBlocksPerSm: 1 } } },
  { name: 'wgmma-tk64', kernel: { family: 'wgmma', wgmmaTuning: { tileK: 64, minBlocksPerSm: 1 } } },
  { name: 'wgmma-tk64-2cta', kernel: { family: 'wgmma', wgmmaTuning: { tileK: 64, minBlocksPerSm: 2 } } },
  ...(
    [
      ['ws', { pingPong: false, persistent: true }],
      ['ws-pp', { pingPong: true, persistent: true }],
      ['ws-pp-grid', { pingPong: true, persistent: false }],
    ] as const
  ).map(([name, ws]) => ({ name, kernel: { family: 'wgmma' as const, warpSpecialized: ws } })),
  {
    name: 'ws-pp-tk64',
    kernel: {
      family: 'wgmma',
      wgmmaTuning: { tileK: 64, minBlocksPerSm: 1, warpSpecialized: { pingPong: true, persistent: true } },
    },
  },
  { name: 'abl-no-exp', kernel: { family: 'wgmma', ablation: 'no-exp' } },
  { name: 'abl-no-pv', kernel: { family: 'wgmma', ablation: 'no-pv' } },
  { name: 'abl-no-mask', kernel: { family: 'wgmma', ablation: 'no-mask' } },
];

/** Timed shapes: frames and Attention Tile globals (null: dense). */
const SHAPES: readonly { frames: number; globals: number | null }[] = [
  { frames: 8, globals: null },
  { frames: 24, globals: null },
  { frames: 8, globals: 1 },
  { frames: 24, globals: 3 },
];

/** Small correctness cases: padding rows/keys, partial tiles, CSR and dense walks, every head dim, both dtypes. */
const CHECKS: readonly {
  name: string;
  args: [string, { sizes: Record<string, number>; params?: Record<string, number> }];
  headDim: number;
  dtype: 'bfloat16' | 'float16';
  /** Default 2; more give more work items than multiprocessors (a persistent grid's CTAs walk several). */
  heads?: number;
}[] = [
  {
    name: 'full 3x8x20 d96 bf16',
    args: ['full', { sizes: { t: 3, h: 8, w: 20 } }],
    headDim: 96,
    dtype: 'bfloat16',
  },
  {
    name: 'tile a1 4x8x20 d64 fp16',
    args: ['attention_tile', { sizes: { t: 4, h: 8, w: 20 }, params: { a: 1 } }],
    headDim: 64,
    dtype: 'float16',
  },
  {
    name: 'tile a2 5x16x25 d128 bf16',
    args: ['attention_tile', { sizes: { t: 5, h: 16, w: 25 }, params: { a: 2 } }],
    headDim: 128,
    dtype: 'bfloat16',
  },
  {
    name: 'tile a1 4x16x16 d96 bf16',
    args: ['attention_tile', { sizes: { t: 4, h: 16, w: 16 }, params: { a: 1 } }],
    headDim: 96,
    dtype: 'bfloat16',
  },
  {
    name: 'tile a1 4x16x16 d96 bf16, 24 heads (192 work items)',
    args: ['attention_tile', { sizes: { t: 4, h: 16, w: 16 }, params: { a: 1 } }],
    headDim: 96,
    dtype: 'bfloat16',
    heads: 24,
  },
  {
    name: 'full 4x16x16 d128 fp16, 40 heads (320 work items)',
    args: ['full', { sizes: { t: 4, h: 16, w: 16 } }],
    headDim: 128,
    dtype: 'float16',
    heads: 40,
  },
];

/** A CudaAttention running the variant's kernel; null keeps the one the runtime chooses (its default). */
function attentionWith(
  device: CudaDevice,
  plan: BlockPlan,
  headDim: number,
  dtype: 'bfloat16' | 'float16',
  variant: VariantKernel | null,
) {
  if (variant === null) return new CudaAttention(device, plan, headDim, dtype);
  const { family, wgmmaTuning, warpSpecialized, tuning, ablation } = variant;
  const attention = new CudaAttention(device, plan, headDim, dtype, {
    family,
    ...(wgmmaTuning ? { wgmmaTuning } : {}),
    ...(warpSpecialized !== undefined ? { warpSpecialized } : {}),
  });
  if (tuning === undefined && ablation === undefined) return attention;
  const rendered = ablation
    ? attention.kernel
    : renderCudaKernel(plan, { headDim, dtype, family, ...(tuning ? { tuning } : {}) });
  const kernel = ablation ? { ...rendered, source: ablate(rendered.source, ablation) } : rendered;
  const loaded = device.loadKernel(
    kernel.source,
    kernel.name,
    kernel.sharedBytes,
    FAMILY_ARCH[family] ?? device.arch,
  );
  // Benchmark-only swap of the launched kernel; launch geometry and parameters are the same for every tuning.
  Object.assign(attention as object, { kernel, loaded });
  return attention;
}

/** A check's plan, rounded inputs and float64 reference, computed once and shared by every variant. */
function prepareCheck(c: (typeof CHECKS)[number], seed: number) {
  const plan = builtinPlan(c.args[0], c.args[1], 128);
  const heads = c.heads ?? 2;
  const S = plan.seqLen;
  const n = heads * S * c.headDim;
  const host = [0, 1, 2].map((i) => randomValues(n, seed + i, 1).map((v) => roundToDType(c.dtype, v)));
  const ref = denseAttention(
    { q: host[0]!, k: host[1]!, v: host[2]!, layout: 'bhsd', batch: 1, heads, seqLen: S, headDim: c.headDim },
    compiledElementMask(plan.pattern),
  );
  return { ...c, plan, heads, host, ref };
}

/** Relative error of the out tensor and max lse error vs float64, with unwritten output poisoned as NaN. */
function check(device: CudaDevice, prepared: ReturnType<typeof prepareCheck>, variant: VariantKernel | null) {
  const { plan, heads, host, ref, ...c } = prepared;
  const S = plan.seqLen;
  const shape = [1, heads, S, c.headDim];
  const [q, k, v] = host.map((h) => device.upload(fromStorage('float64', shape, h), c.dtype));
  const out = device.empty(c.dtype, shape, 'out');
  device.fillBytes(out, 0xff); // NaN in both 16-bit formats: an unwritten element fails the check
  const lse = device.empty('float32', [1, heads, S], 'lse');
  device.fillBytes(lse, 0xff); // NaN as float32: an unwritten lse fails too
  const attention = attentionWith(device, plan, c.headDim, c.dtype, variant);
  attention.run({ q: q!, k: k!, v: v!, out, lse, layout: 'bhsd' });
  device.synchronize(attention.kernel.name);
  const got = device.download(out).data;
  const gotLse = device.download(lse).data;
  let finite = true;
  for (let i = 0; i < got.length; i++) if (!Number.isFinite(got[i]!)) finite = false;
  let lseErr = 0;
  for (let i = 0; i < ref.lse.length; i++) {
    const r = ref.lse[i]!;
    const g = gotLse[i]!;
    lseErr = Math.max(
      lseErr,
      r === Number.NEGATIVE_INFINITY ? (g === r ? 0 : Infinity) : Math.abs(g - r) / Math.max(1, Math.abs(r)),
    );
  }
  const err = finite ? relativeError(got, ref.out) : Infinity;
  for (const t of [q!, k!, v!, out, lse]) device.free(t);
  attention.dispose();
  return { err, lseErr, ok: finite && err < 1e-2 && lseErr < 2e-3 };
}

async function main(): Promise<void> {
  const outDir = process.argv[2] ?? 'bench-variants';
  const iterations = Number(process.argv[3] ?? 10);
  mkdirSync(outDir, { recursive: true });
  const device = CudaDevice.open();
  const fill = randomFiller(device);
  const results: Record<string, unknown>[] = [];
  const lines: string[] = [];
  const prepared = CHECKS.map((c, i) => prepareCheck(c, 1000 * i + 17));
  const plans = SHAPES.map(({ frames, globals }) => ({ frames, globals, plan: benchPlan(frames, globals) }));
  // TESSERA_VARIANTS=name,name,... times a subset (the first of the list is still run again at the end).
  const only = process.env.TESSERA_VARIANTS?.split(',').filter((n) => n !== '');
  const chosen = only ? VARIANTS.filter((v) => only.includes(v.name)) : VARIANTS;
  const runOrder = [...chosen, { ...chosen[0]!, name: `${chosen[0]!.name} (again)` }];
  for (const variant of runOrder) {
    // A variant that cannot be built for a check's shape (e.g. 128-key tiles at head dim 128 with masks: too much
    // shared memory) says so; it does not fail the study.
    const checks = prepared.map((c) => {
      try {
        return { case: c.name, ...check(device, c, variant.kernel), notBuilt: null };
      } catch (e) {
        if (!(e instanceof TesseraError)) throw e;
        return { case: c.name, err: Number.NaN, lseErr: Number.NaN, ok: true, notBuilt: e.message };
      }
    });
    const correct = checks.every((c) => c.ok);
    const timings: Record<string, unknown>[] = [];
    for (const { frames, globals, plan } of plans) {
      const S = plan.seqLen;
      const attention = attentionWith(device, plan, HEAD_DIM, 'bfloat16', variant.kernel);
      const shape = [1, HEADS, S, HEAD_DIM];
      const sets = [0, 1].map((s) => {
        const t = ['q', 'k', 'v'].map((name, i) => {
          const x = device.empty('bfloat16', shape, name);
          fill(x, 11 + i + 7 * s);
          return x;
        });
        return t;
      });
      const out = device.empty('bfloat16', shape, 'out');
      const lse = device.empty('float32', [1, HEADS, S], 'lse');
      let turn = 0;
      const times = device.time(
        () => {
          const [q, k, v] = sets[turn++ % 2]!;
          attention.run({ q: q!, k: k!, v: v!, out, lse, layout: 'bhsd' });
        },
        iterations,
        3,
      );
      device.synchronize(attention.kernel.name);
      const ms = median(times);
      const computed = plan.stats.full + plan.stats.partial;
      const tflops = (computed * 4 * plan.blockQ * plan.blockK * HEAD_DIM * HEADS) / ms / 1e9;
      const mask = globals === null ? 'full' : `${globals}:${frames - globals}`;
      timings.push({
        frames,
        mask,
        seqLen: S,
        ms,
        spread: [Math.min(...times), Math.max(...times)],
        tflops,
        registers: attention.loaded.registers,
        localBytes: attention.loaded.localBytes,
      });
      lines.push(
        `${variant.name.padEnd(16)} T${frames} ${mask.padEnd(5)} ${ms.toFixed(3).padStart(9)} ms ${tflops.toFixed(1).padStart(6)} TFLOP/s  regs ${attention.loaded.registers} local ${attention.loaded.localBytes}  correct ${correct}`,
      );
      console.log(lines[lines.length - 1]);
      if (frames === 8 && globals === null) {
        // For scripts/gpu/sass-summary.sh on the device machine (opcode counts per variant).
        writeFileSync(
          join(outDir, `sass-${variant.name.replace(/[^a-z0-9-]/gi, '_')}.cu`),
          attention.kernel.source,
        );
      }
      if (variant === chosen[0]) {
        // The baseline's rows feed bench_attention.py, which times Flex and SDPA on the same masks.
        const prefix = `T${frames}_${mask.replace(':', '-')}`;
        await writeFlexBlockMask(join(outDir, `${prefix}.blockmask.safetensors`), plan);
        writeFileSync(join(outDir, `${prefix}.mask_mod.py`), renderFlexMaskMod(plan.pattern));
        results.push({
          prefix,
          frames,
          mask,
          seqLen: S,
          heads: HEADS,
          headDim: HEAD_DIM,
          ms,
          tflopsComputed: tflops,
          computedBlocks: computed,
          partialBlocks: plan.stats.partial,
          totalBlocks: plan.stats.total,
          registers: attention.loaded.registers,
        });
      }
      for (const set of sets) for (const t of set) device.free(t);
      device.free(out);
      device.free(lse);
      attention.dispose();
    }
    console.log(
      `${variant.name}: checks ${checks.map((c) => (c.notBuilt ? `${c.case} not built` : `${c.case} err ${c.err.toExponential(2)} lse ${c.lseErr.toExponential(1)} ${c.ok ? 'ok' : 'FAIL'}`)).join('; ')}`,
    );
    writeFileSync(
      join(outDir, `variant-${variant.name.replace(/[^a-z0-9-]/gi, '_')}.json`),
      JSON.stringify({ variant, checks, timings }, null, 2),
    );
  }
  writeFileSync(
    join(outDir, 'ours.json'),
    JSON.stringify({ device: device.info.name, arch: device.arch, iterations, rows: results }, null, 2),
  );
  console.log(`\n${lines.join('\n')}`);
  device.dispose();
}

await main();
