// tessera.cuh: the device helpers every tessera CUDA kernel shares.
//
// Self-contained on purpose: no CUDA header is included, so NVRTC compiles the kernels with no include path.
// Half-precision values travel as raw 16-bit patterns (`unsigned short`, pairs in `unsigned`), so neither
// cuda_fp16.h nor cuda_bf16.h is needed; TpBf16 and TpFp16 name the element type of a kernel instance.
//
// The plain C++ part (integer helpers, constants, the CTA order, the tensor-map struct) also compiles with a
// host compiler: the tests run it on the CPU against its TypeScript twins. The device part is for nvcc
// (__CUDACC__) and NVRTC (__CUDACC_RTC__) only.
#pragma once

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define TP_DEVICE __device__ __forceinline__
#else
#define TP_DEVICE inline
#endif

// Floor division and modulo with the pattern IR's semantics (compiler/ir.ts): floor, and x / 0 == x % 0 == 0.
TP_DEVICE int tp_floordiv(int a, int b) {
  if (b == 0) return 0;
  const int q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}
TP_DEVICE int tp_floormod(int a, int b) {
  if (b == 0) return 0;
  const int r = a % b;
  return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
}

constexpr float kLog2e = 1.4426950408889634f;   // softmax runs in base 2: exp(x) = exp2(x * kLog2e)
constexpr float kLn2 = 0.6931471805599453f;     // back to natural log for the log-sum-exp output

// How a key tile is masked (codegen/cuda/key-walk.ts hands each tile with one of these).
constexpr int kMaskNone = 0;
constexpr int kMaskPadding = 1;   // full tile holding padding keys
constexpr int kMaskElements = 2;  // partial tile: tp_allowed per element

// CTA -> (unit = batch * head, schedule position): heavy(0..d-1) | heavy(d) light(0) | ... | light(units - 1),
// so the heavy query blocks run d heads ahead of the light ones (codegen/cuda/cta-order.ts).
TP_DEVICE void tp_cta_work(int cta, int blocks, int heavy, int units, int lookahead, int& unit, int& pos) {
  const int d = lookahead < units ? lookahead : units;
  if (cta < d * heavy) {
    unit = cta / heavy;
    pos = cta - unit * heavy;
    return;
  }
  const int rest = cta - d * heavy;
  const int mixed = (units - d) * blocks;
  if (rest < mixed) {
    const int chunk = rest / blocks;
    const int r = rest - chunk * blocks;
    unit = r < heavy ? chunk + d : chunk;
    pos = r;
    return;
  }
  const int light = blocks - heavy;
  const int tail = rest - mixed;
  const int c = tail / light;
  unit = units - d + c;
  pos = heavy + (tail - c * light);
}

// A CUtensorMap (128 opaque bytes, 64-byte aligned), encoded on the host by cuTensorMapEncodeTiled.
struct alignas(64) TpTensorMap { unsigned long long opaque[16]; };

// Sixteen bytes, for 16-byte global stores.
struct alignas(16) TpVec16 { unsigned x, y, z, w; };

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)

TP_DEVICE float tp_neg_inf() { return __int_as_float(0xff800000); }

// exp2 on the special-function unit; exp2(-inf) = +0, which is how masked logits vanish.
TP_DEVICE float tp_exp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

TP_DEVICE unsigned tp_smem_addr(const void* p) { return static_cast<unsigned>(__cvta_generic_to_shared(p)); }

// 16-byte global -> shared copy that bypasses L1; when !valid the destination is zero-filled (no read).
TP_DEVICE void tp_cp_async_16(unsigned dst, const void* src, bool valid) {
  const int bytes = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(bytes) : "memory");
}
TP_DEVICE void tp_cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
TP_DEVICE void tp_cp_async_wait_all() { asm volatile("cp.async.wait_group 0;\n" ::: "memory"); }

// Four 8x8 16-bit matrices from shared memory; lane l supplies the address of row (l % 8) of matrix l / 8.
TP_DEVICE void tp_ldmatrix_x4(unsigned (&r)[4], unsigned addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}
TP_DEVICE void tp_ldmatrix_x4_trans(unsigned (&r)[4], unsigned addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}

// D = A (16x16, row) * B (16x8, col) + D with fp32 accumulation on the tensor cores.
TP_DEVICE void tp_mma_bf16(float (&d)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
  asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
TP_DEVICE void tp_mma_fp16(float (&d)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
  asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Two floats rounded to nearest-even into one 32-bit pair; 'lo' lands in the low half (the lower column).
TP_DEVICE unsigned tp_pack_bf16(float lo, float hi) {
  unsigned r;
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;\n" : "=r"(r) : "f"(hi), "f"(lo));
  return r;
}
TP_DEVICE unsigned tp_pack_fp16(float lo, float hi) {
  unsigned r;
  asm("cvt.rn.f16x2.f32 %0, %1, %2;\n" : "=r"(r) : "f"(hi), "f"(lo));
  return r;
}

// The element types of the attention kernels: what the tensor cores multiply (the data is 16-bit raw bits
// either way) and how fp32 values are packed back.
struct TpBf16 {
  static TP_DEVICE void mma(float (&d)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
    tp_mma_bf16(d, a, b0, b1);
  }
  static TP_DEVICE unsigned pack(float lo, float hi) { return tp_pack_bf16(lo, hi); }
};
struct TpFp16 {
  static TP_DEVICE void mma(float (&d)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
    tp_mma_fp16(d, a, b0, b1);
  }
  static TP_DEVICE unsigned pack(float lo, float hi) { return tp_pack_fp16(lo, hi); }
};

#endif  // nvcc or NVRTC
