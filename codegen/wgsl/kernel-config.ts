/**
 * The frozen options of one WGSL attention kernel, validated once against the plan and the device limits.
 * Every number the shader hard-codes (head dim, tile of staged keys, workgroup size) is decided here, so the
 * renderer only spells them and the runtime only reads them.
 */

import type { BlockPlan } from '../../compiler/plan/plan.js';
import { planError } from '../common/diagnostics.js';

/** Element type of Q, K, V and the output in GPU memory (arithmetic is always f32). */
export type WgslIoType = 'f32' | 'f16';

/** How a kernel finds the key blocks of a query block. */
export type WgslEnumeration = 'csr' | 'closed-form';

/** What the caller chooses. */
export interface WgslKernelOptions {
  /** Head dimension, a multiple of 8 in [32, 128]; a compile-time constant of the shader. */
  readonly headDim: number;
  /** Default `f32`; `f16` needs the adapter feature `shader-f16`. */
  readonly io?: WgslIoType;
  /** Default false; true needs the adapter feature `subgroups` (each query row is split over 4 lanes). */
  readonly subgroups?: boolean;
  /** Default: `closed-form` when the plan has one, else `csr`. */
  readonly enumeration?: WgslEnumeration;
}

/** The device limits a kernel must fit in (the values requested at device creation). */
export interface WgslDeviceLimits {
  readonly maxComputeWorkgroupStorageSize: number;
  readonly maxComputeInvocationsPerWorkgroup: number;
  readonly maxComputeWorkgroupSizeX: number;
  /**
   * Loop iterations one invocation may execute before the device's shader compiler cuts every loop short
   * (Mesa llvmpipe/lavapipe: `GALLIVM_LOOP_BUDGET`, see loop-budget.ts); absent where loops are unbounded.
   * WebGPU reports no such limit: the runtime infers it from the adapter and splits calls to fit it
   * (`dispatchVisitRanges`); the shader itself does not depend on it.
   */
  readonly maxLoopIterations?: number;
}

/** Limits every WebGPU device guarantees, compatibility mode included: what `renderWgslModule` assumes by default. */
export const PORTABLE_LIMITS: WgslDeviceLimits = {
  maxComputeWorkgroupStorageSize: 16384,
  maxComputeInvocationsPerWorkgroup: 128,
  maxComputeWorkgroupSizeX: 128,
};

/** Everything the renderer needs, resolved. */
export interface WgslKernelConfig {
  readonly headDim: number;
  readonly io: WgslIoType;
  readonly subgroups: boolean;
  readonly enumeration: WgslEnumeration;
  /** Invocations that share one query row (4 with subgroups: each owns headDim / 4 dimensions). */
  readonly lanesPerRow: number;
  /** Keys staged in workgroup memory at a time. */
  readonly keyTile: number;
  readonly workgroupSize: number;
  /** Bytes of workgroup memory the kernel declares. */
  readonly workgroupBytes: number;
}

/** Lanes per query row in the subgroup variant: WebGPU guarantees subgroups of at least 4 invocations. */
const SUBGROUP_LANES = 4;

/** Workgroup bytes for a key tile: K and V tiles in f32 plus the decoded key tokens (one i32 per field). */
function workgroupBytesFor(plan: BlockPlan, headDim: number, keyTile: number): number {
  const tokenFields = 1 + plan.pattern.layout.axisNames.length;
  return keyTile * (2 * headDim + tokenFields) * 4;
}

/**
 * Resolve and validate the options of one kernel for `plan` within `limits`. Throws a `TesseraError` (TP4xx)
 * the user can act on when the head dim, block size or enumeration cannot be honoured.
 */
export function resolveKernelConfig(
  plan: BlockPlan,
  options: WgslKernelOptions,
  limits: WgslDeviceLimits = PORTABLE_LIMITS,
): WgslKernelConfig {
  const { headDim } = options;
  if (!Number.isInteger(headDim) || headDim < 32 || headDim > 128 || headDim % 8 !== 0) {
    throw planError(
      plan,
      'TP401',
      `head dim ${headDim} is not supported by the WGSL kernel`,
      'use a multiple of 8 from 32 to 128',
    );
  }
  const enumeration = options.enumeration ?? (plan.closedForm ? 'closed-form' : 'csr');
  if (enumeration === 'closed-form' && !plan.closedForm) {
    throw planError(
      plan,
      'TP402',
      'the plan has no closed form',
      "use enumeration 'csr' (the CSR tables always work)",
    );
  }
  const subgroups = options.subgroups ?? false;
  const lanesPerRow = subgroups ? SUBGROUP_LANES : 1;
  const workgroupSize = plan.blockQ * lanesPerRow;
  const maxSize = Math.min(limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX);
  if (workgroupSize > maxSize) {
    throw planError(
      plan,
      'TP403',
      `query block ${plan.blockQ} needs ${workgroupSize} invocations per workgroup, the device allows ${maxSize}`,
      `compile with a query block of at most ${Math.floor(maxSize / lanesPerRow)} tokens`,
    );
  }
  // The largest power-of-two key tile (at most 64 keys, at most the key block) that fits the device.
  let keyTile = 64;
  while (
    keyTile > 1 &&
    (keyTile > plan.blockK ||
      workgroupBytesFor(plan, headDim, keyTile) > limits.maxComputeWorkgroupStorageSize)
  ) {
    keyTile /= 2;
  }
  const workgroupBytes = workgroupBytesFor(plan, headDim, keyTile);
  if (workgroupBytes > limits.maxComputeWorkgroupStorageSize) {
    throw planError(
      plan,
      'TP404',
      `head dim ${headDim} does not fit in ${limits.maxComputeWorkgroupStorageSize} bytes of workgroup memory`,
      'use a smaller head dim',
    );
  }
  return {
    headDim,
    io: options.io ?? 'f32',
    subgroups,
    enumeration,
    lanesPerRow,
    keyTile,
    workgroupSize,
    workgroupBytes,
  };
}

/** A short stable tag of a config for file names and cache keys, e.g. `d64_f32_csr` or `d128_f16_sg_closed`. */
export function configTag(config: WgslKernelConfig): string {
  const parts = [`d${config.headDim}`, config.io];
  if (config.subgroups) parts.push('sg');
  parts.push(config.enumeration === 'csr' ? 'csr' : 'closed');
  parts.push(`kt${config.keyTile}`);
  return parts.join('_');
}
