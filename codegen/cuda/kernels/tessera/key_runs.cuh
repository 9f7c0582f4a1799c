// key_runs.cuh: the keep bits of a masked key tile, from runs of equal key terms.
//
// The keys of a tile are consecutive tokens, and the key side of a split mask (codegen/common/split-mask.ts)
// usually changes only at a few of them: for the Attention Tile masks the terms are the key's frame and whether
// it is global, so the 128 keys of a tile form one or two runs (a frame boundary inside the tile). A thread then
// needs one tp_allowed test per run and row instead of one per key and row, and the run's columns become a bit
// range in one step. Decoding a tile marks the keys that open a run (a warp ballot of "my terms differ from the
// key before mine"); the mask step walks the marks. A tile with more than kMaxRuns runs (patterns whose key
// terms change at every key, such as spatial windows) is tested key by key. Measured on the H100
// (bench/RESULTS.md): the per-key test made a partial tile cost 2.9 us against 1.7 us for a full one.
//
// Threads hold two accumulator rows (lane / 4 and lane / 4 + 8 of their warp's 16) and kTileK / 4 columns: of
// each 8 key columns the two columns 2 quad and 2 quad + 1 (quad = lane % 4), the layout of mma and wgmma
// accumulators. A thread's keep word has bit c for column 8 (c / 2) + 2 quad + c % 2.
//
// Needs the pattern header (TpKeyTerms, TpQueryTerms, tp_decode, tp_key_terms, tp_allowed, tp_shfl_up_key_terms,
// tp_same_key_terms) before it. The two bit helpers are plain C++ (the tests run them on the host).
#pragma once
#include "tessera.cuh"

// How many of this thread's key columns (8 g + 2 quad + {0, 1}) lie below column x.
TP_DEVICE int tp_columns_below(int x, int quad) {
  const int in_group = (x & 7) - 2 * quad;
  return 2 * (x >> 3) + (in_group < 0 ? 0 : in_group > 2 ? 2 : in_group);
}

// This thread's keep bits for the key columns [begin, end) of a tile: its columns are increasing in the bit
// index, so the range is a run of bits.
TP_DEVICE unsigned tp_run_bits(int begin, int end, int quad) {
  return static_cast<unsigned>((1ull << tp_columns_below(end, quad)) - (1ull << tp_columns_below(begin, quad)));
}

// The run walk for tiles of kTileK keys in a CTA of kThreads threads (whole warpgroups); kElementMask: partial
// tiles occur, so a key is tested against the thread's query rows (else only padding keys are masked).
template <int kTileK, int kThreads, bool kElementMask>
struct TpKeyRuns {
  static constexpr int kRunWords = kTileK / 32;  // words of run-opening marks per tile
  static constexpr int kMaxRuns = 8;             // above this, the keys of a tile are tested one by one
  static constexpr unsigned kKeepAll = kTileK / 4 == 32 ? ~0u : (1u << kTileK / 4) - 1;  // every column kept

  // The mask terms of the kTileK keys from key0 into tok[], and the keys that open a run of equal terms as bit
  // i % 32 of starts[i / 32] (key 0 always does). Each warpgroup decodes kTileK / kWarpgroups consecutive keys,
  // one per thread, so the warpgroups share the work.
  static TP_DEVICE void decode_tile(TpKeyTerms* tok, unsigned* starts, int key0, int tid) {
    constexpr int kPerGroup = kTileK / (kThreads / 128);
    static_assert(kPerGroup % 32 == 0 && kPerGroup <= 128, "whole warps decode the keys of a tile");
    if ((tid & 127) >= kPerGroup) return;
    const int i = (tid >> 7) * kPerGroup + (tid & 127);
    const TpKeyTerms k = tp_key_terms(tp_decode(key0 + i));
    tok[i] = k;
    TpKeyTerms before = tp_shfl_up_key_terms(k);
    if ((tid & 31) == 0 && i > 0) before = tp_key_terms(tp_decode(key0 + i - 1));
    const unsigned opens = __ballot_sync(0xffffffffu, i == 0 || !tp_same_key_terms(k, before));
    if ((tid & 31) == 0) starts[i >> 5] = opens;
  }

  // Add the run of keys [begin, end), whose terms are k, to the rows that may see it.
  static TP_DEVICE void keep_run(const TpKeyTerms& k, int begin, int end, int mode, const TpQueryTerms (&q)[2],
                                 int quad, unsigned& keep0, unsigned& keep1) {
    const unsigned bits = tp_run_bits(begin, end, quad);
    if (kElementMask ? (mode == kMaskElements ? tp_allowed(q[0], k) : k.seg != 0) : k.seg != 0) keep0 |= bits;
    if (kElementMask ? (mode == kMaskElements ? tp_allowed(q[1], k) : k.seg != 0) : k.seg != 0) keep1 |= bits;
  }

  // This thread's keep bits for a masked tile (keep0: row lane / 4, keep1: row lane / 4 + 8): one test per run
  // of equal key terms, or per key past kMaxRuns runs. q is read only where partial tiles occur.
  static TP_DEVICE void tile_keep(const TpKeyTerms* tok, const unsigned* starts, int mode, const TpQueryTerms (&q)[2],
                                  int quad, unsigned& keep0, unsigned& keep1) {
    keep0 = 0;
    keep1 = 0;
    unsigned marks[kRunWords];
    int runs = 0;
#pragma unroll
    for (int w = 0; w < kRunWords; ++w) {
      marks[w] = starts[w];
      runs += __popc(marks[w]);
    }
    if (runs <= kMaxRuns) {
      marks[0] &= ~1u;  // key 0 opens the first run
      int begin = 0;
#pragma unroll
      for (int w = 0; w < kRunWords; ++w) {
        for (unsigned bits = marks[w]; bits != 0; bits &= bits - 1) {
          const int end = 32 * w + __ffs(bits) - 1;
          keep_run(tok[begin], begin, end, mode, q, quad, keep0, keep1);
          begin = end;
        }
      }
      keep_run(tok[begin], begin, kTileK, mode, q, quad, keep0, keep1);
      return;
    }
    if (kElementMask && mode == kMaskElements) {
#pragma unroll 4
      for (int c = 0; c < kTileK / 4; ++c) {
        const TpKeyTerms k = tok[(c >> 1) * 8 + 2 * quad + (c & 1)];
        keep0 |= static_cast<unsigned>(tp_allowed(q[0], k)) << c;
        keep1 |= static_cast<unsigned>(tp_allowed(q[1], k)) << c;
      }
    } else {  // padding keys only
#pragma unroll 4
      for (int c = 0; c < kTileK / 4; ++c) {
        const TpKeyTerms k = tok[(c >> 1) * 8 + 2 * quad + (c & 1)];
        keep0 |= static_cast<unsigned>(k.seg != 0) << c;
        keep1 |= static_cast<unsigned>(k.seg != 0) << c;
      }
    }
  }
};
