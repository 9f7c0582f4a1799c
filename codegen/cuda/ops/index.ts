/**
 * The CUDA op kernels, rendered from the tables in this folder into two modules: the model kernels
 * (elementwise and fused ops of the DiT graph) and the upload / download conversions (convert-kernels.ts).
 * Both are JIT-compiled by NVRTC at run time (runtime/cuda) and by nvcc in CI
 * (test/codegen/cuda/op-kernels.test.ts).
 */

import { COPY_BLOCK } from './copy-kernels.js';
import { MODEL_HELPERS } from './helpers.js';
import { RANDOM_UNIFORM } from './init-kernels.js';
import type { OpKernelSpec } from './kernel-spec.js';
import { renderKernelModule } from './kernel-spec.js';
import { GATED_ADD, GELU_TANH, LAYER_NORM, MODULATE, MODULATION_ROWS, SILU } from './norm-kernels.js';
import {
  GATHER_ROWS,
  PATCHIFY,
  ROPE3D,
  SCATTER_ROWS,
  TIMESTEP_FEATURES,
  UNPATCHIFY,
} from './positional-kernels.js';
import { MASKED_SOFTMAX } from './softmax-kernels.js';

export {
  CONVERT_KERNELS,
  type ConvertKernelRole,
  renderConvertKernelModule,
} from './convert-kernels.js';
export type { OpKernelSpec } from './kernel-spec.js';

/** Every model kernel, by role. */
export const MODEL_KERNELS = {
  layerNorm: LAYER_NORM,
  modulate: MODULATE,
  gatedAdd: GATED_ADD,
  geluTanh: GELU_TANH,
  silu: SILU,
  modulationRows: MODULATION_ROWS,
  timestepFeatures: TIMESTEP_FEATURES,
  patchify: PATCHIFY,
  unpatchify: UNPATCHIFY,
  rope3d: ROPE3D,
  gatherRows: GATHER_ROWS,
  scatterRows: SCATTER_ROWS,
  maskedSoftmax: MASKED_SOFTMAX,
  randomUniform: RANDOM_UNIFORM,
  copyBlock: COPY_BLOCK,
} as const satisfies Record<string, OpKernelSpec>;

/** Names of the model kernels' roles. */
export type ModelKernelRole = keyof typeof MODEL_KERNELS;

/** CUDA source of the whole module (every kernel, one translation unit). */
export function renderModelKernelModule(): string {
  return renderKernelModule(
    "// The DiT graph's elementwise and fused kernels: bf16 storage, fp32 math.",
    MODEL_HELPERS,
    Object.values(MODEL_KERNELS),
  );
}
