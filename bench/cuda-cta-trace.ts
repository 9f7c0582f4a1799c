/**
 * Where a block-sparse launch spends its time, CTA by CTA (issue 4's "sparse time proportional to computed
 * blocks"). The default kernel's source is instrumented (timing only; its log-sum-exp output is overwritten):
 * thread 0 of every CTA records the global timer when the CTA starts, when its key walk ends and when its
 * output is staged, and the SM it ran on. From those, per shape:
 * - a least-squares fit of CTA time = fixed + full * (full tiles) + partial * (partial tiles), the per-tile
 *   costs and the per-CTA overhead that key lists of sparse masks pay more often;
 * - how busy the SMs were: the sum of CTA times over (SMs x kernel span), the cost of imbalance and tails;
 * - the gaps between one CTA's end and the next CTA's start on the same SM (launch and prologue latency).
 *
 * Usage: node dist/bench/cuda-cta-trace.js [outDir]   (writes cta-trace.json)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ctaOrder, ctaWork } from '../codegen/cuda/cta-order.js';
import { FAMILY_ARCH } from '../codegen/cuda/kernel-options.js';
import type { BlockPlan } from '../compiler/plan/plan.js';
import { CudaAttention, CudaDevice } from '../runtime/cuda/index.js';
import { benchPlan, HEAD_DIM, HEADS, median, randomFiller } from './cuda-bench-common.js';

/** Words recorded per CTA: start, walk end and store time (global timer, ns), and the SM id. */
const RECORD = 4;

/** The kernel source with the timer records added; throws if the anchors it edits are gone. */
function instrument(source: string): string {
  const edits: [string, string][] = [
    [
      'const int tid = threadIdx.x;',
      'const int tid = threadIdx.x;\n  unsigned long long tp_t0, tp_t1, tp_t2; unsigned tp_sm; float tp_sink;\n' +
        '  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(tp_t0));',
    ],
    // The records take the log-sum-exp's place, so the kernel's own log-sum-exp stores are dropped.
    ['p.lse[static_cast<long long>(bh) * kSeqLen + token] =', 'tp_sink ='],
    [
      '// Normalise, write the log-sum-exp',
      'asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(tp_t1));\n  // Normalise, write the log-sum-exp',
    ],
    [
      'tp_bar_sync(1 + wg, 128);',
      'tp_bar_sync(1 + wg, 128);\n  if (tid == 0) {\n' +
        '    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(tp_t2));\n' +
        '    asm volatile("mov.u32 %0, %%smid;" : "=r"(tp_sm));\n' +
        '    unsigned long long* tp_rec = reinterpret_cast<unsigned long long*>(p.lse) +\n' +
        `        ${RECORD}ull * blockIdx.x;\n` +
        '    tp_rec[0] = tp_t0; tp_rec[1] = tp_t1; tp_rec[2] = tp_t2; tp_rec[3] = tp_sm;\n  }',
    ],
  ];
  let out = source;
  for (const [anchor, replacement] of edits) {
    if (!out.includes(anchor)) throw new Error(`cta trace: anchor not found in the kernel: ${anchor}`);
    out = out.split(anchor).join(replacement);
  }
  return out;
}

/** Least squares of y on the columns of x (normal equations; 3 unknowns). */
function leastSquares(x: number[][], y: number[]): number[] {
  const n = x[0]!.length;
  const a = Array.from({ length: n }, () => new Array<number>(n + 1).fill(0));
  x.forEach((row, i) => {
    for (let r = 0; r < n; r++) {
      for (let c = 0; c < n; c++) a[r]![c]! += row[r]! * row[c]!;
      a[r]![n]! += row[r]! * y[i]!;
    }
  });
  for (let c = 0; c < n; c++) {
    let pivot = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(a[r]![c]!) > Math.abs(a[pivot]![c]!)) pivot = r;
    [a[c], a[pivot]] = [a[pivot]!, a[c]!];
    if (Math.abs(a[c]![c]!) < 1e-12) return new Array<number>(n).fill(Number.NaN); // a column never varies
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = a[r]![c]! / a[c]![c]!;
      for (let k = c; k <= n; k++) a[r]![k]! -= f * a[c]![k]!;
    }
  }
  return a.map((row, i) => row[n]! / row[i]!);
}

interface Cta {
  qb: number;
  full: number;
  partial: number;
  start: number;
  walkEnd: number;
  end: number;
  sm: number;
}

function analyse(plan: BlockPlan, records: BigUint64Array, sms: number) {
  const { heavyBlocks: heavy, lookahead } = ctaOrder(plan, sms);
  const blocks = plan.numQBlocks;
  const ctas: Cta[] = [];
  let t0 = records[0]!; // the earliest start (bigint: Math.min does not apply)
  for (let at = 0; at < records.length; at += RECORD) if (records[at]! < t0) t0 = records[at]!;
  for (let cta = 0; cta < blocks * HEADS; cta++) {
    const at = RECORD * cta;
    const qb = plan.schedule[ctaWork(cta, blocks, heavy, HEADS, lookahead).pos]!;
    ctas.push({
      qb,
      full: plan.full.offsets[qb + 1]! - plan.full.offsets[qb]!,
      partial: plan.partial.offsets[qb + 1]! - plan.partial.offsets[qb]!,
      start: Number(records[at]! - t0) / 1e3,
      walkEnd: Number(records[at + 1]! - t0) / 1e3,
      end: Number(records[at + 2]! - t0) / 1e3,
      sm: Number(records[at + 3]!),
    });
  }
  const durations = ctas.map((c) => c.end - c.start);
  const [fixed, perFull, perPartial] = leastSquares(
    ctas.map((c) => [1, c.full, c.partial]),
    durations,
  );
  const residual = Math.sqrt(
    ctas.reduce(
      (s, c, i) => s + (durations[i]! - (fixed! + perFull! * c.full + perPartial! * c.partial)) ** 2,
      0,
    ) / ctas.length,
  );
  const span = Math.max(...ctas.map((c) => c.end));
  const busy = durations.reduce((a, b) => a + b, 0) / (sms * span);
  // Gaps on each SM between one CTA's end and the next one's start.
  const bySm = new Map<number, Cta[]>();
  for (const c of ctas) bySm.set(c.sm, [...(bySm.get(c.sm) ?? []), c]);
  const gaps: number[] = [];
  const lastEnds: number[] = [];
  for (const list of bySm.values()) {
    list.sort((a, b) => a.start - b.start);
    for (let i = 1; i < list.length; i++) gaps.push(list[i]!.start - list[i - 1]!.end);
    lastEnds.push(list.at(-1)!.end);
  }
  const epilogue = ctas.map((c) => c.end - c.walkEnd);
  return {
    ctas: ctas.length,
    smsUsed: bySm.size,
    lookahead,
    spanUs: span,
    smBusy: busy,
    fitUs: { fixed, perFullTile: perFull, perPartialTile: perPartial, rmsResidual: residual },
    epilogueUs: median(epilogue),
    gapUs: { median: gaps.length ? median(gaps) : 0, max: gaps.length ? Math.max(...gaps) : 0 },
    tailUs: span - Math.min(...lastEnds),
  };
}

async function main(): Promise<void> {
  const outDir = process.argv[2] ?? 'bench-cta-trace';
  mkdirSync(outDir, { recursive: true });
  const device = CudaDevice.open();
  const fill = randomFiller(device);
  const sms = device.info.multiprocessors;
  const results: Record<string, unknown>[] = [];
  for (const [frames, globals] of [
    [8, null],
    [8, 4],
    [8, 1],
    [24, 3],
  ] as const) {
    const plan = benchPlan(frames, globals);
    const attention = new CudaAttention(device, plan, HEAD_DIM, 'bfloat16');
    const kernel = { ...attention.kernel, source: instrument(attention.kernel.source) };
    const arch = FAMILY_ARCH[attention.kernel.family] ?? device.arch;
    const loaded = device.loadKernel(kernel.source, kernel.name, kernel.sharedBytes, arch);
    Object.assign(attention as object, { kernel, loaded }); // benchmark-only swap, same launch geometry
    const shape = [1, HEADS, plan.seqLen, HEAD_DIM];
    const [q, k, v] = ['q', 'k', 'v'].map((name, i) => {
      const t = device.empty('bfloat16', shape, name);
      fill(t, 31 + i);
      return t;
    });
    const out = device.empty('bfloat16', shape, 'out');
    const lse = device.empty('float32', [1, HEADS, plan.seqLen], 'lse');
    const run = () => attention.run({ q: q!, k: k!, v: v!, out, lse, layout: 'bhsd' });
    const ms = median(device.time(run, 5, 2));
    run();
    device.synchronize(kernel.name);
    const words = device.download(lse).data as Float32Array; // the records' raw bits, copied as they are
    const records = new BigUint64Array(words.buffer, words.byteOffset, RECORD * plan.numQBlocks * HEADS);
    const mask = globals === null ? 'full' : `${globals}:${frames - globals}`;
    const result = { frames, mask, ms, family: attention.kernel.family, ...analyse(plan, records, sms) };
    results.push(result);
    console.log(JSON.stringify(result));
    for (const t of [q!, k!, v!, out, lse]) device.free(t);
    attention.dispose();
  }
  writeFileSync(join(outDir, 'cta-trace.json'), JSON.stringify(results, null, 2));
  device.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
