/**
 * Shared pieces of the WebGPU kernel tests: the backend (a missing adapter fails under CI=true and skips
 * elsewhere), random operands that are never zero, the error measure and the tolerance table.
 */
import { elementMask } from '../../../compiler/classify/element-mask.js';
import type { BlockPlan } from '../../../compiler/plan/plan.js';
import type { AttentionLayout } from '../../../core/tensor.js';
import { denseAttention } from '../../../runtime/cpu/attention.js';
import type { WebGpuBackend } from '../../../runtime/webgpu/backend.js';
import { createNodeWebGpuBackend } from '../../../runtime/webgpu/node-gpu.js';

export { relativeError } from '../../../core/error-metrics.js';

/**
 * The backend, or null when this machine has no adapter. Under CI a missing adapter is a failure: the CI
 * machine is provisioned with Mesa (.ci/mesa-packages.txt), so a skip there would hide a broken setup.
 */
export async function openTestBackend(): Promise<WebGpuBackend | null> {
  try {
    return await createNodeWebGpuBackend();
  } catch (error) {
    if (process.env.CI === 'true' || process.env.CI === '1') throw error;
    console.warn(`WebGPU kernel tests skipped: ${(error as Error).message}`);
    return null;
  }
}

/**
 * Relative-error bounds ||out - ref|| / ||ref|| against the float64 oracle, per I/O type (SPEC §4).
 * f32: accumulation in f32 over at most a few hundred keys loses ~1e-6; 1e-4 is "far under 1e-3".
 * f16: inputs and outputs rounded to 11 significant bits (~5e-4 each); 1e-2 is the spec's bound.
 */
export const TOLERANCE = { f32: 1e-4, f16: 1e-2 } as const;

/** Deterministic uniform values in [-1, -0.05] U [0.05, 1]: random, and never zero. */
export function randomOperand(length: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    const magnitude = 0.05 + 0.95 * ((s >>> 1) / 2 ** 31);
    out[i] = s & 1 ? -magnitude : magnitude;
  }
  return out;
}

/** Shape of one kernel run. */
export interface RunShape {
  readonly batch: number;
  readonly heads: number;
  readonly headDim: number;
  readonly layout: AttentionLayout;
}

/** Operands and the float64 oracle of `plan`'s pattern for one shape. */
export function oracleCase(plan: BlockPlan, shape: RunShape, seed: number) {
  const n = shape.batch * plan.seqLen * shape.heads * shape.headDim;
  const q = randomOperand(n, seed);
  const k = randomOperand(n, seed + 1);
  const v = randomOperand(n, seed + 2);
  const ref = denseAttention({ q, k, v, ...shape, seqLen: plan.seqLen }, elementMask(plan.pattern));
  return { q, k, v, ref };
}

/** Where the GPU's lse disagrees with the oracle's: -inf exactly where the oracle has -inf, close elsewhere. */
export function lseMismatch(got: Float32Array, ref: ArrayLike<number>, tolerance: number): string | null {
  for (let i = 0; i < ref.length; i++) {
    const r = ref[i]!;
    const g = got[i]!;
    if (
      r === Number.NEGATIVE_INFINITY ? g !== r : !(Math.abs(g - r) <= tolerance * Math.max(1, Math.abs(r)))
    ) {
      return `lse[${i}] = ${g}, expected ${r}`;
    }
  }
  return null;
}
