// wg_rows.cuh: the 64 query rows of one wgmma warpgroup in the sm_90 kernels (attention_sm90.cuh and
// attention_sm90_ws.cuh): where a row's 16-byte chunks sit in the shared row-group layout wgmma reads (8-row core
// matrices, kCoreStride bytes from one core matrix to the next along a row), and the epilogue both kernels end a
// query block with, and the copy of Q rows into that layout.
// Included after the pattern header, whose kSeqLen and TpQueryTerms it reads.
#pragma once

#include "tessera.cuh"

template <int kHeadDim, class T, int kCoreStride>
struct TpWgRows {
  static constexpr int kChunks = kHeadDim / 8;               // 16-byte chunks per row
  static constexpr int kGroupBytes = kChunks * kCoreStride;  // one 8-row group

  static TP_DEVICE unsigned offset(int row, int chunk) {
    return (row >> 3) * kGroupBytes + chunk * kCoreStride + (row & 7) * 16;
  }

  // kRows rows of kHeadDim from global memory (row row0 on, row stride seq_stride elements) into the row-group
  // layout at shared address dst, by kThreads threads (tid in 0 .. kThreads - 1). Consecutive threads copy
  // consecutive 16-byte chunks of the rows (whole 128-byte lines per warp from global memory). Rows past the
  // sequence are zero-filled, so padding never feeds NaN or Inf into the tensor cores.
  template <int kRows, int kThreads>
  static TP_DEVICE void load(unsigned dst, const unsigned short* src, long long seq_stride, int row0, int tid) {
#pragma unroll
    for (int c = tid; c < kRows * kChunks; c += kThreads) {
      const int row = c / kChunks;
      const int chunk = c - row * kChunks;
      const bool ok = row0 + row < kSeqLen;
      tp_cp_async_16(dst + offset(row, chunk), src + (ok ? row0 + row : 0) * seq_stride + chunk * 8, ok);
    }
  }

  // Normalise this thread's two rows of the accumulator fragment (rows warp * 16 + lane / 4 and 8 below it),
  // write their log-sum-exp in natural log to lse[token], and stage the rows, packed to T, at sO in the
  // row-group layout. Rows with no allowed key and padding rows (when kDecodeRows: qtok[r].seg == 0) get
  // O = 0 and lse = -inf. first_token is the token of the warpgroup's row 0.
  template <bool kDecodeRows>
  static TP_DEVICE void normalise(const float (&acc)[kHeadDim / 2], const float (&row_max)[2],
                                  const float (&row_sum)[2], const TpQueryTerms (&qtok)[2], unsigned char* sO,
                                  float* lse, int first_token, int warp, int lane) {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      float sum = row_sum[r];
      sum += __shfl_xor_sync(0xffffffffu, sum, 1);
      sum += __shfl_xor_sync(0xffffffffu, sum, 2);
      const int row = warp * 16 + (lane >> 2) + 8 * r;
      const int token = first_token + row;
      const bool live = kDecodeRows ? qtok[r].seg != 0 && sum > 0.f : sum > 0.f;
      const float inv = live ? 1.f / sum : 0.f;
      if ((lane & 3) == 0 && token < kSeqLen) lse[token] = live ? row_max[r] * kLn2 + logf(sum) : tp_neg_inf();
#pragma unroll
      for (int d = 0; d < kHeadDim / 8; ++d) {
        *reinterpret_cast<unsigned*>(sO + offset(row, d) + (lane & 3) * 4) =
            T::pack(live ? acc[4 * d + 2 * r] * inv : 0.f, live ? acc[4 * d + 2 * r + 1] * inv : 0.f);
      }
    }
  }

  // Copy the 64 staged rows to gO (row stride o_seq elements) in coalesced 16-byte chunks; ctid is the thread's
  // index in its warpgroup. The caller syncs the warpgroup between normalise and store.
  static TP_DEVICE void store(const unsigned char* sO, unsigned short* gO, long long o_seq, int first_token,
                              int ctid) {
#pragma unroll
    for (int i = ctid; i < 64 * kChunks; i += 128) {
      const int row = i / kChunks;
      const int chunk = i - row * kChunks;
      const int token = first_token + row;
      if (token < kSeqLen) {
        *reinterpret_cast<TpVec16*>(gO + token * o_seq + chunk * 8) =
            *reinterpret_cast<const TpVec16*>(sO + offset(row, chunk));
      }
    }
  }
};
