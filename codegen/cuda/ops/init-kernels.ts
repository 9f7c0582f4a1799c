/**
 * Filling bf16 buffers: seeded uniform values made on the device (a benchmark of the full-size model then
 * needs no multi-gigabyte checkpoint; counter-based, a hash of seed and element index, so the values do not
 * depend on the launch shape). Host fp32 data is rounded to bf16 by the conversion kernels (convert-kernels.ts).
 */
import { param } from '../kernel-params.js';
import type { OpKernelSpec } from './kernel-spec.js';

/** out[i] = low + (high - low) * u(seed, i), u uniform in [0, 1). */
export const RANDOM_UNIFORM: OpKernelSpec = {
  name: 'tp_random_uniform',
  doc: 'out[i] = low + (high - low) * u, u = hash(seed, i) / 2^32 (splitmix64 finaliser)',
  threads: 256,
  params: [param.out('out'), param.i64('total'), param.i64('seed'), param.f32('low'), param.f32('high')],
  body: `  TP_GRID_LOOP(i, total) {
    unsigned long long z = (unsigned long long)seed * 0x9e3779b97f4a7c15ull + (unsigned long long)i;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    const float u = (float)(unsigned)(z >> 32) * 2.3283064365386963e-10f;
    out[i] = tp_bf16(low + (high - low) * u);
  }`,
};
