/**
 * The softmax of cross-attention: scores [rows, stride] (fp32, already scaled, from a cuBLASLt GEMM) to
 * probabilities (bf16, for the second GEMM) under a per-key mask, one warp per row. Keys past `length` (the
 * GEMM's row padding to a 16-byte stride) and masked keys get probability 0. A row with no real key attends over
 * all `length` keys, as the CPU op defines it (Open-Sora-Plan adds -10000 to every score of such a row, which
 * softmax ignores).
 */
import { param } from '../kernel-params.js';
import type { OpKernelSpec } from './kernel-spec.js';

/** Masked row softmax, one warp per row. */
export const MASKED_SOFTMAX: OpKernelSpec = {
  name: 'tp_masked_softmax',
  doc: 'probs[r, l] = softmax over real keys of scores[r, :] (0 for masked keys and l >= length; all keys if none is real)',
  threads: 256,
  params: [
    param.in('scores', 'float'),
    param.out('probs'),
    param.in('key_mask', 'unsigned char'),
    param.i64('rows'),
    param.i32('length'),
    param.i32('stride'),
  ],
  body: `  const long long row = blockIdx.x * (long long)(blockDim.x >> 5) + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  if (row >= rows) return;
  const float* s = scores + row * stride;
  bf16* p = probs + row * stride;
  int real = 0;
  for (int l = lane; l < length; l += 32) real |= key_mask[l];
  const bool all = !__any_sync(0xffffffffu, real);  // no real key: every key counts
  float best = __int_as_float(0xff800000);  // -inf (NVRTC has no math.h INFINITY)
  for (int l = lane; l < length; l += 32)
    if (all || key_mask[l]) best = fmaxf(best, s[l]);
  for (int o = 16; o > 0; o >>= 1) best = fmaxf(best, __shfl_xor_sync(0xffffffffu, best, o));
  float sum = 0.f;
  for (int l = lane; l < length; l += 32)
    if (all || key_mask[l]) sum += expf(s[l] - best);
  for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
  const float inv = sum > 0.f ? 1.f / sum : 0.f;
  for (int l = lane; l < stride; l += 32)
    p[l] = tp_bf16(l < length && (all || key_mask[l]) ? expf(s[l] - best) * inv : 0.f);`,
};
