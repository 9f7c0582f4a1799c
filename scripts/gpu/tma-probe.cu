// Checks, on a Hopper GPU, the TMA + wgmma conventions of codegen/cuda's sm_90a kernel with bulk tensor copies:
// a [128 keys][96] bf16 tile copied by cp.async.bulk.tensor as three 32-column boxes, each into its own slab of
// 128 rows x 64 bytes with the 64-byte swizzle, completing on an mbarrier; then
//   1. S = Q K^T (m64n128k16 x 6): Q in the no-swizzle row-group layout, K from the slabs, K-major, SBO 512;
//   2. O = P V (m64n96k16 x 8): P from registers, V from the slabs read transposed (MN-major); both LBO/SBO
//      orders (slab stride, 8-row stride) are tried.
// Build and run: nvcc -std=c++17 -gencode=arch=compute_90a,code=sm_90a -o /tmp/tma scripts/gpu/tma-probe.cu -lcuda
//                for v in 0 1; do /tmp/tma $v; done
#include <cuda.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

constexpr int D = 96, M = 64, N = 128, kSlabBytes = N * 64;

__device__ unsigned long long desc(unsigned addr, unsigned lbo, unsigned sbo, unsigned swizzle) {
  return (static_cast<unsigned long long>((addr >> 4) & 0x3fff)) | (static_cast<unsigned long long>((lbo >> 4) & 0x3fff) << 16) |
         (static_cast<unsigned long long>((sbo >> 4) & 0x3fff) << 32) | (static_cast<unsigned long long>(swizzle) << 62);
}

#define R8(i) "+f"(d[i]), "+f"(d[i + 1]), "+f"(d[i + 2]), "+f"(d[i + 3]), "+f"(d[i + 4]), "+f"(d[i + 5]), "+f"(d[i + 6]), "+f"(d[i + 7])

__device__ void ss_n128(float (&d)[64], unsigned long long a, unsigned long long b, int acc) {
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
               "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, "
               "%11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, "
               "%31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, "
               "%51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, %64, %65, p, 1, 1, 0, 0;\n}\n"
               : R8(0), R8(8), R8(16), R8(24), R8(32), R8(40), R8(48), R8(56)
               : "l"(a), "l"(b), "r"(acc) : "memory");
}
__device__ void rs_n96(float (&d)[48], const unsigned (&a)[4], unsigned long long b) {
  asm volatile("wgmma.mma_async.sync.aligned.m64n96k16.f32.bf16.bf16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, "
               "%11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, "
               "%31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47}, "
               "{%48, %49, %50, %51}, %52, 1, 1, 1, 1;\n"
               : R8(0), R8(8), R8(16), R8(24), R8(32), R8(40)
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b) : "memory");
}

__global__ void probe(const __grid_constant__ CUtensorMap tk, const __grid_constant__ CUtensorMap tv,
                      const __nv_bfloat16* q, const __nv_bfloat16* pm, float* s, float* o, int v_swap) {
  extern __shared__ __align__(1024) unsigned char smem[];
  unsigned char* sK = smem;                       // 3 slabs, 8 KB each, 1024-aligned
  unsigned char* sV = smem + 3 * kSlabBytes;
  __nv_bfloat16* sQ = reinterpret_cast<__nv_bfloat16*>(smem + 6 * kSlabBytes);  // row-group layout, stride 128
  __shared__ __align__(8) unsigned long long bar;
  const int t = threadIdx.x, warp = t / 32, lane = t % 32;
  const unsigned bar_addr = static_cast<unsigned>(__cvta_generic_to_shared(&bar));
  for (int i = t; i < M * D; i += 128) {
    const int row = i / D, col = i % D;
    sQ[((row / 8) * (D / 8) * 128 + (col / 8) * 128 + (row % 8) * 16 + (col % 8) * 2) / 2] = q[i];
  }
  if (t == 0) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;\n" ::"r"(bar_addr));
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  }
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
  __syncthreads();
  if (t == 0) {
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar_addr), "r"(6 * kSlabBytes) : "memory");
    for (int slab = 0; slab < 3; ++slab) {
      const unsigned dk = static_cast<unsigned>(__cvta_generic_to_shared(sK + slab * kSlabBytes));
      const unsigned dv = static_cast<unsigned>(__cvta_generic_to_shared(sV + slab * kSlabBytes));
      asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];\n"
                   ::"r"(dk), "l"(reinterpret_cast<unsigned long long>(&tk)), "r"(slab * 32), "r"(0), "r"(bar_addr) : "memory");
      asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];\n"
                   ::"r"(dv), "l"(reinterpret_cast<unsigned long long>(&tv)), "r"(slab * 32), "r"(0), "r"(bar_addr) : "memory");
    }
  }
  asm volatile("{\n.reg .pred done;\nwait:\nmbarrier.try_wait.parity.shared::cta.b64 done, [%0], 0;\n@!done bra wait;\n}\n" ::"r"(bar_addr) : "memory");

  const unsigned q_addr = static_cast<unsigned>(__cvta_generic_to_shared(sQ));
  const unsigned k_addr = static_cast<unsigned>(__cvta_generic_to_shared(sK));
  const unsigned v_addr = static_cast<unsigned>(__cvta_generic_to_shared(sV));
  float acc[64];
  for (int i = 0; i < 64; ++i) acc[i] = 0.f;
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#pragma unroll
  for (int kc = 0; kc < D / 16; ++kc)
    ss_n128(acc, desc(q_addr + kc * 256, 128, 16 * D, 0), desc(k_addr + (kc / 2) * kSlabBytes + (kc % 2) * 32, 16, 512, 2), kc > 0);
  asm volatile("wgmma.commit_group.sync.aligned;\nwgmma.wait_group.sync.aligned 0;\n" ::: "memory");
  for (int i = 0; i < 64; ++i) {
    const int row = warp * 16 + lane / 4 + 8 * ((i / 2) % 2), col = (i / 4) * 8 + (lane % 4) * 2 + (i % 2);
    s[row * N + col] = acc[i];
  }
  float out[48];
  for (int i = 0; i < 48; ++i) out[i] = 0.f;
  unsigned a[N / 16][4];
  auto pack = [](const __nv_bfloat16* x) {
    return static_cast<unsigned>(__bfloat16_as_ushort(x[0])) | (static_cast<unsigned>(__bfloat16_as_ushort(x[1])) << 16);
  };
  for (int kk = 0; kk < N / 16; ++kk) {
    const __nv_bfloat16* base = pm + (warp * 16 + lane / 4) * N + kk * 16 + (lane % 4) * 2;
    a[kk][0] = pack(base), a[kk][1] = pack(base + 8 * N), a[kk][2] = pack(base + 8), a[kk][3] = pack(base + 8 * N + 8);
  }
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#pragma unroll
  for (int kk = 0; kk < N / 16; ++kk)
    rs_n96(out, a[kk], v_swap ? desc(v_addr + kk * 1024, 512, kSlabBytes, 2) : desc(v_addr + kk * 1024, kSlabBytes, 512, 2));
  asm volatile("wgmma.commit_group.sync.aligned;\nwgmma.wait_group.sync.aligned 0;\n" ::: "memory");
  for (int i = 0; i < 48; ++i) {
    const int row = warp * 16 + lane / 4 + 8 * ((i / 2) % 2), col = (i / 4) * 8 + (lane % 4) * 2 + (i % 2);
    o[row * D + col] = out[i];
  }
}

int main(int argc, char** argv) {
  const int swap = argc > 1 ? atoi(argv[1]) : 0;
  std::vector<__nv_bfloat16> q(M * D), k(N * D), p(M * N), v(N * D);
  std::vector<float> fq(M * D), fk(N * D), fp(M * N), fv(N * D);
  srand(7);
  auto fill = [](std::vector<__nv_bfloat16>& b, std::vector<float>& f) {
    for (size_t i = 0; i < b.size(); ++i) f[i] = __bfloat162float(b[i] = __float2bfloat16(rand() / float(RAND_MAX) * 2.f - 1.f));
  };
  fill(q, fq), fill(k, fk), fill(p, fp), fill(v, fv);
  void *dq, *dk, *dp, *dv, *ds, *dout;
  cudaMalloc(&dq, M * D * 2), cudaMalloc(&dk, N * D * 2), cudaMalloc(&dp, M * N * 2), cudaMalloc(&dv, N * D * 2);
  cudaMalloc(&ds, M * N * 4), cudaMalloc(&dout, M * D * 4);
  cudaMemcpy(dq, q.data(), M * D * 2, cudaMemcpyHostToDevice), cudaMemcpy(dk, k.data(), N * D * 2, cudaMemcpyHostToDevice);
  cudaMemcpy(dp, p.data(), M * N * 2, cudaMemcpyHostToDevice), cudaMemcpy(dv, v.data(), N * D * 2, cudaMemcpyHostToDevice);
  CUtensorMap tk, tv;
  cuuint64_t dims[2] = {D, N}, strides[1] = {D * 2};
  cuuint32_t box[2] = {32, N}, estr[2] = {1, 1};
  for (auto [map, ptr] : {std::pair{&tk, dk}, std::pair{&tv, dv}}) {
    CUresult r = cuTensorMapEncodeTiled(map, CU_TENSOR_MAP_DATA_TYPE_UINT16, 2, ptr, dims, strides, box, estr,
                                        CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_64B,
                                        CU_TENSOR_MAP_L2_PROMOTION_L2_128B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
    if (r != CUDA_SUCCESS) { printf("cuTensorMapEncodeTiled failed: %d\n", r); return 1; }
  }
  const int smem = 6 * kSlabBytes + M * D * 2;
  cudaFuncSetAttribute(probe, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
  probe<<<1, 128, smem>>>(tk, tv, (const __nv_bfloat16*)dq, (const __nv_bfloat16*)dp, (float*)ds, (float*)dout, swap);
  cudaError_t e = cudaDeviceSynchronize();
  if (e != cudaSuccess) { printf("tma probe (V order %d): launch failed: %s\n", swap, cudaGetErrorString(e)); return 1; }
  std::vector<float> s(M * N), o(M * D);
  cudaMemcpy(s.data(), ds, M * N * 4, cudaMemcpyDeviceToHost), cudaMemcpy(o.data(), dout, M * D * 4, cudaMemcpyDeviceToHost);
  double es = 0, eo = 0;
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      double ref = 0;
      for (int x = 0; x < D; ++x) ref += double(fq[i * D + x]) * fk[j * D + x];
      es = fmax(es, fabs(ref - s[i * N + j]));
    }
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < D; ++j) {
      double ref = 0;
      for (int x = 0; x < N; ++x) ref += double(fp[i * N + x]) * fv[x * D + j];
      eo = fmax(eo, fabs(ref - o[i * D + j]));
    }
  printf("tma probe: S (K via TMA, 64B swizzle, SBO 512) err %.3g %s; O (V via TMA, %s) err %.3g %s\n", es,
         es < 1e-3 ? "OK" : "WRONG", swap ? "LBO 512, SBO slab" : "LBO slab, SBO 512", eo, eo < 1e-3 ? "OK" : "WRONG");
  return 0;
}
