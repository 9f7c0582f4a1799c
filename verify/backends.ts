/**
 * Choosing "the best backend present" and the instance the numeric verification runs on.
 */

import { instantiatePattern } from '../compiler/lower.js';
import type { CompileResult } from '../compiler/pipeline.js';
import { buildPlan } from '../compiler/plan/build.js';
import type { BlockPlan } from '../compiler/plan/plan.js';
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
