/**
 * Choosing "the best backend present" and the instance the numeric verification runs on.
 */
import { buildPlan } from '../compiler/build-plan.js';
import { instantiatePattern } from '../compiler/lower.js';
import type { BlockPlan } from '../compiler/plan.js';
import type { AttentionBackend } from '../runtime/backend.js';
import { createCpuBackend } from '../runtime/cpu/backend.js';
import type { CompileResult } from './compile.js';

/** A backend factory: resolves to null (with the reason) when its device or driver is absent. */
export interface BackendProbe {
  readonly name: string;
  create(): Promise<AttentionBackend | { unavailable: string }>;
}

/** Probes tried before the CPU, best first. GPU backends register here. */
export const GPU_PROBES: BackendProbe[] = [];

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
 * The compiled pattern itself when it is small, else the same pattern and parameters on a smaller layout
 * (the frame axis kept, other video axes cut to 6, text to 16) and blocks of at most 32, so the dense
 * oracle stays cheap while full, partial and empty blocks all still occur. Null when the pattern's own
 * `require`s reject the smaller sizes.
 */
export function smallVerificationPlan(result: CompileResult): BlockPlan | null {
  const plan = result.outputs.plan!;
  if (plan.seqLen <= VERIFY_MAX_TOKENS) return plan;
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
    return buildPlan(pattern, Math.min(plan.blockQ, 32), Math.min(plan.blockK, 32));
  } catch {
    return null;
  }
}
