/**
 * Choosing "the best backend present" and the instance the numeric verification runs on.
 */

import { instantiatePattern } from '../compiler/lower.js';
import type { CompileResult } from '../compiler/pipeline.js';
import { buildPlan } from '../compiler/plan/build.js';
import type { BlockPlan } from '../compiler/plan/plan.js';
import { computedPairs } from '../compiler/report.js';
import { seededUniform } from '../core/random.js';
import type { AttentionBackend } from '../runtime/attention-backend.js';
import { createCpuBackend } from '../runtime/cpu/backend.js';

/** A backend factory: resolves to null (with the reason) when its device or driver is absent. */
export interface BackendProbe {
  readonly name: string;
  create(): Promise<AttentionBackend | { unavailable: string }>;
}

/**
 * GPU backends, tried before the CPU. Each is imported only when probed, so a machine without a GPU stack
 * (no driver, no Dawn libraries) never loads it.
 */
export const GPU_PROBES: readonly BackendProbe[] = [
  {
    name: 'cuda',
    async create() {
      const cuda = await import('../runtime/cuda/index.js');
      const probe = cuda.cudaAvailable();
      return probe.available ? cuda.createCudaBackend() : { unavailable: probe.reason };
    },
  },
  {
    name: 'webgpu',
    async create() {
      const webgpu = await import('../runtime/webgpu/attention-backend.js');
      return webgpu.createWebGpuAttentionBackend();
    },
  },
];

/**
 * Block sizes a backend's kernels take: the CUDA kernels need blocks of 64 or 128 query tokens and multiples
 * of 64 key tokens; the others take any size, and small blocks make more full/partial/empty mixes.
 */
export function verificationBlock(backend: AttentionBackend): number {
  return backend.capabilities.has('tensor-cores') ? 64 : 32;
}

/** The best backend present: the highest-ranked GPU backend that starts, else the CPU reference. */
export async function bestBackend(probes: readonly BackendProbe[] = GPU_PROBES): Promise<AttentionBackend> {
  const started: AttentionBackend[] = [];
  for (const probe of probes) {
    const backend = await probe.create().catch((error: unknown) => ({ unavailable: String(error) }));
    if ('unavailable' in backend) continue;
    started.push(backend);
  }
  started.sort((a, b) => b.rank - a.rank);
  for (const extra of started.slice(1)) await extra.dispose();
  return started[0] ?? createCpuBackend();
}

/** Largest sequence the dense float64 oracle is run on during `--verify`. */
export const VERIFY_MAX_TOKENS = 2304;

/**
 * The compiled pattern at blocks of `block` tokens (the backend's kernel size), on its own layout when that
 * is small, else on a smaller layout with the same parameters (the frame axis kept, other video axes cut to
 * 6, text to 16), so the dense oracle stays cheap while full, partial and empty blocks all still occur. Null
 * when the pattern's own `require`s reject the smaller sizes.
 */
export function smallVerificationPlan(result: CompileResult, block = 32): BlockPlan | null {
  const plan = result.outputs.plan!;
  if (plan.seqLen <= VERIFY_MAX_TOKENS && plan.blockQ === block && plan.blockK === block) return plan;
  if (plan.seqLen <= VERIFY_MAX_TOKENS) return buildPlan(plan.pattern, block, block);
  const { ast, source } = result.outputs;
  if (!ast) return null;
  const layout = plan.pattern.layout;
  const sizes: Record<string, number> = {};
  layout.videoAxes.forEach((axis, i) => {
    sizes[axis] = i === 0 ? layout.videoSizes[0]! : Math.min(layout.videoSizes[i]!, 6);
  });
  if (layout.textAxis !== null) sizes[layout.textAxis] = Math.min(layout.textLength, 16);
  try {
    const pattern = instantiatePattern(ast, source, {
      pattern: plan.pattern.name,
      params: plan.pattern.params,
      sizes,
    });
    if (pattern.layout.length > VERIFY_MAX_TOKENS) return null;
    return buildPlan(pattern, block, block);
  } catch {
    return null;
  }
}

/**
 * Element pairs (per head) a backend without tensor cores is given at most in `--verify`: the CPU reference
 * and WebGPU (in CI a software device) take seconds per few million pairs, so larger plans are shrunk.
 */
export const VERIFY_MAX_SOFTWARE_PAIRS = 4_000_000;

/** Query rows compared with the exact float64 reference when the whole reference would be too slow. */
export const VERIFY_SAMPLED_ROWS = 128;

/** The numeric check `--verify` runs: on which plan, which query rows, and why, in words. */
export interface NumericCheck {
  readonly plan: BlockPlan | null;
  /** Query rows to compare; absent: every row. */
  readonly rows?: readonly number[];
  readonly size: string;
}

/** Whether `backend`'s kernels take the plan's block sizes (CUDA: 64 or 128 query rows, keys by 64). */
function takesBlocks(backend: AttentionBackend, plan: BlockPlan): boolean {
  if (!backend.capabilities.has('tensor-cores')) return true;
  return (plan.blockQ === 64 || plan.blockQ === 128) && plan.blockK % 64 === 0;
}

/** `count` distinct query rows of `plan`, the first and last included, drawn with `seed`. */
export function sampleRows(seqLen: number, count: number, seed: number): number[] {
  if (seqLen <= count) return Array.from({ length: seqLen }, (_, i) => i);
  const random = seededUniform(seed);
  const rows = new Set([0, seqLen - 1]);
  while (rows.size < count) rows.add(Math.floor(random() * seqLen));
  return [...rows].sort((a, b) => a - b);
}

/**
 * Where `--verify` checks the numbers: at the requested size when the backend can run it (a GPU with tensor
 * cores always; other backends up to {@link VERIFY_MAX_SOFTWARE_PAIRS}), comparing every query row when the
 * dense reference is cheap and {@link VERIFY_SAMPLED_ROWS} sampled rows, exactly, when it is not; otherwise on
 * a shrunken instance ({@link smallVerificationPlan}), and `size` says so.
 */
export function numericCheck(result: CompileResult, backend: AttentionBackend, seed = 1): NumericCheck {
  const plan = result.outputs.plan!;
  const block = verificationBlock(backend);
  const pairs = computedPairs(plan);
  if (backend.capabilities.has('tensor-cores') || pairs <= VERIFY_MAX_SOFTWARE_PAIRS) {
    const full = takesBlocks(backend, plan) ? plan : buildPlan(plan.pattern, block, block);
    const blocks = full === plan ? '' : ` (at blocks of ${block}, which the ${backend.name} kernels take)`;
    if (full.seqLen <= VERIFY_MAX_TOKENS)
      return { plan: full, size: `the requested size${blocks}, every query row` };
    const rows = sampleRows(full.seqLen, VERIFY_SAMPLED_ROWS, seed);
    return {
      plan: full,
      rows,
      size: `the requested size${blocks}; ${rows.length} sampled query rows compared exactly with the float64 reference`,
    };
  }
  const small = smallVerificationPlan(result, block);
  const why = `the ${backend.name} backend would compute ${pairs.toLocaleString('en-US')} element pairs per head at full size (limit ${VERIFY_MAX_SOFTWARE_PAIRS.toLocaleString('en-US')})`;
  if (!small) return { plan: null, size: `not run: ${why}, and the pattern rejects a smaller layout` };
  const sizes = describeSizes(small);
  return {
    plan: small,
    size: `SHRUNK to ${small.seqLen.toLocaleString('en-US')} tokens (${sizes}) from ${plan.seqLen.toLocaleString('en-US')}: ${why}`,
  };
}

function describeSizes(plan: BlockPlan): string {
  const layout = plan.pattern.layout;
  const parts = layout.videoAxes.map((axis, i) => `${axis}=${layout.videoSizes[i]}`);
  if (layout.textAxis !== null) parts.push(`${layout.textAxis}=${layout.textLength}`);
  return parts.join(', ');
}
