// Tensor-core rate of wgmma with operands in shared memory, per shared-memory layout: the question is whether
// the no-swizzle row-group layout of codegen/cuda's sm_90a kernel starves the tensor cores (bank conflicts on
// the operand reads) compared with the 128-byte swizzle. Timing only: the operands are zeros.
// 132 x 2 CTAs of two warpgroups each; every warpgroup loops `iters` times over 4 wgmma m64n128k16 (K = 64).
//   layout 0: no swizzle, 8-row x 16-byte core matrices contiguous (LBO 128 along K, SBO 1024 per 8 rows)
//   layout 1: 128-byte swizzle, rows of 64 elements at 128-byte pitch (SBO 1024), K steps of 32 bytes
//   layout 2: A from registers, B without swizzle (the P V shape of the kernel)
// Build and run: nvcc -std=c++17 -gencode=arch=compute_90a,code=sm_90a -o /tmp/rate scripts/gpu/wgmma-rate.cu && /tmp/rate
#include <cuda_runtime.h>
#include <cstdio>

#define R8(i) "+f"(d[i]), "+f"(d[i + 1]), "+f"(d[i + 2]), "+f"(d[i + 3]), "+f"(d[i + 4]), "+f"(d[i + 5]), "+f"(d[i + 6]), "+f"(d[i + 7])
#define REGS64 "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, " \
  "%22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, " \
  "%43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}"

__device__ unsigned long long desc(unsigned addr, unsigned lbo, unsigned sbo, unsigned swizzle) {
  return (static_cast<unsigned long long>((addr >> 4) & 0x3fff)) | (static_cast<unsigned long long>((lbo >> 4) & 0x3fff) << 16) |
         (static_cast<unsigned long long>((sbo >> 4) & 0x3fff) << 32) | (static_cast<unsigned long long>(swizzle) << 62);
}

__device__ void ss(float (&d)[64], unsigned long long a, unsigned long long b) {
  asm volatile("wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 " REGS64 ", %64, %65, 1, 1, 1, 0, 0;\n"
               : R8(0), R8(8), R8(16), R8(24), R8(32), R8(40), R8(48), R8(56)
               : "l"(a), "l"(b) : "memory");
}
__device__ void rs(float (&d)[64], const unsigned (&a)[4], unsigned long long b) {
  asm volatile("wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 " REGS64 ", {%64, %65, %66, %67}, %68, 1, 1, 1, 0;\n"
               : R8(0), R8(8), R8(16), R8(24), R8(32), R8(40), R8(48), R8(56)
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b) : "memory");
}

template <int kLayout>
__global__ void __launch_bounds__(256, 1) rate(int iters, float* out) {
  extern __shared__ __align__(1024) unsigned char smem[];
  for (int i = threadIdx.x; i < 49152 / 4; i += 256) reinterpret_cast<unsigned*>(smem)[i] = 0;
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
  __syncthreads();
  const unsigned base = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  const int wg = threadIdx.x / 128;
  const unsigned a0 = base + wg * 8192;  // 64 rows x 64 elements per warpgroup
  const unsigned b0 = base + 16384;      // 128 rows x 64 elements
  float d[64];
  for (int i = 0; i < 64; ++i) d[i] = 0.f;
  unsigned ar[4] = {0, 0, 0, 0};
  for (int it = 0; it < iters; ++it) {
    asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#pragma unroll
    for (int kc = 0; kc < 4; ++kc) {
      if (kLayout == 0) ss(d, desc(a0 + kc * 256, 128, 1024, 0), desc(b0 + kc * 256, 128, 1024, 0));
      if (kLayout == 1) ss(d, desc(a0 + kc * 32, 16, 1024, 1), desc(b0 + kc * 32, 16, 1024, 1));
      if (kLayout == 2) rs(d, ar, desc(b0 + kc * 256, 128, 1024, 0));
    }
    asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
    asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
  }
  float sum = 0.f;
  for (int i = 0; i < 64; ++i) sum += d[i];
  if (sum != 0.f) out[threadIdx.x] = sum;
}

template <int kLayout>
void run(const char* name) {
  const int iters = 20000, ctas = 132, smem = 49152;
  cudaFuncSetAttribute(rate<kLayout>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
  float* out;
  cudaMalloc(&out, 256 * 4);
  rate<kLayout><<<ctas, 256, smem>>>(100, out);
  cudaEvent_t t0, t1;
  cudaEventCreate(&t0), cudaEventCreate(&t1);
  cudaEventRecord(t0);
  rate<kLayout><<<ctas, 256, smem>>>(iters, out);
  cudaEventRecord(t1);
  cudaEventSynchronize(t1);
  float ms = 0;
  cudaEventElapsedTime(&ms, t0, t1);
  const double flops = 2.0 * ctas * 2 * static_cast<double>(iters) * 4 * 64 * 128 * 16;
  printf("wgmma rate, %-44s %8.3f ms  %6.1f TFLOP/s  (%s)\n", name, ms, flops / ms / 1e9, cudaGetErrorString(cudaGetLastError()));
  cudaFree(out);
}

int main() {
  run<0>("SS, no swizzle (row-group layout)");
  run<1>("SS, 128-byte swizzle");
  run<2>("RS, B no swizzle");
  return 0;
}
