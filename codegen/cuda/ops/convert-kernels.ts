/**
 * Element conversion kernels: host data travels as float32 and becomes bfloat16 / float16 on the device (and
 * back for downloads), rounding to nearest even like the host's `toBfloat16Bits`. Each takes
 * `(src, dst, long long n)`. Their own module, apart from the model kernels: the device loads it for its first
 * upload or download (runtime/cuda/device.ts), long before any model runs.
 */
import { inlineKernelHeaders } from '../headers.js';
import { param } from '../kernel-params.js';
import { MODEL_HELPERS } from './helpers.js';
import type { OpKernelSpec } from './kernel-spec.js';
import { renderKernelModule } from './kernel-spec.js';

/** C storage type of each element type the kernels convert between. */
const STORAGE = { f32: 'float', bf16: 'unsigned short', fp16: 'unsigned short' } as const;

/** The grid-stride kernel `tp_<from>_to_<to>(src, dst, n)` with `body` converting element i. */
function convertKernel(from: keyof typeof STORAGE, to: keyof typeof STORAGE, body: string): OpKernelSpec {
  return {
    name: `tp_${from}_to_${to}`,
    doc: `dst[i] = ${to}(src[i]) for ${from} src${from === 'f32' ? ', rounded to nearest even' : ' (exact)'}`,
    threads: 256,
    params: [param.in('src', STORAGE[from]), param.out('dst', STORAGE[to]), param.i64('n')],
    body: `  TP_GRID_LOOP(i, n) ${body}`,
  };
}

/** float32 to a 16-bit type through tessera.cuh's pair packer (round to nearest even), keeping the low half. */
function narrowing(to: 'bf16' | 'fp16'): OpKernelSpec {
  return convertKernel(
    'f32',
    to,
    `dst[i] = static_cast<unsigned short>(tp_pack_${to}(src[i], 0.f) & 0xffffu);`,
  );
}

/** The conversion kernels, by direction and 16-bit type. */
export const CONVERT_KERNELS = {
  toBfloat16: narrowing('bf16'),
  toFloat16: narrowing('fp16'),
  fromBfloat16: convertKernel(
    'bf16',
    'f32',
    'dst[i] = __uint_as_float(static_cast<unsigned>(src[i]) << 16);',
  ),
  fromFloat16: convertKernel(
    'fp16',
    'f32',
    `{
    float f;
    asm("{ .reg .b16 h; mov.b16 h, %1; cvt.f32.f16 %0, h; }" : "=f"(f) : "h"(src[i]));
    dst[i] = f;
  }`,
  ),
} as const satisfies Record<string, OpKernelSpec>;

/** Names of the conversion kernels' roles. */
export type ConvertKernelRole = keyof typeof CONVERT_KERNELS;

/** The conversion module's source: `tessera.cuh` (rounding), the model helpers (grid loop), the kernels. */
export function renderConvertKernelModule(): string {
  return renderKernelModule(
    '// float32 <-> bfloat16 / float16 conversions for uploads and downloads.',
    `${inlineKernelHeaders('#include "tessera/tessera.cuh"')}\n${MODEL_HELPERS}`,
    Object.values(CONVERT_KERNELS),
  );
}
