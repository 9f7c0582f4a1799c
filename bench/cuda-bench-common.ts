/**
 * What the CUDA benchmarks share: the Open-Sora-Plan shape constants, the plans of the built-in masks at block
 * 128, a device-side random bf16 filler and the median.
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

// Random bf16 values on the device (sum of three uniforms, about normal): generating 400 MB per operand on
// the host would take longer than the benchmark.
const RANDOM_SOURCE = `
extern "C" __global__ void tp_random_bf16(unsigned short* dst, long long n, unsigned seed) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    unsigned h = (unsigned)i * 0x9e3779b9u ^ seed;
    float s = 0.f;
    for (int r = 0; r < 3; ++r) {
      h ^= h >> 16; h *= 0x7feb352du; h ^= h >> 15; h *= 0x846ca68bu; h ^= h >> 16;
      s += (h >> 8) * (1.0f / 16777216.0f);
    }
    const float x = (s - 1.5f) * 2.0f;
    dst[i] = (unsigned short)(__float_as_uint(x) >> 16);
  }
}`;

/** A function filling a bf16 device tensor with random values from `seed` (asynchronously). */
export function randomFiller(device: CudaDevice): (t: DeviceTensor, seed: number) => void {
  const random = device.loadKernel(RANDOM_SOURCE, 'tp_random_bf16', 0);
  return (t, seed) => {
    const n = t.bytes / 2;
    const args = new Uint8Array(20); // (ptr, long long, unsigned): the kernel's parameter space, no tail padding
    const view = new DataView(args.buffer);
    view.setBigUint64(0, t.ptr, true);
    view.setBigInt64(8, BigInt(n), true);
    view.setUint32(16, seed, true);
    device.launch(random, [Math.min(65535, Math.ceil(n / 256)), 1, 1], 256, args);
  };
}

/** The plan of `full.tile` (globals null) or `attention-tile.tile` with `a = globals`, block 128. */
export function benchPlan(frames: number, globals: number | null): BlockPlan {
  const entry = findBuiltinPattern(globals === null ? 'full' : 'attention_tile')!;
  const pattern = compileSource(
    { name: entry.file, text: readFileSync(entry.file, 'utf8') },
    { sizes: { t: frames, h: H, w: W }, params: globals === null ? {} : { a: globals } },
  );
  return buildPlan(pattern, 128, 128);
}

/** The median of a non-empty list. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}
