// wgmma.cuh: the Hopper (sm_90a) instructions of the attention kernel: shared-memory matrix descriptors,
// mbarriers, bulk tensor copies (TMA), the warpgroup fences and the wgmma.mma_async products.
//
// Only for sm_90a (`-gencode=arch=compute_90a,code=sm_90a`, or NVRTC's --gpu-architecture=sm_90a): wgmma does not
// exist on other targets. Conventions, checked on an H100 by scripts/gpu/wgmma-probe.cu and tma-probe.cu:
// - Q in shared memory uses the no-swizzle "row-group" layout: 8-row x 16-byte core matrices, each 128
//   contiguous bytes, the kHeadDim / 8 core matrices of an 8-row group side by side kCoreStride bytes apart,
//   groups one after another: byte offset (row, col) = (row / 8) * kGroupBytes + (col / 8) * kCoreStride
//   + (row % 8) * 16 + (col % 8) * 2 with kGroupBytes = kCoreStride * D / 8. The probe used kCoreStride = 128;
//   the kernel uses 144, so that the chunks of one row land in different banks when a warp copies a row.
// - Without swizzle, a descriptor's leading byte offset (LBO) is the step between core matrices along K and its
//   stride byte offset (SBO) the step along M or N, for K-major and MN-major (transposed) operands alike.
// - K and V tiles are slabs of 32 columns x kTileK rows of 64 bytes with the 64-byte swizzle (as the tensor
//   copies write them): K (K-major) takes SBO = 512 (8 rows) and steps 32 bytes per 16 columns inside a slab;
//   V (MN-major, read transposed) takes LBO = the slab size (next 32 columns of N) and SBO = 512.
// - Accumulators: a thread of warp w (of the warpgroup) holds, in register i, row 16 w + lane / 4 + 8 ((i / 2) % 2)
//   and column 8 (i / 4) + 2 (lane % 4) + i % 2, the mma.m16n8 layout repeated along N; register A operands use
//   the mma.m16n8k16 A-fragment layout, so S repacks into P without leaving registers.
#pragma once
#include "tessera.cuh"

// Shared-memory matrix descriptor: start address, LBO (step along K) and SBO (step along M/N), each in 16-byte
// units, and the layout type (0: no swizzle).
TP_DEVICE unsigned long long tp_desc(unsigned addr, unsigned lbo, unsigned sbo, unsigned swizzle = 0) {
  return static_cast<unsigned long long>((addr >> 4) & 0x3fffu) |
         (static_cast<unsigned long long>((lbo >> 4) & 0x3fffu) << 16) |
         (static_cast<unsigned long long>((sbo >> 4) & 0x3fffu) << 32) |
         (static_cast<unsigned long long>(swizzle) << 62);
}
constexpr unsigned kSwizzle64 = 2;  // descriptor layout type of the 64-byte swizzle

// mbarriers: a stage's "tile landed" barrier, completed by the bulk copies' byte count.
TP_DEVICE void tp_mbar_init(unsigned bar, int count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
}
TP_DEVICE void tp_mbar_expect_bytes(unsigned bar, unsigned bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}
TP_DEVICE void tp_mbar_wait(unsigned bar, unsigned parity) {
  asm volatile(
      "{\n.reg .pred done;\nTP_WAIT:\nmbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n@!done bra TP_WAIT;\n}\n" ::"r"(bar),
      "r"(parity)
      : "memory");
}
// A 4-d box of the tensor map into shared memory, counted on mbarrier `bar`.
TP_DEVICE void tp_tma_load_4d(unsigned dst, const TpTensorMap* map, int c0, int c1, int c2, int c3, unsigned bar) {
  asm volatile(
      "cp.async.bulk.tensor.4d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3, %4, %5}], [%6];\n" ::"r"(dst),
      "l"(reinterpret_cast<unsigned long long>(map)), "r"(c0), "r"(c1), "r"(c2), "r"(c3), "r"(bar)
      : "memory");
}
// Orders this thread's register and shared-memory accesses before the wgmma that follow.
TP_DEVICE void tp_wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
TP_DEVICE void tp_wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
TP_DEVICE void tp_wgmma_wait_all() { asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory"); }
// All but the most recent group done.
TP_DEVICE void tp_wgmma_wait_1() { asm volatile("wgmma.wait_group.sync.aligned 1;\n" ::: "memory"); }
// Pins accumulator registers after a wait: without it the compiler may read them before the wgmma land.
template <int N> TP_DEVICE void tp_fence_regs(float (&d)[N]) {
#pragma unroll
  for (int i = 0; i < N; ++i) asm volatile("" : "+f"(d[i])::"memory");
}
// The same for 16-bit A operands that an in-flight wgmma reads: they stay live (unreused) until here.
template <int M> TP_DEVICE void tp_fence_regs(unsigned (&a)[M][4]) {
#pragma unroll
  for (int i = 0; i < M; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) asm volatile("" : "+r"(a[i][j])::"memory");
}
// Shared memory written through the generic proxy (cp.async) is read next by wgmma (the async proxy).
TP_DEVICE void tp_fence_proxy_async() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }
// Barrier over `threads` threads (one warpgroup) with its own id, so warpgroups do not wait on each other.
TP_DEVICE void tp_bar_sync(int id, int threads) { asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(threads) : "memory"); }

// ---- wgmma.mma_async m64 x N x 16 with fp32 accumulators, for element type T (TpBf16, TpFp16) --------------
// An asm statement names every accumulator register, so the wrappers for N = 64, 96 and 128 are spelled out
// below by macros: N / 2 accumulators per thread, then the operands.
template <int N, class T>
struct TpWgmma;

#define TP_WGMMA_R0_15 "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15"
#define TP_WGMMA_R16_31 "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31"
#define TP_WGMMA_R32_47 "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47"
#define TP_WGMMA_R48_63 "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"
#define TP_WGMMA_ACC16(c, i)                                                                                \
  c(d[i]), c(d[i + 1]), c(d[i + 2]), c(d[i + 3]), c(d[i + 4]), c(d[i + 5]), c(d[i + 6]), c(d[i + 7]), c(d[i + 8]), \
      c(d[i + 9]), c(d[i + 10]), c(d[i + 11]), c(d[i + 12]), c(d[i + 13]), c(d[i + 14]), c(d[i + 15])
#define TP_WGMMA_ACC32(c) TP_WGMMA_ACC16(c, 0), TP_WGMMA_ACC16(c, 16)
#define TP_WGMMA_ACC48(c) TP_WGMMA_ACC32(c), TP_WGMMA_ACC16(c, 32)
#define TP_WGMMA_ACC64(c) TP_WGMMA_ACC48(c), TP_WGMMA_ACC16(c, 48)

// ss_first: S = A B (scale-d 0: the accumulators are pure outputs, so they do not stay live between tiles);
// ss: S += A B, both operands in shared memory (K-major); rs: O += A B with A (P) from registers and B (V)
// read transposed (MN-major) from shared memory.
#define TP_WGMMA_SHAPE(N, T, PTX_T, REGS, ACC, SS_OPERANDS, RS_OPERANDS)                                      \
  template <>                                                                                                 \
  struct TpWgmma<N, T> {                                                                                      \
    static TP_DEVICE void ss_first(float (&d)[N / 2], unsigned long long desc_a, unsigned long long desc_b) { \
      asm volatile("wgmma.mma_async.sync.aligned.m64n" #N "k16.f32." PTX_T "." PTX_T " "                      \
                   "{" REGS "}, " SS_OPERANDS ", 0, 1, 1, 0, 0;\n"                                           \
                   : ACC("=f")                                                                                \
                   : "l"(desc_a), "l"(desc_b)                                                                 \
                   : "memory");                                                                               \
    }                                                                                                         \
    static TP_DEVICE void ss(float (&d)[N / 2], unsigned long long desc_a, unsigned long long desc_b) {       \
      asm volatile("wgmma.mma_async.sync.aligned.m64n" #N "k16.f32." PTX_T "." PTX_T " "                      \
                   "{" REGS "}, " SS_OPERANDS ", 1, 1, 1, 0, 0;\n"                                           \
                   : ACC("+f")                                                                                \
                   : "l"(desc_a), "l"(desc_b)                                                                 \
                   : "memory");                                                                               \
    }                                                                                                         \
    static TP_DEVICE void rs(float (&d)[N / 2], const unsigned (&a)[4], unsigned long long desc_b) {          \
      asm volatile("wgmma.mma_async.sync.aligned.m64n" #N "k16.f32." PTX_T "." PTX_T " "                      \
                   "{" REGS "}, " RS_OPERANDS ", 1, 1, 1, 1;\n"                                              \
                   : ACC("+f")                                                                                \
                   : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b)                                  \
                   : "memory");                                                                               \
    }                                                                                                         \
  };

#define TP_WGMMA_SHAPES(T, PTX_T)                                                                             \
  TP_WGMMA_SHAPE(64, T, PTX_T, TP_WGMMA_R0_15 ", " TP_WGMMA_R16_31, TP_WGMMA_ACC32, "%32, %33",               \
                 "{%32, %33, %34, %35}, %36")                                                                 \
  TP_WGMMA_SHAPE(96, T, PTX_T, TP_WGMMA_R0_15 ", " TP_WGMMA_R16_31 ", " TP_WGMMA_R32_47, TP_WGMMA_ACC48,      \
                 "%48, %49", "{%48, %49, %50, %51}, %52")                                                     \
  TP_WGMMA_SHAPE(128, T, PTX_T, TP_WGMMA_R0_15 ", " TP_WGMMA_R16_31 ", " TP_WGMMA_R32_47 ", " TP_WGMMA_R48_63, \
                 TP_WGMMA_ACC64, "%64, %65", "{%64, %65, %66, %67}, %68")

TP_WGMMA_SHAPES(TpBf16, "bf16")
TP_WGMMA_SHAPES(TpFp16, "f16")
