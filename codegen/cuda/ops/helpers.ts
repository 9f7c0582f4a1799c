/**
 * Device helpers every model kernel shares: bf16 storage converted to and from fp32 (round to nearest even,
 * as the host's `toBfloat16Bits`), a grid-stride loop and a block-wide sum.
 */

/** The prologue of the model kernel module. */
export const MODEL_HELPERS = String.raw`typedef unsigned short bf16;
#define TP_DEVICE __device__ __forceinline__
// One element index per thread over [0, n), striding by the whole grid.
#define TP_GRID_LOOP(i, n) \
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < (n); i += (long long)gridDim.x * blockDim.x)

TP_DEVICE float tp_load(const bf16* p, long long i) { return __uint_as_float(static_cast<unsigned>(p[i]) << 16); }
TP_DEVICE bf16 tp_bf16(float x) {
  unsigned short r;
  asm("cvt.rn.bf16.f32 %0, %1;\n" : "=h"(r) : "f"(x));
  return r;
}
// Sum of 'v' over the CTA (every thread gets the total); safe to call repeatedly.
TP_DEVICE float tp_block_sum(float v) {
  __shared__ float partial[32];
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  __syncthreads();  // a previous call may still be reading 'partial'
  if ((threadIdx.x & 31) == 0) partial[threadIdx.x >> 5] = v;
  __syncthreads();
  float total = 0.f;
  for (int w = 0; w < (int)((blockDim.x + 31) >> 5); ++w) total += partial[w];
  return total;
}
`;
