/**
 * Relative-error bounds ||out - ref|| / ||ref|| against the float64 CPU reference, one per input dtype
 * (SPEC §4). Each bound sits well above what correct kernels reach and well below what a wrong block, a
 * missed mask or a lost softmax rescale produce (those give errors of order 1e-1 and more).
 */
import type { KernelDtype } from '../runtime/attention-backend.js';

/** Bound per dtype, with the reason. */
export const TOLERANCE: Readonly<Record<KernelDtype, number>> = {
  // Reordered float64 sums: rounding of order 1e-15 per step.
  float64: 1e-10,
  // float32 accumulation over a few thousand keys stays near 1e-6; SPEC asks for "far under 1e-3".
  float32: 1e-4,
  // 11-bit mantissa inputs: about 5e-4 relative per element, larger with P rounded to half before P V.
  float16: 1e-2,
  // 8-bit mantissa inputs: about 4e-3 relative per element; SPEC's bf16 bound.
  bfloat16: 1e-2,
};
