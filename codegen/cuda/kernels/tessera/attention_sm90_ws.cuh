// attention_sm90_ws.cuh: the warp-specialised Hopper (sm_90a) attention forward kernel: a producer warpgroup
// streams K/V tiles by bulk tensor copies into a ring of kStages stages, two consumer warpgroups multiply.
//
// A CTA of 3 warpgroups (384 threads) works on query blocks of 128 rows:
// - Warpgroup 0, the producer, gives registers back (setmaxnreg.dec) and runs the key walk. For each tile it
//   waits until the consumers have released the stage (the stage's "empty" mbarrier), issues the K and V boxes
//   (thread 0, counted on the stage's "full" mbarrier), decodes the tile's key terms and run marks for the mask
//   (masked tiles only, the whole warpgroup) and writes the tile's mask mode; each arrival on "full" releases
//   those writes. After the last tile of a query block it publishes an end marker in the next stage instead.
// - Warpgroups 1 and 2, the consumers, take registers (setmaxnreg.inc) and own 64 query rows each. Their loop
//   is the one of attention_sm90.cuh (S_j = Q K_j^T issued with O += P_{j-1} V_{j-1}, the softmax of S_j under
//   the P V product), with the stage handed back on "empty" once its P V has finished. With kPingPong the two
//   consumers take turns issuing their products (two named barriers), so one's softmax runs under the other's
//   tensor-core work.
// - With kPersistent the grid is at most one CTA per multiprocessor: CTA b starts with work item b of the CTA
//   order (codegen/cuda/cta-order.ts: heaviest query blocks first) and then claims the next item no CTA has
//   taken from a counter in global memory (work_counter), so CTAs that drew light items take more (greedy
//   longest-first). The producer claims an item's successor when the item starts and passes it to the consumers
//   with the end marker, so it streams the next query block's tiles while the consumers finish the last one.
// Q is copied by the consumers themselves (cp.async, each its 64 rows, no-swizzle row-group layout with
// 128-byte core-matrix stride); O is staged through the same rows for 16-byte coalesced stores. Mask modes,
// padding rules and outputs are those of attention_sm80.cuh and attention_sm90.cuh: the kernels are
// interchangeable on a plan.
//
// Include after the kernel parameters (TpAttnParams with the tensor maps, `ctas` and `work_counter`) and the
// pattern header.
#pragma once
#include "key_runs.cuh"
#include "tessera.cuh"
#include "wg_rows.cuh"
#include "wgmma.cuh"

// mbarrier operations the warp-specialised kernel adds to wgmma.cuh's.
TP_DEVICE void tp_mbar_arrive(unsigned bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}
// Raise the bytes the current phase waits for, without arriving.
TP_DEVICE void tp_mbar_expect_tx(unsigned bar, unsigned bytes) {
  asm volatile("mbarrier.expect_tx.relaxed.cta.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}
// Named-barrier arrival that does not wait (the ping-pong hand-over).
TP_DEVICE void tp_bar_arrive(int id, int threads) {
  asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}
template <int kRegs> TP_DEVICE void tp_setmaxnreg_dec() {
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(kRegs));
}
template <int kRegs> TP_DEVICE void tp_setmaxnreg_inc() {
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(kRegs));
}

// The kernel for head dim kHeadDim, element type T (TpBf16, TpFp16), kTileK keys per tile (64 or 128), a ring of
// kStages K/V stages, consumers taking turns (kPingPong) and a persistent grid (kPersistent).
template <int kHeadDim, class T, int kTileK, int kStages, bool kPingPong, bool kPersistent>
struct TpAttentionSm90Ws {
  static_assert(kBlockQ == 128, "two consumer warpgroups of 64 query rows");
  static_assert(kHeadDim % 32 == 0 && kTileK % 64 == 0, "32-column slabs and 64-key tiles");
  static_assert(kStages >= 2, "the producer runs at least one tile ahead");
  static constexpr int kThreads = 384;  // producer warpgroup + two consumer warpgroups
  static constexpr int kProducerRegs = 56;  // the key walk and the token decode of masked tiles run here
  static constexpr int kConsumerRegs = 224;  // 128 x 56 + 256 x 224 <= 65,536
  static constexpr int kCoreStride = 128;  // core matrices of a row group back to back
  using Rows = TpWgRows<kHeadDim, T, kCoreStride>;  // row-group offsets, the Q copy and the epilogue
  static constexpr int kGroupBytes = Rows::kGroupBytes;
  static constexpr int kSlabs = kHeadDim / 32;
  static constexpr int kSlabBytes = kTileK * 64;
  static constexpr int kTileBytes = kSlabs * kSlabBytes;
  static constexpr bool kDecodeKeys = kPartialBlocks || kPaddedKeyBlocks || kSeqLen % kTileK != 0;
  static constexpr bool kDecodeRows = kPartialBlocks || kPaddedQueryBlocks;
  static constexpr int kEndOfBlock = -1;  // a stage's mode after the last tile of a query block
  using Runs = TpKeyRuns<kTileK, 128, kPartialBlocks>;
  // Arrivals that complete a stage: the producer's thread 0 (plus the decoding threads), every consumer warp.
  static constexpr int kFullArrivals = kDecodeKeys ? 128 : 1;
  static constexpr int kEmptyArrivals = 8;

  // Shared memory: K stages, V stages (1024-byte aligned slabs), Q, key terms and run marks per stage, each
  // stage's mode, the full and the empty mbarriers. codegen/cuda/kernel-options.ts computes the same size.
  static constexpr int kQOffset = 2 * kStages * kTileBytes;
  static constexpr int kTokOffset = kQOffset + kBlockQ / 8 * kGroupBytes;
  static constexpr int kRunOffset =
      (kTokOffset + (kDecodeKeys ? kStages * kTileK * static_cast<int>(sizeof(TpKeyTerms)) : 0) + 15) / 16 * 16;
  static constexpr int kModeOffset = kRunOffset + (kDecodeKeys ? kStages * Runs::kRunWords * 4 : 0);
  static constexpr int kNextOffset = kModeOffset + 4 * kStages;  // per stage: the item after an end marker's
  static constexpr int kBarOffset = (kNextOffset + 4 * kStages + 7) / 8 * 8;
  static constexpr int kSharedBytes = kBarOffset + 16 * kStages;

  // Work item -> (batch x head, query block), in the CTA order of codegen/cuda/cta-order.ts. The one place where
  // the kernel addresses the plan's schedule.
  static TP_DEVICE void work_item(const TpAttnParams& p, int item, int& bh, int& qb) {
    int pos;
    tp_cta_work(item, kNumQBlocks, p.heavy_blocks, p.ctas / kNumQBlocks, p.lookahead, bh, pos);
    qb = p.schedule[pos];
  }
  // A launch over some heads only (heads that share a plan, codegen/cuda/kernel-params.ts head_map) maps its head
  // index to the head of q, k, v and o; lse stays indexed by the launch's own (batch, head).
  static TP_DEVICE int launch_head_to_head(const TpAttnParams& p, int bh, int batch) {
    return p.head_map != nullptr ? p.head_map[bh - batch * p.heads] : bh - batch * p.heads;
  }
  static TP_DEVICE int first_item() { return blockIdx.x; }
  // The item a CTA takes after `item`. One CTA per item: none. Persistent grid: the next item no CTA has taken,
  // from the launch's counter (work_counter[0], items after the grid's first), so CTAs that drew light items
  // take more: greedy longest-first over the heaviest-first order. Called by the producer's thread 0 when an
  // item starts; the item travels to the consumers (and the producer's other threads) with the end marker.
  static TP_DEVICE int claim_next(const TpAttnParams& p, int item) {
    if constexpr (kPersistent) return gridDim.x + atomicAdd(p.work_counter, 1);
    return item + p.ctas;
  }
  // Persistent grid: the CTA has claimed its last item; the last CTA to get here zeroes the counter for the next
  // launch (every other CTA has stopped claiming by then, and the next launch on the stream starts after this one).
  static TP_DEVICE void release_counter(const TpAttnParams& p) {
    if constexpr (kPersistent) {
      if (atomicAdd(p.work_counter + 1, 1) == static_cast<int>(gridDim.x) - 1) {
        p.work_counter[0] = 0;
        p.work_counter[1] = 0;
      }
    }
  }

  static TP_DEVICE void tma_tile(unsigned dst, const TpTensorMap* map, const TpAttnParams& p, int key0, int head,
                                 int batch, unsigned bar) {
    const int c1 = p.tma_dim_seq == 1 ? key0 : p.tma_dim_head == 1 ? head : batch;
    const int c2 = p.tma_dim_seq == 2 ? key0 : p.tma_dim_head == 2 ? head : batch;
    const int c3 = p.tma_dim_seq == 3 ? key0 : p.tma_dim_head == 3 ? head : batch;
#pragma unroll
    for (int slab = 0; slab < kSlabs; ++slab) tp_tma_load_4d(dst + slab * kSlabBytes, map, slab * 32, c1, c2, c3, bar);
  }

  // Warpgroup 0: the tiles of every work item into the ring, an end marker after each item's last tile.
  static TP_DEVICE void produce(const TpAttnParams& p, unsigned sK, unsigned sV, unsigned full, unsigned empty,
                                TpKeyTerms* sTok, unsigned* sRuns, int* sMode, int* sNext, int ptid) {
    int stage = 0;
    unsigned phase = 1;  // parity of the empty barriers' phase to wait for: a fresh barrier passes parity 1
    int item = first_item();
    while (item < p.ctas) {
      // Claimed now, used at the item's end: the counter's latency hides behind the item's tiles.
      const int claimed = ptid == 0 ? claim_next(p, item) : 0;
      int bh, qb;
      work_item(p, item, bh, qb);
      const int batch = bh / p.heads;
      const int head = launch_head_to_head(p, bh, batch);
      TpKeyWalk walk{};
      tp_walk_begin(walk, p, qb);
      bool has = true;
      while (has) {
        has = tp_walk_next<kTileK>(walk, p);
        const unsigned full_bar = full + 8 * stage;
        tp_mbar_wait(empty + 8 * stage, phase);
        if (ptid == 0) {
          if (!has) sNext[stage] = claimed;
          sMode[stage] = has ? walk.mode : kEndOfBlock;
          if (has) {
            tp_mbar_expect_tx(full_bar, 2 * kTileBytes);
            tma_tile(sK + stage * kTileBytes, &p.tmap_k, p, walk.key0, head, batch, full_bar);
            tma_tile(sV + stage * kTileBytes, &p.tmap_v, p, walk.key0, head, batch, full_bar);
          }
        }
        if constexpr (kDecodeKeys) {
          if (has && walk.mode != kMaskNone)
            Runs::decode_tile(sTok + stage * kTileK, sRuns + stage * Runs::kRunWords, walk.key0, ptid);
        }
        tp_mbar_arrive(full_bar);
        if (!has) {
          // The producer's other threads (they decode key terms) learn the next item from thread 0.
          if constexpr (kDecodeKeys) tp_bar_sync(6, 128);
          item = sNext[stage];
          if constexpr (kDecodeKeys) tp_bar_sync(6, 128);  // read before thread 0 can reuse the slot
        }
        if (++stage == kStages) {
          stage = 0;
          phase ^= 1u;
        }
      }
    }
    if (ptid == 0) release_counter(p);
  }

  // Warpgroups 1 and 2: c = 0 or 1, query rows 64 c .. 64 c + 63 of each work item.
  static TP_DEVICE void consume(const TpAttnParams& p, unsigned sK, unsigned sV, unsigned sQ, unsigned full,
                                unsigned empty, const TpKeyTerms* sTok, const unsigned* sRuns,
                                const volatile int* sMode, const volatile int* sNext, int c, int ctid) {
    extern __shared__ __align__(1024) unsigned char tp_smem[];
    const int warp = (ctid >> 5) & 3;
    const int lane = ctid & 31;
    const unsigned q_rows = sQ + c * 8 * kGroupBytes;  // this warpgroup's 8 row groups of Q
    unsigned char* sO = tp_smem + kQOffset + c * 8 * kGroupBytes;
    const int my_turn = 4 + c, their_turn = 5 - c;  // ping-pong barrier ids
    if (kPingPong && c == 1) tp_bar_arrive(4, 256);  // consumer 0 goes first
    int stage = 0;
    unsigned phase = 0;  // parity of the full barriers' phase to wait for
    int item = first_item();
    while (item < p.ctas) {
      int bh, qb;
      work_item(p, item, bh, qb);
      const int batch = bh / p.heads;
      const int head = launch_head_to_head(p, bh, batch);
      const int q0 = qb * kBlockQ + c * 64;
      const unsigned short* gQ = p.q + batch * p.q_batch + head * p.q_head;
      unsigned short* gO = p.o + batch * p.o_batch + head * p.o_head;

      tp_bar_sync(2 + c, 128);  // the last item's O has left sO (= these Q rows)
      Rows::template load<64, 128>(q_rows, gQ, p.q_seq, q0, ctid);
      tp_cp_async_commit();
      TpQueryTerms qtok[2];
      if constexpr (kDecodeRows) {
        qtok[0] = tp_query_terms(tp_decode(q0 + warp * 16 + (lane >> 2)));
        qtok[1] = tp_query_terms(tp_decode(q0 + warp * 16 + (lane >> 2) + 8));
      }
      float acc[kHeadDim / 2];
      float s[kTileK / 2];
      unsigned pa[kTileK / 16][4];
      float row_max[2] = {tp_neg_inf(), tp_neg_inf()};
      float row_sum[2] = {0.f, 0.f};
#pragma unroll
      for (int i = 0; i < kHeadDim / 2; ++i) acc[i] = 0.f;
      tp_cp_async_wait_all();
      tp_fence_proxy_async();
      tp_bar_sync(2 + c, 128);  // Q in place for the whole warpgroup

      int prev_stage = -1;  // stage whose P waits in pa
      while (true) {
        tp_mbar_wait(full + 8 * stage, phase);
        const int mode = sMode[stage];
        if (mode == kEndOfBlock) break;
        const unsigned tK = sK + stage * kTileBytes;
        if constexpr (kPingPong) tp_bar_sync(my_turn, 256);
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
        tp_wgmma_commit();
        if constexpr (kPingPong) tp_bar_arrive(their_turn, 256);
        unsigned keep0 = ~0u, keep1 = ~0u;
        if constexpr (kDecodeKeys) {
          if (mode != kMaskNone)
            Runs::tile_keep(sTok + stage * kTileK, sRuns + stage * Runs::kRunWords, mode, qtok, lane & 3, keep0, keep1);
        }
        tp_wgmma_wait_1();  // S_j is done
        tp_fence_regs(s);
        if constexpr (kDecodeKeys) {
          if ((keep0 & keep1 & Runs::kKeepAll) != Runs::kKeepAll) {
#pragma unroll
            for (int i = 0; i < kTileK / 2; ++i) {
              const unsigned bit = (i >> 1 & 1 ? keep1 : keep0) >> ((i >> 2) * 2 + (i & 1)) & 1u;
              if (!bit) s[i] = tp_neg_inf();
            }
          }
        }
        float corr[2];
#pragma unroll
        for (int r = 0; r < 2; ++r) {
          float mx = tp_neg_inf();
#pragma unroll
          for (int j = 0; j < kTileK / 8; ++j) mx = fmaxf(mx, fmaxf(s[4 * j + 2 * r], s[4 * j + 2 * r + 1]));
          mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
          mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
          const float m_new = fmaxf(row_max[r], mx * p.scale_log2);
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
        tp_wgmma_wait_all();  // P_{j-1} V_{j-1} is in acc: its stage can go back to the producer
        tp_fence_regs(acc);
        tp_fence_regs(pa);
        if (prev_stage >= 0 && lane == 0) tp_mbar_arrive(empty + 8 * prev_stage);
        // At head dim 128, rescale O only when a row max of this warp grew: once the maxima settle (most tiles
        // after the first few) corr is exactly exp2(0) = 1 and the 64 multiplies per thread are skipped by the
        // whole warp. At 64 and 96 the vote cost more than it saved (H200: 5-7% slower dense at d96, 3% faster
        // at d128 HunyuanVideo, bench/RESULTS.md), so those rescale always.
        if (kHeadDim < 128 || __any_sync(0xffffffffu, corr[0] != 1.f || corr[1] != 1.f)) {
#pragma unroll
          for (int d = 0; d < kHeadDim / 8; ++d) {
            acc[4 * d] *= corr[0];
            acc[4 * d + 1] *= corr[0];
            acc[4 * d + 2] *= corr[1];
            acc[4 * d + 3] *= corr[1];
          }
        }
#pragma unroll
        for (int kk = 0; kk < kTileK / 16; ++kk)
#pragma unroll
          for (int j = 0; j < 4; ++j) pa[kk][j] = T::pack(s[8 * kk + 2 * j], s[8 * kk + 2 * j + 1]);
        prev_stage = stage;
        if (++stage == kStages) {
          stage = 0;
          phase ^= 1u;
        }
      }
      // The end marker's stage goes straight back (once every lane has read its mode and the next item); then the
      // last tile's P V.
      item = sNext[stage];
      __syncwarp();
      if (lane == 0) tp_mbar_arrive(empty + 8 * stage);
      if (++stage == kStages) {
        stage = 0;
        phase ^= 1u;
      }
      if (prev_stage >= 0) {
        const unsigned tV = sV + prev_stage * kTileBytes;
        tp_wgmma_fence();
#pragma unroll
        for (int kk = 0; kk < kTileK / 16; ++kk)
          TpWgmma<kHeadDim, T>::rs(acc, pa[kk], tp_desc(tV + kk * 1024, kSlabBytes, 512, kSwizzle64));
        tp_wgmma_commit();
        tp_wgmma_wait_all();
        tp_fence_regs(acc);
        if (lane == 0) tp_mbar_arrive(empty + 8 * prev_stage);
      }

      // Normalise, write the log-sum-exp, stage O through this warpgroup's Q rows, store 16-byte chunks.
      Rows::template normalise<kDecodeRows>(acc, row_max, row_sum, qtok, sO, p.lse + static_cast<long long>(bh) * kSeqLen,
                                            q0, warp, lane);
      tp_bar_sync(2 + c, 128);
      Rows::store(sO, gO, p.o_seq, q0, ctid);
    }
    if (kPingPong && c == 0) tp_bar_sync(4, 256);  // consumer 1's last hand-over
  }

  static TP_DEVICE void run(const TpAttnParams& p) {
    extern __shared__ __align__(1024) unsigned char tp_smem[];
    const unsigned sK = tp_smem_addr(tp_smem);
    const unsigned sV = sK + kStages * kTileBytes;
    const unsigned sQ = sK + kQOffset;
    const unsigned full = sK + kBarOffset;  // [kStages] mbarriers: tile landed (and decoded)
    const unsigned empty = full + 8 * kStages;  // [kStages]: stage free again
    TpKeyTerms* sTok = reinterpret_cast<TpKeyTerms*>(tp_smem + kTokOffset);
    unsigned* sRuns = reinterpret_cast<unsigned*>(tp_smem + kRunOffset);
    int* sMode = reinterpret_cast<int*>(tp_smem + kModeOffset);
    int* sNext = reinterpret_cast<int*>(tp_smem + kNextOffset);
    const int tid = threadIdx.x;
    if (tid == 0) {
#pragma unroll
      for (int st = 0; st < kStages; ++st) {
        tp_mbar_init(full + 8 * st, kFullArrivals);
        tp_mbar_init(empty + 8 * st, kEmptyArrivals);
      }
      asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
    __syncthreads();
    if (tid < 128) {
      tp_setmaxnreg_dec<kProducerRegs>();
      if (kDecodeKeys || tid == 0) produce(p, sK, sV, full, empty, sTok, sRuns, sMode, sNext, tid);
    } else {
      tp_setmaxnreg_inc<kConsumerRegs>();
      consume(p, sK, sV, sQ, full, empty, sTok, sRuns, sMode, sNext, (tid >> 7) - 1, tid & 127);
    }
  }
};
