// attention_sm90.cuh: the Hopper (sm_90a) block-sparse attention forward kernel, on warpgroup wgmma and bulk
// tensor copies (TMA).
//
// One CTA computes one query block of one (batch, head) with kBlockQ / 64 warpgroups of 128 threads, each
// owning 64 query rows:
// - Q lives in shared memory in the no-swizzle row-group layout of wgmma.cuh, copied once with cp.async
//   (consecutive threads take consecutive 16-byte chunks of a row).
// - K/V tiles of kTileK keys arrive by bulk tensor copies: thread 0 issues kSlabs boxes of 32 columns per operand,
//   each landing as kTileK rows of 64 bytes with the 64-byte swizzle, and counts them on the stage's mbarrier.
//   Three stages: tile j + 1 streams in while tile j is multiplied and tile j - 1's P V runs.
// - S = Q K^T is kHeadDim / 16 wgmma m64 x kTileK x 16 with both operands in shared memory; the mask (masked tiles
//   only) and the online softmax in base 2 run on the accumulators; P is repacked into 16-bit A operands in
//   registers and O += P V is kTileK / 16 wgmma m64 x kHeadDim x 16 reading V transposed from shared memory.
// - The key walk, the mask modes, padding rules and outputs (O in the operand layout, LSE in fp32) are those of
//   the sm_80 kernel (attention_sm80.cuh), so the two are interchangeable on a plan.
// attention_sm90_ws.cuh is the warp-specialised successor (a TMA producer warpgroup, consumers in ping-pong) and the
// default on 128-row query blocks; this kernel stays for 64-row blocks and as the reference it is timed against.
// Why this shape: on an H100 the sm_80 kernel's mma.sync plus ldmatrix path tops out near a third of the bf16
// peak, and with 16-byte cp.async copies of K/V the L2 path, not the tensor cores, set the pace; bulk tensor
// copies lifted dense attention to half the peak (bench/RESULTS.md has the study).
//
// Include after the kernel parameters (TpAttnParams with the tensor maps, codegen/cuda/kernel-params.ts) and the
// pattern header, which defines the plan's constants (kSeqLen, kBlockQ, kNumQBlocks, kPartialBlocks,
// kPaddedKeyBlocks, kPaddedQueryBlocks), its mask terms (TpQueryTerms, TpKeyTerms, tp_decode, tp_query_terms,
// tp_key_terms, tp_allowed, ...) and its key walk (TpKeyWalk, tp_walk_begin, tp_walk_next<kTileK>).
#pragma once
#include "key_runs.cuh"
#include "tessera.cuh"
#include "wg_rows.cuh"
#include "wgmma.cuh"

// The kernel for head dim kHeadDim, element type T (TpBf16, TpFp16) and kTileK keys per tile (64 or 128).
template <int kHeadDim, class T, int kTileK>
struct TpAttentionSm90 {
  static_assert(kBlockQ % 64 == 0, "one warpgroup per 64 query rows");
  static_assert(kHeadDim % 32 == 0 && kTileK % 64 == 0, "32-column slabs and 64-key tiles");
  static constexpr int kThreads = kBlockQ / 64 * 128;  // one warpgroup per 64 query rows
  // Bytes from one 8 x 16-byte core matrix to the next along a row: 144 keeps the shared-memory side of the Q
  // copy at most 2-way conflicted.
  static constexpr int kCoreStride = 144;
  using Rows = TpWgRows<kHeadDim, T, kCoreStride>;  // row-group offsets, the Q copy and the epilogue
  static constexpr int kGroupBytes = Rows::kGroupBytes;  // one 8-row group of the shared row-group layout
  static constexpr int kSlabs = kHeadDim / 32;  // 32-column slabs of a K/V tile (64-byte swizzle)
  static constexpr int kSlabBytes = kTileK * 64;
  static constexpr int kTileBytes = kSlabs * kSlabBytes;
  static constexpr int kStages = 3;  // K/V tiles in shared memory: j - 1 (its P V runs), j, j + 1 (loading)
  // Keys can need a mask: partial blocks (tp_allowed per element), or padding keys in full tiles.
  static constexpr bool kDecodeKeys = kPartialBlocks || kPaddedKeyBlocks || kSeqLen % kTileK != 0;
  // Query rows need their terms: for tp_allowed, or to zero padding rows.
  static constexpr bool kDecodeRows = kPartialBlocks || kPaddedQueryBlocks;
  using Runs = TpKeyRuns<kTileK, kThreads, kPartialBlocks>;

  // Shared-memory byte offsets: kStages K tiles, kStages V tiles (64-byte swizzled slabs, so first, on
  // 1024-byte boundaries), Q in the row-group layout, the decoded key terms and the run-opening marks of each
  // stage (16-byte aligned), the mbarriers. codegen/cuda/kernel-options.ts computes kSharedBytes for the launch.
  static constexpr int kQOffset = 2 * kStages * kTileBytes;
  static constexpr int kTokOffset = kQOffset + kBlockQ / 8 * kGroupBytes;
  static constexpr int kRunOffset =
      (kTokOffset + (kDecodeKeys ? kStages * kTileK * static_cast<int>(sizeof(TpKeyTerms)) : 0) + 15) / 16 * 16;
  static constexpr int kBarOffset = (kRunOffset + (kDecodeKeys ? kStages * Runs::kRunWords * 4 : 0) + 7) / 8 * 8;
  static constexpr int kSharedBytes = kBarOffset + 8 * kStages;

  // The tile of kTileK keys from key0 of K (or V) into shared memory at dst: kSlabs boxes of 32 columns, each
  // landing as kTileK rows of 64 bytes with the 64-byte swizzle. The tensor map orders the sequence, head and
  // batch dimensions by stride (p.tma_dim_*); rows past the sequence arrive as zeros.
  static TP_DEVICE void tma_tile(unsigned dst, const TpTensorMap* map, const TpAttnParams& p, int key0, int head,
                                 int batch, unsigned bar) {
    const int c1 = p.tma_dim_seq == 1 ? key0 : p.tma_dim_head == 1 ? head : batch;
    const int c2 = p.tma_dim_seq == 2 ? key0 : p.tma_dim_head == 2 ? head : batch;
    const int c3 = p.tma_dim_seq == 3 ? key0 : p.tma_dim_head == 3 ? head : batch;
#pragma unroll
    for (int slab = 0; slab < kSlabs; ++slab) tp_tma_load_4d(dst + slab * kSlabBytes, map, slab * 32, c1, c2, c3, bar);
  }

  static TP_DEVICE void run(const TpAttnParams& p) {
    extern __shared__ __align__(1024) unsigned char tp_smem[];
    // K and V stages first: their slabs must sit on 512-byte boundaries (the 64-byte swizzle repeats every 8 rows).
    const unsigned sK = tp_smem_addr(tp_smem);      // [kStages][kSlabs] x kTileK rows of 64 bytes
    const unsigned sV = sK + kStages * kTileBytes;  // the same
    const unsigned sQ = sK + kQOffset;              // kBlockQ rows, row-group layout
    const unsigned bars = sK + kBarOffset;          // [kStages] mbarriers: tile landed
    TpKeyTerms* sTok = reinterpret_cast<TpKeyTerms*>(tp_smem + kTokOffset);  // [kStages][kTileK] key mask terms
    unsigned* sRuns = reinterpret_cast<unsigned*>(tp_smem + kRunOffset);    // [kStages][kRunWords] run openings

    int bh, pos;
    tp_cta_work(blockIdx.x, kNumQBlocks, p.heavy_blocks, gridDim.x / kNumQBlocks, p.lookahead, bh, pos);
    const int qb = p.schedule[pos];  // heaviest query blocks first, interleaved across heads
    const int batch = bh / p.heads;
    // A launch over some heads only (heads that share a plan, codegen/cuda/kernel-params.ts head_map) maps its
    // head index to the head of q, k, v and o; lse stays indexed by the launch's own (batch, head).
    const int head = p.head_map != nullptr ? p.head_map[bh - batch * p.heads] : bh - batch * p.heads;
    const int tid = threadIdx.x;
    const int wg = tid >> 7;          // warpgroup: query rows 64 wg .. 64 wg + 63 of the block
    const int warp = (tid >> 5) & 3;  // warp of the warpgroup: 16 of those rows
    const int lane = tid & 31;
    const int q0 = qb * kBlockQ;
    const unsigned short* gQ = p.q + batch * p.q_batch + head * p.q_head;
    unsigned short* gO = p.o + batch * p.o_batch + head * p.o_head;

    // The prologue is a chain of dependent loads (schedule, CSR offsets, first block) before the first tile can
    // be asked for, so nothing waits for anyone until the loop: Q streams in while the walk starts, and thread 0
    // initialises the mbarriers and issues the first tile itself (the barrier before the loop publishes them).
    Rows::template load<kBlockQ, kThreads>(sQ, gQ, p.q_seq, q0, tid);
    tp_cp_async_commit();
    TpKeyWalk walk{};
    tp_walk_begin(walk, p, qb);
    bool has = tp_walk_next<kTileK>(walk, p);
    int key0 = walk.key0, mode = walk.mode;
    if (tid == 0) {
#pragma unroll
      for (int st = 0; st < kStages; ++st) tp_mbar_init(bars + 8 * st, 1);
      asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
      if (has) {
        tp_mbar_expect_bytes(bars, 2 * kTileBytes);
        tma_tile(sK, &p.tmap_k, p, key0, head, batch, bars);
        tma_tile(sV, &p.tmap_v, p, key0, head, batch, bars);
      }
    }
    if constexpr (kDecodeKeys) {
      if (has && mode != kMaskNone) Runs::decode_tile(sTok, sRuns, key0, tid);
    }

    // This thread's two query rows (accumulator rows lane / 4 and lane / 4 + 8 of its warp), decoded once.
    TpQueryTerms qtok[2];
    if constexpr (kDecodeRows) {
      qtok[0] = tp_query_terms(tp_decode(q0 + wg * 64 + warp * 16 + (lane >> 2)));
      qtok[1] = tp_query_terms(tp_decode(q0 + wg * 64 + warp * 16 + (lane >> 2) + 8));
    }

    float acc[kHeadDim / 2];      // O: this warpgroup's 64 rows x kHeadDim, wgmma accumulator layout
    float s[kTileK / 2];          // S of the current tile: 64 rows x kTileK
    unsigned pa[kTileK / 16][4];  // P of the previous tile as 16-bit A operands, 16 keys per step
    float row_max[2] = {tp_neg_inf(), tp_neg_inf()};  // running max of the base-2 logits, rows lane / 4 (+ 8)
    float row_sum[2] = {0.f, 0.f};                    // this thread's share of the softmax denominators
#pragma unroll
    for (int i = 0; i < kHeadDim / 2; ++i) acc[i] = 0.f;
    const unsigned q_rows = sQ + wg * 8 * kGroupBytes;  // this warpgroup's 8 row groups of Q

    // Software pipeline: iteration j issues S_j = Q K_j^T and O += P_{j-1} V_{j-1} together, so the tensor cores
    // run the second while this warpgroup computes the softmax of the first. V_{j-1} is still being read while
    // tile j + 1 streams in, hence three stages.
    tp_cp_async_wait_all();  // Q
    tp_fence_proxy_async();
    __syncthreads();  // Q, the mbarriers and the first tile's key terms are in place
    int stage = 0;
    int prev_stage = -1;  // stage of the tile whose P waits in pa; -1 before the first tile
    unsigned phase = 0;   // bit st: parity of stage st's next completion
    while (has) {
      tp_mbar_wait(bars + 8 * stage, (phase >> stage) & 1u);  // tile j landed
      phase ^= 1u << stage;
      __syncthreads();  // both warpgroups are done with tile j - 2 (its P V has finished): its stage is free
      const int next_stage = stage == kStages - 1 ? 0 : stage + 1;
      const bool next_has = tp_walk_next<kTileK>(walk, p);
      const int next_key0 = walk.key0, next_mode = walk.mode;
      if (next_has) {
        if (tid == 0) {
          const unsigned bar = bars + 8 * next_stage;
          tp_mbar_expect_bytes(bar, 2 * kTileBytes);
          tma_tile(sK + next_stage * kTileBytes, &p.tmap_k, p, next_key0, head, batch, bar);
          tma_tile(sV + next_stage * kTileBytes, &p.tmap_v, p, next_key0, head, batch, bar);
        }
      }

      // S_j = Q K_j^T: one m64 x kTileK x 16 product per 16 columns of the head dim, operands in shared memory;
      // then O += P_{j-1} V_{j-1}, V read transposed.
      const unsigned tK = sK + stage * kTileBytes;
      tp_wgmma_fence();
      TpWgmma<kTileK, T>::ss_first(s, tp_desc(q_rows, kCoreStride, kGroupBytes), tp_desc(tK, 16, 512, kSwizzle64));
#pragma unroll
      for (int kc = 1; kc < kHeadDim / 16; ++kc)
        TpWgmma<kTileK, T>::ss(s, tp_desc(q_rows + kc * 2 * kCoreStride, kCoreStride, kGroupBytes),
                               tp_desc(tK + (kc >> 1) * kSlabBytes + (kc & 1) * 32, 16, 512, kSwizzle64));
      tp_wgmma_commit();
      if (prev_stage >= 0) {
        const unsigned tV = sV + prev_stage * kTileBytes;
#pragma unroll
        for (int kk = 0; kk < kTileK / 16; ++kk)
          TpWgmma<kHeadDim, T>::rs(acc, pa[kk], tp_desc(tV + kk * 1024, kSlabBytes, 512, kSwizzle64));
      }
      tp_wgmma_commit();  // possibly empty: the group count stays the same on every iteration
      unsigned keep0 = ~0u, keep1 = ~0u;
      if constexpr (kDecodeKeys) {
        // While the tensor cores work: decode the next tile's keys (its stage was freed by the barrier above),
        // and compute this thread's keep bits for this one (key_runs.cuh).
        if (next_has && next_mode != kMaskNone)
          Runs::decode_tile(sTok + next_stage * kTileK, sRuns + next_stage * Runs::kRunWords, next_key0, tid);
        if (mode != kMaskNone)
          Runs::tile_keep(sTok + stage * kTileK, sRuns + stage * Runs::kRunWords, mode, qtok, lane & 3, keep0, keep1);
      }
      tp_wgmma_wait_1();  // S_j is done; P_{j-1} V_{j-1} may still run
      tp_fence_regs(s);
      if constexpr (kDecodeKeys) {
        if ((keep0 & keep1 & Runs::kKeepAll) != Runs::kKeepAll) {  // some column of a row is masked
#pragma unroll
          for (int i = 0; i < kTileK / 2; ++i) {
            const unsigned bit = (i >> 1 & 1 ? keep1 : keep0) >> ((i >> 2) * 2 + (i & 1)) & 1u;
            if (!bit) s[i] = tp_neg_inf();
          }
        }
      }

      // Online softmax in base 2. Registers 4 j + 2 r and 4 j + 2 r + 1 belong to row half r. The rescale of O
      // by a row's grown max waits for P_{j-1} V_{j-1}: the exp2 of this tile overlap it.
      float corr[2];
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        float mx = tp_neg_inf();
#pragma unroll
        for (int j = 0; j < kTileK / 8; ++j) mx = fmaxf(mx, fmaxf(s[4 * j + 2 * r], s[4 * j + 2 * r + 1]));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
        const float m_new = fmaxf(row_max[r], mx * p.scale_log2);
        // A row with no allowed key so far keeps max -inf; subtracting 0 instead keeps exp2 away from NaN.
        const float m_use = m_new == tp_neg_inf() ? 0.f : m_new;
        corr[r] = tp_exp2(row_max[r] - m_use);
        row_max[r] = m_new;
        float sum = 0.f;
#pragma unroll
        for (int j = 0; j < kTileK / 8; ++j) {
          s[4 * j + 2 * r] = tp_exp2(fmaf(s[4 * j + 2 * r], p.scale_log2, -m_use));
          s[4 * j + 2 * r + 1] = tp_exp2(fmaf(s[4 * j + 2 * r + 1], p.scale_log2, -m_use));
          sum += s[4 * j + 2 * r] + s[4 * j + 2 * r + 1];
        }
        row_sum[r] = row_sum[r] * corr[r] + sum;
      }
      tp_wgmma_wait_all();  // P_{j-1} V_{j-1} is in acc, and pa is free again
      tp_fence_regs(acc);
      tp_fence_regs(pa);  // keeps the compiler from reusing pa's registers while the wgmma still reads them
#pragma unroll
      for (int d = 0; d < kHeadDim / 8; ++d) {
        acc[4 * d] *= corr[0];
        acc[4 * d + 1] *= corr[0];
        acc[4 * d + 2] *= corr[1];
        acc[4 * d + 3] *= corr[1];
      }
#pragma unroll
      for (int kk = 0; kk < kTileK / 16; ++kk)
#pragma unroll
        for (int j = 0; j < 4; ++j) pa[kk][j] = T::pack(s[8 * kk + 2 * j], s[8 * kk + 2 * j + 1]);

      key0 = next_key0;
      mode = next_mode;
      has = next_has;
      prev_stage = stage;
      stage = next_stage;
    }
    if (prev_stage >= 0) {  // the last tile's P V
      const unsigned tV = sV + prev_stage * kTileBytes;
      tp_wgmma_fence();
#pragma unroll
      for (int kk = 0; kk < kTileK / 16; ++kk)
        TpWgmma<kHeadDim, T>::rs(acc, pa[kk], tp_desc(tV + kk * 1024, kSlabBytes, 512, kSwizzle64));
      tp_wgmma_commit();
      tp_wgmma_wait_all();
      tp_fence_regs(acc);
    }

    // Normalise, write the log-sum-exp, and stage the warpgroup's rows through its own (now unused) rows of sQ
    // in the row-group layout, so the global stores are 16-byte and coalesced.
    unsigned char* sO = tp_smem + kQOffset + wg * 8 * kGroupBytes;
    Rows::template normalise<kDecodeRows>(acc, row_max, row_sum, qtok, sO, p.lse + static_cast<long long>(bh) * kSeqLen,
                                          q0 + wg * 64, warp, lane);
    tp_bar_sync(1 + wg, 128);
    Rows::store(sO, gO, p.o_seq, q0 + wg * 64, tid & 127);
  }
};
