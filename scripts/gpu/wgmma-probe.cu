// Checks, on a Hopper GPU, the wgmma operand conventions that codegen/cuda's sm_90a kernel relies on:
//   1. S = Q K^T, m64n128k16 x 6 (K = 96): both operands from shared memory, K-major, no swizzle, in the
//      "row-group" layout offset(row, col) = (row / 8) * 16 * D + (col / 8) * 128 + (row % 8) * 16 + (col % 8) * 2,
//      LBO = 128 (next core matrix along K), SBO = 16 * D (next 8-row group); accumulator fragment layout.
//   2. O = P V, m64n96k16 x 8 (K = 128 keys): A (P) from registers in the mma.m16n8k16 A-fragment layout,
//      B (V) from shared memory in the same row-group layout read transposed (MN-major); both LBO/SBO orders
//      are tried, so the probe says which one the hardware means.
// Build and run: nvcc -std=c++17 -gencode=arch=compute_90a,code=sm_90a -o /tmp/probe scripts/gpu/wgmma-probe.cu
//                for v in 2 0 1; do /tmp/probe $v; done   (2: S only)
#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

constexpr int D = 96, M = 64, N = 128;

__device__ unsigned long long desc(const void* p, unsigned lbo, unsigned sbo) {
  const unsigned addr = static_cast<unsigned>(__cvta_generic_to_shared(p));
  return (static_cast<unsigned long long>((addr >> 4) & 0x3fff)) |
         (static_cast<unsigned long long>((lbo >> 4) & 0x3fff) << 16) |
         (static_cast<unsigned long long>((sbo >> 4) & 0x3fff) << 32);
}

__device__ int rg_offset(int row, int col, int cols) {  // elements
  return ((row / 8) * (cols / 8) * 128 + (col / 8) * 128 + (row % 8) * 16 + (col % 8) * 2) / 2;
}

#define R8(i) "+f"(d[i]), "+f"(d[i + 1]), "+f"(d[i + 2]), "+f"(d[i + 3]), "+f"(d[i + 4]), "+f"(d[i + 5]), "+f"(d[i + 6]), "+f"(d[i + 7])

__device__ void wgmma_ss_n128(float (&d)[64], unsigned long long da, unsigned long long db, int scale_d) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 "
      "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, "
      "%22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, "
      "%43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, "
      "%64, %65, p, 1, 1, 0, 0;\n}\n"
      : R8(0), R8(8), R8(16), R8(24), R8(32), R8(40), R8(48), R8(56)
      : "l"(da), "l"(db), "r"(scale_d)
      : "memory");
}

__device__ void wgmma_rs_n96(float (&d)[48], const unsigned (&a)[4], unsigned long long db) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, 1, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n96k16.f32.bf16.bf16 "
      "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, "
      "%22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, "
      "%43, %44, %45, %46, %47}, {%48, %49, %50, %51}, %52, p, 1, 1, 1;\n}\n"
      : R8(0), R8(8), R8(16), R8(24), R8(32), R8(40)
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db)
      : "memory");
}

__device__ void fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ void commit_wait() {
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
  asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
}

// One warpgroup. q [M][D], k [N][D], p [M][N], v [N][D] row-major bf16; s [M][N], o [M][D] fp32.
__global__ void probe(const __nv_bfloat16* q, const __nv_bfloat16* k, const __nv_bfloat16* pm,
                      const __nv_bfloat16* v, float* s, float* o, int v_swap) {
  extern __shared__ __align__(128) unsigned char smem[];
  __nv_bfloat16* sQ = reinterpret_cast<__nv_bfloat16*>(smem);
  __nv_bfloat16* sK = sQ + M * D;
  __nv_bfloat16* sV = sK + N * D;
  const int t = threadIdx.x, warp = t / 32, lane = t % 32;
  for (int i = t; i < M * D; i += 128) sQ[rg_offset(i / D, i % D, D)] = q[i];
  for (int i = t; i < N * D; i += 128) {
    sK[rg_offset(i / D, i % D, D)] = k[i];
    sV[rg_offset(i / D, i % D, D)] = v[i];
  }
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
  __syncthreads();

  float acc[64];
  for (int i = 0; i < 64; ++i) acc[i] = 0.f;
  fence();
  for (int kc = 0; kc < D / 16; ++kc)
    wgmma_ss_n128(acc, desc(sQ + kc * 128, 128, 16 * D), desc(sK + kc * 128, 128, 16 * D), kc > 0);
  commit_wait();
  for (int i = 0; i < 64; ++i) {
    const int row = warp * 16 + lane / 4 + 8 * ((i / 2) % 2);
    const int col = (i / 4) * 8 + (lane % 4) * 2 + (i % 2);
    s[row * N + col] = acc[i];
  }

  if (v_swap == 2) return;  // S only

  float out[48];
  for (int i = 0; i < 48; ++i) out[i] = 0.f;
  fence();
  for (int kk = 0; kk < N / 16; ++kk) {
    unsigned a[4];
    const int r = warp * 16 + lane / 4, c = kk * 16 + (lane % 4) * 2;
    const __nv_bfloat16* base = pm + r * N + c;
    auto pack = [](const __nv_bfloat16* x) {
      return static_cast<unsigned>(__bfloat16_as_ushort(x[0])) | (static_cast<unsigned>(__bfloat16_as_ushort(x[1])) << 16);
    };
    a[0] = pack(base);
    a[1] = pack(base + 8 * N);
    a[2] = pack(base + 8);
    a[3] = pack(base + 8 * N + 8);
    const __nv_bfloat16* vb = sV + kk * 2 * 8 * D;  // two 8-key row groups per k16 step
    const unsigned along_n = 128, along_k = 16 * D;
    wgmma_rs_n96(out, a, v_swap ? desc(vb, along_k, along_n) : desc(vb, along_n, along_k));
  }
  commit_wait();
  for (int i = 0; i < 48; ++i) {
    const int row = warp * 16 + lane / 4 + 8 * ((i / 2) % 2);
    const int col = (i / 4) * 8 + (lane % 4) * 2 + (i % 2);
    o[row * D + col] = out[i];
  }
}

int main(int argc, char** argv) {
  const int only = argc > 1 ? atoi(argv[1]) : -1;  // run one LBO/SBO order per process: a fault ends the context
  std::vector<__nv_bfloat16> q(M * D), k(N * D), p(M * N), v(N * D);
  std::vector<float> fq(M * D), fk(N * D), fp(M * N), fv(N * D);
  srand(7);
  auto fill = [](std::vector<__nv_bfloat16>& b, std::vector<float>& f) {
    for (size_t i = 0; i < b.size(); ++i) {
      b[i] = __float2bfloat16(static_cast<float>(rand()) / RAND_MAX * 2.f - 1.f);
      f[i] = __bfloat162float(b[i]);
    }
  };
  fill(q, fq), fill(k, fk), fill(p, fp), fill(v, fv);
  __nv_bfloat16 *dq, *dk, *dp, *dv;
  float *ds, *dout;
  cudaMalloc(&dq, M * D * 2), cudaMalloc(&dk, N * D * 2), cudaMalloc(&dp, M * N * 2), cudaMalloc(&dv, N * D * 2);
  cudaMalloc(&ds, M * N * 4), cudaMalloc(&dout, M * D * 4);
  cudaMemcpy(dq, q.data(), M * D * 2, cudaMemcpyHostToDevice);
  cudaMemcpy(dk, k.data(), N * D * 2, cudaMemcpyHostToDevice);
  cudaMemcpy(dp, p.data(), M * N * 2, cudaMemcpyHostToDevice);
  cudaMemcpy(dv, v.data(), N * D * 2, cudaMemcpyHostToDevice);
  // Far more shared memory than the operands take: a wrong stride then reads garbage, not out of bounds.
  const int smem_bytes = 200 * 1024;
  cudaFuncSetAttribute(probe, cudaFuncAttributeMaxDynamicSharedMemorySize, smem_bytes);
  for (int swap = 0; swap < 3; ++swap) {
    if (only >= 0 && swap != only) continue;
    probe<<<1, 128, smem_bytes>>>(dq, dk, dp, dv, ds, dout, swap);
    const cudaError_t e = cudaDeviceSynchronize();
    if (e != cudaSuccess) {
      printf("launch failed: %s\n", cudaGetErrorString(e));
      return 1;
    }
    std::vector<float> s(M * N), o(M * D);
    cudaMemcpy(s.data(), ds, M * N * 4, cudaMemcpyDeviceToHost);
    cudaMemcpy(o.data(), dout, M * D * 4, cudaMemcpyDeviceToHost);
    double es = 0, eo = 0;
    for (int i = 0; i < M; ++i)
      for (int j = 0; j < N; ++j) {
        double ref = 0;
        for (int x = 0; x < D; ++x) ref += static_cast<double>(fq[i * D + x]) * fk[j * D + x];
        es = fmax(es, fabs(ref - s[i * N + j]));
      }
    for (int i = 0; i < M; ++i)
      for (int j = 0; j < D; ++j) {
        double ref = 0;
        for (int x = 0; x < N; ++x) ref += static_cast<double>(fp[i * N + x]) * fv[x * D + j];
        eo = fmax(eo, fabs(ref - o[i * D + j]));
      }
    printf("wgmma probe: S = QK^T (smem K-major, LBO 128, SBO 16D) max abs err %.3g %s; O = PV (regs A, V transposed, %s) max abs err %.3g %s\n",
           es, es < 1e-3 ? "OK" : "WRONG", swap ? "LBO 16D, SBO 128" : "LBO 128, SBO 16D", eo, eo < 1e-3 ? "OK" : "WRONG");
  }
  return 0;
}
