// attention_sm80.cuh: the FlashAttention-2-style block-sparse attention forward kernel on mma.sync (sm_80 and
// newer).
//
// One CTA computes one query block of one (batch, head): kBlockQ / kWarpRows warps own kWarpRows query rows each
// (kRowGroups 16-row mma groups sharing every K and V fragment they load), Q stays in registers as mma
// A-fragments (or is reloaded from shared memory per tile), K/V tiles of kTileK keys stream through a
// double-buffered cp.async pipeline, S = Q K^T and O += P V run on mma.sync.m16n8k16 with fp32 accumulators, and
// the softmax is the online one in base 2 with the scale folded in. The element mask is compiled in only where
// the plan has partial blocks; padding keys are masked in full tiles only where the plan says a key block holds
// padding (or the sequence ends inside a tile).
//
// Fragment layouts (PTX ISA, mma.m16n8k16): with g = lane / 4 and t = lane % 4, a thread holds accumulator rows
// g and g + 8, columns 2t and 2t + 1 of each 8-column tile; that is why the row statistics below are reduced over
// the 4 lanes of a quad and why P can be repacked into A-fragments without leaving registers.
//
// Include after the kernel parameters (TpAttnParams, codegen/cuda/kernel-params.ts) and the pattern header, which
// defines the plan's constants (kSeqLen, kBlockQ, kNumQBlocks, kPartialBlocks, kPaddedKeyBlocks,
// kPaddedQueryBlocks), its mask terms (TpQueryTerms, TpKeyTerms, tp_decode, tp_query_terms, tp_key_terms,
// tp_allowed) and its key walk (TpKeyWalk, tp_walk_begin, tp_walk_next<kTileK>).
#pragma once
#include "tessera.cuh"

// The kernel for head dim kHeadDim and element type T (TpBf16, TpFp16), with the tuning knobs of
// codegen/cuda/kernel-options.ts (CudaKernelTuning; none changes what it computes):
// kTileK keys per pipeline stage; kWarpRows query rows per warp (16, or 32: two 16-row mma groups share every K
// and V fragment loaded from shared memory); kQInRegisters: Q's A-fragments held in registers across the key loop,
// or reloaded from shared memory per tile (about kHeadDim / 4 fewer live registers); kScoreChunkUnroll: unroll
// factor of the S loop over 16-column head-dim chunks, 0 for a full unroll (a partial unroll keeps fewer ldmatrix
// results in flight, which is what lets the 32-row warp fit its register cap without spilling).
template <int kHeadDim, class T, int kTileK, int kWarpRows, bool kQInRegisters, int kScoreChunkUnroll>
struct TpAttentionSm80 {
  static_assert(kWarpRows == 16 || kWarpRows == 32, "16 or 32 query rows per warp");
  static constexpr int kRowGroups = kWarpRows / 16;  // 16-row mma groups per warp
  static constexpr int kThreads = kBlockQ / kWarpRows * 32;
  static constexpr int kChunks = kHeadDim / 8;  // 16-byte chunks per row
  // Shared rows are padded by 16 bytes: an odd number of 16-byte chunks per row keeps ldmatrix conflict-free.
  static constexpr int kPitch = kHeadDim + 8;
  // Keys can need a mask: partial blocks (tp_allowed per element), or padding keys in full tiles.
  static constexpr bool kDecodeKeys = kPartialBlocks || kPaddedKeyBlocks || kSeqLen % kTileK != 0;
  // Query rows need their terms: for tp_allowed, or to zero padding rows.
  static constexpr bool kDecodeRows = kPartialBlocks || kPaddedQueryBlocks;
  // Q, two K and two V tiles, and the key terms of two tiles (codegen/cuda/kernel-options.ts sizes the launch).
  static constexpr int kSharedBytes =
      (kBlockQ + 4 * kTileK) * kPitch * 2 + (kDecodeKeys ? 2 * kTileK * static_cast<int>(sizeof(TpKeyTerms)) : 0);

  // One key tile (kTileK rows of kHeadDim) from global to shared memory; rows past the sequence are zero-filled,
  // so padding never feeds NaN or Inf into the tensor cores.
  static TP_DEVICE void load_tile(unsigned short* dst, const unsigned short* src, long long seq_stride, int key0,
                                  int tid) {
#pragma unroll
    for (int c = tid; c < kTileK * kChunks; c += kThreads) {
      const int row = c / kChunks;
      const int col = (c % kChunks) * 8;
      const bool ok = key0 + row < kSeqLen;
      tp_cp_async_16(tp_smem_addr(dst + row * kPitch + col), src + (ok ? key0 + row : 0) * seq_stride + col, ok);
    }
  }

  static TP_DEVICE void run(const TpAttnParams& p) {
    extern __shared__ __align__(16) unsigned char tp_smem[];
    unsigned short* sQ = reinterpret_cast<unsigned short*>(tp_smem);  // [kBlockQ][kPitch]
    unsigned short* sK = sQ + kBlockQ * kPitch;                       // [2][kTileK][kPitch]
    unsigned short* sV = sK + 2 * kTileK * kPitch;                    // [2][kTileK][kPitch]
    TpKeyTerms* sTok = reinterpret_cast<TpKeyTerms*>(sV + 2 * kTileK * kPitch);  // [2][kTileK] key mask terms

    int bh, pos;
    tp_cta_work(blockIdx.x, kNumQBlocks, p.heavy_blocks, gridDim.x / kNumQBlocks, p.lookahead, bh, pos);
    const int qb = p.schedule[pos];  // heaviest query blocks first, interleaved across heads
    const int batch = bh / p.heads;
    // A launch over some heads only (heads that share a plan, codegen/cuda/kernel-params.ts head_map) maps its
    // head index to the head of q, k, v and o; lse stays indexed by the launch's own (batch, head).
    const int head = p.head_map != nullptr ? p.head_map[bh - batch * p.heads] : bh - batch * p.heads;
    const int tid = threadIdx.x;
    const int warp = tid >> 5;
    const int lane = tid & 31;
    const int q0 = qb * kBlockQ;
    const unsigned short* gQ = p.q + batch * p.q_batch + head * p.q_head;
    const unsigned short* gK = p.k + batch * p.k_batch + head * p.k_head;
    const unsigned short* gV = p.v + batch * p.v_batch + head * p.v_head;
    unsigned short* gO = p.o + batch * p.o_batch + head * p.o_head;

#pragma unroll
    for (int c = tid; c < kBlockQ * kChunks; c += kThreads) {
      const int row = c / kChunks;
      const int col = (c % kChunks) * 8;
      const bool ok = q0 + row < kSeqLen;
      tp_cp_async_16(tp_smem_addr(sQ + row * kPitch + col), gQ + (ok ? q0 + row : 0) * p.q_seq + col, ok);
    }

    TpKeyWalk walk{};
    tp_walk_begin(walk, p, qb);
    bool has = tp_walk_next<kTileK>(walk, p);
    int key0 = walk.key0, mode = walk.mode;
    if (has) {
      load_tile(sK, gK, p.k_seq, key0, tid);
      load_tile(sV, gV, p.v_seq, key0, tid);
      if constexpr (kDecodeKeys) {
        if (mode != kMaskNone) for (int i = tid; i < kTileK; i += kThreads) sTok[i] = tp_key_terms(tp_decode(key0 + i));
      }
    }
    tp_cp_async_commit();

    // This thread's two query rows per row group, decoded once.
    TpQueryTerms qtok[kRowGroups][2];
    if constexpr (kDecodeRows) {
#pragma unroll
      for (int rg = 0; rg < kRowGroups; ++rg) {
        const int row_base = q0 + warp * kWarpRows + rg * 16 + (lane >> 2);
        qtok[rg][0] = tp_query_terms(tp_decode(row_base));
        qtok[rg][1] = tp_query_terms(tp_decode(row_base + 8));
      }
    }

    tp_cp_async_wait_all();
    __syncthreads();
    unsigned qf[kRowGroups][kHeadDim / 16][4];  // Q as A-fragments, kWarpRows rows x kHeadDim per warp
    const unsigned q_addr = tp_smem_addr(sQ + (warp * kWarpRows + (lane & 15)) * kPitch + (lane >> 4) * 8);
    if constexpr (kQInRegisters) {
#pragma unroll
      for (int rg = 0; rg < kRowGroups; ++rg)
#pragma unroll
        for (int kc = 0; kc < kHeadDim / 16; ++kc)
          tp_ldmatrix_x4(qf[rg][kc], tp_smem_addr(sQ + (warp * kWarpRows + rg * 16 + (lane & 15)) * kPitch + kc * 16 +
                                                  (lane >> 4) * 8));
    }

    float acc[kRowGroups][kHeadDim / 8][4];  // O accumulator: 8-column tiles of the head dim, per 16-row group
    float row_max[kRowGroups][2];  // running max of the base-2 logits, rows g and g + 8 of each group
    float row_sum[kRowGroups][2];  // this thread's share of the softmax denominators
#pragma unroll
    for (int rg = 0; rg < kRowGroups; ++rg) {
#pragma unroll
      for (int d = 0; d < kHeadDim / 8; ++d) acc[rg][d][0] = acc[rg][d][1] = acc[rg][d][2] = acc[rg][d][3] = 0.f;
      row_max[rg][0] = row_max[rg][1] = tp_neg_inf();
      row_sum[rg][0] = row_sum[rg][1] = 0.f;
    }

    int stage = 0;
    bool first_tile = true;
    while (has) {
      if (!first_tile) {
        tp_cp_async_wait_all();
        __syncthreads();  // tile `stage` landed, and every warp is done with the other buffer
      }
      first_tile = false;
      const bool next_has = tp_walk_next<kTileK>(walk, p);
      const int next_key0 = walk.key0, next_mode = walk.mode;
      if (next_has) {
        load_tile(sK + (stage ^ 1) * kTileK * kPitch, gK, p.k_seq, next_key0, tid);
        load_tile(sV + (stage ^ 1) * kTileK * kPitch, gV, p.v_seq, next_key0, tid);
        if constexpr (kDecodeKeys) {
          if (next_mode != kMaskNone)
            for (int i = tid; i < kTileK; i += kThreads)
              sTok[(stage ^ 1) * kTileK + i] = tp_key_terms(tp_decode(next_key0 + i));
        }
      }
      tp_cp_async_commit();

      // S = Q K^T for this warp's kWarpRows rows and the tile's kTileK keys, 16 head-dim columns at a time.
      const unsigned short* tK = sK + stage * kTileK * kPitch;
      const unsigned short* tV = sV + stage * kTileK * kPitch;
      float s[kRowGroups][kTileK / 8][4];
#pragma unroll
      for (int rg = 0; rg < kRowGroups; ++rg)
#pragma unroll
        for (int j = 0; j < kTileK / 8; ++j) s[rg][j][0] = s[rg][j][1] = s[rg][j][2] = s[rg][j][3] = 0.f;
      // The S loop over 16-column chunks of the head dim, with the unroll its tuning asks for: fully by default, by
      // kScoreChunkUnroll where that is set (a pragma's count cannot say "fully", hence the two loops).
#define TP_SM80_SCORE_CHUNK                                                                                  \
  unsigned qa[kRowGroups][4]; /* this chunk's Q A-fragments, when Q is not held in registers */              \
  if constexpr (!kQInRegisters) {                                                                            \
    _Pragma("unroll") for (int rg = 0; rg < kRowGroups; ++rg)                                                \
        tp_ldmatrix_x4(qa[rg], q_addr + (rg * 16 * kPitch + kc * 16) * 2);                                  \
  }                                                                                                          \
  _Pragma("unroll") for (int np = 0; np < kTileK / 16; ++np) {                                               \
    unsigned b[4];                                                                                           \
    const int key = np * 16 + ((lane >> 4) << 3) + (lane & 7);                                               \
    tp_ldmatrix_x4(b, tp_smem_addr(tK + key * kPitch + kc * 16 + ((lane >> 3) & 1) * 8));                    \
    _Pragma("unroll") for (int rg = 0; rg < kRowGroups; ++rg) {                                              \
      T::mma(s[rg][2 * np], kQInRegisters ? qf[rg][kc] : qa[rg], b[0], b[1]);                                \
      T::mma(s[rg][2 * np + 1], kQInRegisters ? qf[rg][kc] : qa[rg], b[2], b[3]);                            \
    }                                                                                                        \
  }
      if constexpr (kScoreChunkUnroll == 0) {
#pragma unroll
        for (int kc = 0; kc < kHeadDim / 16; ++kc) {
          TP_SM80_SCORE_CHUNK
        }
      } else {
#pragma unroll kScoreChunkUnroll
        for (int kc = 0; kc < kHeadDim / 16; ++kc) {
          TP_SM80_SCORE_CHUNK
        }
      }
#undef TP_SM80_SCORE_CHUNK

      // The mode test sits outside the element loops, so the loops themselves hold no branch.
      if constexpr (kDecodeKeys) {
        if (mode != kMaskNone) {
          const TpKeyTerms* tTok = sTok + stage * kTileK;
          if (kPartialBlocks && mode == kMaskElements) {
#pragma unroll
            for (int rg = 0; rg < kRowGroups; ++rg)
#pragma unroll
              for (int j = 0; j < kTileK / 8; ++j) {
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                  const TpKeyTerms kt = tTok[j * 8 + 2 * (lane & 3) + (e & 1)];
                  if (!tp_allowed(qtok[rg][e >> 1], kt)) s[rg][j][e] = tp_neg_inf();
                }
              }
          } else {  // padding keys only
#pragma unroll
            for (int rg = 0; rg < kRowGroups; ++rg)
#pragma unroll
              for (int j = 0; j < kTileK / 8; ++j) {
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                  const TpKeyTerms kt = tTok[j * 8 + 2 * (lane & 3) + (e & 1)];
                  if (kt.seg == 0) s[rg][j][e] = tp_neg_inf();
                }
              }
          }
        }
      }

      // Online softmax in base 2: rescale what was accumulated when a row's max grows.
#pragma unroll
      for (int rg = 0; rg < kRowGroups; ++rg) {
#pragma unroll
        for (int r = 0; r < 2; ++r) {
          float mx = tp_neg_inf();
#pragma unroll
          for (int j = 0; j < kTileK / 8; ++j) mx = fmaxf(mx, fmaxf(s[rg][j][2 * r], s[rg][j][2 * r + 1]));
          mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
          mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
          const float m_new = fmaxf(row_max[rg][r], mx * p.scale_log2);
          // A row with no allowed key so far keeps max -inf; subtracting 0 instead keeps exp2 away from NaN.
          const float m_use = m_new == tp_neg_inf() ? 0.f : m_new;
          const float corr = tp_exp2(row_max[rg][r] - m_use);
          row_max[rg][r] = m_new;
          float sum = 0.f;
#pragma unroll
          for (int j = 0; j < kTileK / 8; ++j) {
            s[rg][j][2 * r] = tp_exp2(fmaf(s[rg][j][2 * r], p.scale_log2, -m_use));
            s[rg][j][2 * r + 1] = tp_exp2(fmaf(s[rg][j][2 * r + 1], p.scale_log2, -m_use));
            sum += s[rg][j][2 * r] + s[rg][j][2 * r + 1];
          }
          row_sum[rg][r] = row_sum[rg][r] * corr + sum;
#pragma unroll
          for (int d = 0; d < kHeadDim / 8; ++d) {
            acc[rg][d][2 * r] *= corr;
            acc[rg][d][2 * r + 1] *= corr;
          }
        }
      }

      // O += P V, with P repacked from the S accumulators into 16-bit A-fragments; each V fragment feeds every row
      // group.
#pragma unroll
      for (int kk = 0; kk < kTileK / 16; ++kk) {
        unsigned a[kRowGroups][4];
#pragma unroll
        for (int rg = 0; rg < kRowGroups; ++rg) {
          a[rg][0] = T::pack(s[rg][2 * kk][0], s[rg][2 * kk][1]);
          a[rg][1] = T::pack(s[rg][2 * kk][2], s[rg][2 * kk][3]);
          a[rg][2] = T::pack(s[rg][2 * kk + 1][0], s[rg][2 * kk + 1][1]);
          a[rg][3] = T::pack(s[rg][2 * kk + 1][2], s[rg][2 * kk + 1][3]);
        }
#pragma unroll
        for (int dp = 0; dp < kHeadDim / 16; ++dp) {
          unsigned b[4];
          tp_ldmatrix_x4_trans(b, tp_smem_addr(tV + (kk * 16 + (lane & 15)) * kPitch + dp * 16 + (lane >> 4) * 8));
#pragma unroll
          for (int rg = 0; rg < kRowGroups; ++rg) {
            T::mma(acc[rg][2 * dp], a[rg], b[0], b[1]);
            T::mma(acc[rg][2 * dp + 1], a[rg], b[2], b[3]);
          }
        }
      }

      key0 = next_key0;
      mode = next_mode;
      has = next_has;
      stage ^= 1;
    }

    // Normalise, write the log-sum-exp, and stage the warp's rows through its own (now unused) slice of sQ so the
    // global stores are 16-byte and coalesced.
    unsigned short* sO = sQ + warp * kWarpRows * kPitch;
#pragma unroll
    for (int rg = 0; rg < kRowGroups; ++rg) {
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        float sum = row_sum[rg][r];
        sum += __shfl_xor_sync(0xffffffffu, sum, 1);
        sum += __shfl_xor_sync(0xffffffffu, sum, 2);
        const int row = rg * 16 + (lane >> 2) + 8 * r;
        const int token = q0 + warp * kWarpRows + row;
        // Rows with no allowed key (and padding rows): out 0, lse -inf.
        const bool live = kDecodeRows ? qtok[rg][r].seg != 0 && sum > 0.f : sum > 0.f;
        const float inv = live ? 1.f / sum : 0.f;
        if ((lane & 3) == 0 && token < kSeqLen) {
          p.lse[static_cast<long long>(bh) * kSeqLen + token] = live ? row_max[rg][r] * kLn2 + logf(sum) : tp_neg_inf();
        }
#pragma unroll
        for (int d = 0; d < kHeadDim / 8; ++d) {
          *reinterpret_cast<unsigned*>(sO + row * kPitch + d * 8 + 2 * (lane & 3)) =
              T::pack(live ? acc[rg][d][2 * r] * inv : 0.f, live ? acc[rg][d][2 * r + 1] * inv : 0.f);
        }
      }
    }
    __syncwarp();
#pragma unroll
    for (int c = lane; c < kWarpRows * kChunks; c += 32) {
      const int row = c / kChunks;
      const int col = (c % kChunks) * 8;
      const int token = q0 + warp * kWarpRows + row;
      if (token < kSeqLen) {
        *reinterpret_cast<TpVec16*>(gO + token * p.o_seq + col) =
            *reinterpret_cast<const TpVec16*>(sO + row * kPitch + col);
      }
    }
  }
};
