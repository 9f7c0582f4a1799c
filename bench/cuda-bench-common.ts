/**
 * What the CUDA benchmarks share: the Open-Sora-Plan shape constants, the plans of the built-in masks at block
 * 128, a device-side random bf16 / fp16 filler and the median.
 */
import { readFileSync } from 'node:fs';
import { compileSource } from '../compiler/frontend.js';
import { buildPlan } from '../compiler/plan/build.js';
import type { BlockPlan } from '../compiler/plan/plan.js';
import { findBuiltinPattern } from '../patterns/index.js';
import type { CudaDevice, DeviceTensor } from '../runtime/cuda/index.js';

/** Heads and head dim of Open-Sora-Plan 1.2. */
export const HEADS = 24;
export const HEAD_DIM = 96;
/** Latent frame height and width (720p after the VAE and patching). */
export const H = 45;
export const W = 80;

// Random 16-bit values on the device (sum of three uniforms, about normal): generating 400 MB per operand on
// the host would take longer than the benchmark. One kernel per element type, named after it.
const RANDOM_SOURCE = `
__device__ float tp_random_value(long long i, unsigned seed) {
  unsigned h = (unsigned)i * 0x9e3779b9u ^ seed;
  float s = 0.f;
  for (int r = 0; r < 3; ++r) {
    h ^= h >> 16; h *= 0x7feb352du; h ^= h >> 15; h *= 0x846ca68bu; h ^= h >> 16;
    s += (h >> 8) * (1.0f / 16777216.0f);
  }
  return (s - 1.5f) * 2.0f;
}
extern "C" __global__ void tp_random_bf16(unsigned short* dst, long long n, unsigned seed) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    dst[i] = (unsigned short)(__float_as_uint(tp_random_value(i, seed)) >> 16);
}
extern "C" __global__ void tp_random_fp16(unsigned short* dst, long long n, unsigned seed) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(tp_random_value(i, seed)));
    dst[i] = h;
  }
}`;

/** A function filling a bfloat16 or float16 device tensor with random values from `seed` (asynchronously). */
export function randomFiller(device: CudaDevice): (t: DeviceTensor, seed: number) => void {
  const kernels = {
    bfloat16: device.loadKernel(RANDOM_SOURCE, 'tp_random_bf16', 0),
    float16: device.loadKernel(RANDOM_SOURCE, 'tp_random_fp16', 0),
  };
  return (t, seed) => {
    if (t.dtype !== 'bfloat16' && t.dtype !== 'float16')
      throw new RangeError(`randomFiller: ${t.dtype} is not a 16-bit float type`);
    const n = t.bytes / 2;
    const args = new Uint8Array(20); // (ptr, long long, unsigned): the kernel's parameter space, no tail padding
    const view = new DataView(args.buffer);
    view.setBigUint64(0, t.ptr, true);
    view.setBigInt64(8, BigInt(n), true);
    view.setUint32(16, seed, true);
    device.launch(kernels[t.dtype], [Math.min(65535, Math.ceil(n / 256)), 1, 1], 256, args);
  };
}

/** The plan of `full.tile` (globals null) or `attention-tile.tile` with `a = globals`, block 128. */
export function benchPlan(frames: number, globals: number | null): BlockPlan {
  return maskPlan(
    { t: frames, h: H, w: W },
    globals === null ? { kind: 'full' } : { kind: 'tile', a: globals },
  );
}

/** A benchmarked mask: full attention, Attention Tile a:(T-a), or sliding 3D tile windows of wt x wh x ww tiles. */
export type BenchMask =
  | { readonly kind: 'full' }
  | { readonly kind: 'tile'; readonly a: number }
  | { readonly kind: 'sliding'; readonly wt: number; readonly wh: number; readonly ww: number };

/** The mask's short name: `full`, `3:18`, `sliding 3x3x3`. */
export function maskName(mask: BenchMask, frames: number): string {
  if (mask.kind === 'full') return 'full';
  if (mask.kind === 'tile') return `${mask.a}:${frames - mask.a}`;
  return `sliding ${mask.wt}x${mask.wh}x${mask.ww}`;
}

/**
 * The block-128 plan of a mask over a latent of `grid` frames x height x width, from the built-in patterns
 * (`full.tile`, `attention-tile.tile`, `sliding-tile.tile`: 6 x 8 x 8 tiles, the layout padded to whole tiles).
 */
export function maskPlan(grid: { t: number; h: number; w: number }, mask: BenchMask): BlockPlan {
  const name = { full: 'full', tile: 'attention_tile', sliding: 'sliding_tile' }[mask.kind];
  const params: Record<string, number> =
    mask.kind === 'tile'
      ? { a: mask.a }
      : mask.kind === 'sliding'
        ? { wt: mask.wt, wh: mask.wh, ww: mask.ww }
        : {};
  const entry = findBuiltinPattern(name)!;
  const pattern = compileSource(
    { name: entry.file, text: readFileSync(entry.file, 'utf8') },
    { sizes: grid, params },
  );
  return buildPlan(pattern, 128, 128);
}

/** The median of a non-empty list. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}
