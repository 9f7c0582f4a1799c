/**
 * The FlashAttention-2-style forward kernel body, as CUDA text. One CTA computes one query block of one
 * (batch, head): `kBlockQ / kWarpRows` warps own `kWarpRows` query rows each (`kRowGroups` 16-row mma groups
 * sharing every K and V fragment they load), Q stays in registers as mma A-fragments (or is reloaded from
 * shared memory per tile), K/V tiles of `kTileK` keys stream through a double-buffered cp.async pipeline,
 * S = Q K^T and O += P V run on
 * `mma.sync.m16n8k16` with fp32 accumulators, and the softmax is the online one in base 2 with the scale
 * folded in. The element mask is compiled in only for partial tiles; padding keys are masked in full tiles
 * only where the plan says a key block holds padding.
 *
 * Fragment layouts (PTX ISA, mma.m16n8k16): with g = lane / 4 and t = lane % 4, a thread holds accumulator
 * rows g and g + 8, columns 2t and 2t + 1 of each 8-column tile; that is why the row statistics below are
 * reduced over the 4 lanes of a quad and why P can be repacked into A-fragments without leaving registers.
 */
import { renderCtaWork } from './cta-order.js';

/** What the body needs to know beyond the constants the caller emits. */
export interface KernelBodyOptions {
  readonly kernelName: string;
  /** Element masks (partial tiles) can occur: decode query rows and key columns, call `tp_allowed`. */
  readonly elementMask: boolean;
  /** Padding keys can occur in full tiles: decode key columns. */
  readonly keyPadding: boolean;
  /** Padding query rows can occur: decode query rows and zero theirs. */
  readonly queryPadding: boolean;
  /** Minimum resident CTAs per SM for `__launch_bounds__` (caps registers at 65536 / (threads * n)). */
  readonly minBlocksPerSm: number;
  /**
   * Keep Q's A-fragments in registers across the key loop (fewer shared loads), or reload them from shared
   * memory for every tile (about `kHeadDim / 4` fewer live registers, so a lower register cap can hold).
   */
  readonly qInRegisters: boolean;
  /**
   * `#pragma unroll` factor of the S = Q K^T loop over 16-column head-dim chunks; 0 unrolls it fully. A
   * partial unroll keeps fewer ldmatrix results in flight, which is what lets the 32-row warp fit its
   * register cap without spilling.
   */
  readonly scoreChunkUnroll: number;
}

/**
 * The `extern "C"` kernel; relies on the constants, `TpAttnParams`, the key walk (`TpKeyWalk`, `tp_walk_begin`,
 * `tp_walk_next`) and, if masking, `tp_decode` and the split mask's terms (codegen/common/split-mask.ts).
 */
export function renderKernelBody(o: KernelBodyOptions): string {
  const decodeKeys = o.elementMask || o.keyPadding;
  const decodeRows = o.elementMask || o.queryPadding;
  const qa = o.qInRegisters ? 'qf[rg][kc]' : 'qa[rg]'; // this row group's Q A-fragment for column chunk kc
  const L: string[] = [];
  const push = (...lines: string[]) => L.push(...lines);

  push(
    '// One key tile (kTileK rows of kHeadDim) from global to shared memory; rows past the sequence are zero-filled,',
    '// so padding never feeds NaN or Inf into the tensor cores.',
    'TP_DEVICE void tp_load_tile(unsigned short* dst, const unsigned short* src, long long seq_stride, int key0, int tid) {',
    '#pragma unroll',
    '  for (int c = tid; c < kTileK * kChunks; c += kThreads) {',
    '    const int row = c / kChunks;',
    '    const int col = (c % kChunks) * 8;',
    '    const bool ok = key0 + row < kSeqLen;',
    '    tp_cp_async_16(tp_smem_addr(dst + row * kPitch + col), src + (ok ? key0 + row : 0) * seq_stride + col, ok);',
    '  }',
    '}',
    '',
    'struct alignas(16) TpVec16 { unsigned x, y, z, w; };',
    '',
    `extern "C" __global__ void __launch_bounds__(kThreads, ${o.minBlocksPerSm}) ${o.kernelName}(const TpAttnParams p) {`,
    '  extern __shared__ __align__(16) unsigned char tp_smem[];',
    '  unsigned short* sQ = reinterpret_cast<unsigned short*>(tp_smem);  // [kBlockQ][kPitch]',
    '  unsigned short* sK = sQ + kBlockQ * kPitch;                       // [2][kTileK][kPitch]',
    '  unsigned short* sV = sK + 2 * kTileK * kPitch;                    // [2][kTileK][kPitch]',
  );
  if (decodeKeys)
    push(
      '  TpKeyTerms* sTok = reinterpret_cast<TpKeyTerms*>(sV + 2 * kTileK * kPitch);  // [2][kTileK] mask terms of the keys',
    );
  push(
    '',
    ...renderCtaWork(),
    '  const int tid = threadIdx.x;',
    '  const int warp = tid >> 5;',
    '  const int lane = tid & 31;',
    '  const int q0 = qb * kBlockQ;',
    '  const unsigned short* gQ = p.q + batch * p.q_batch + head * p.q_head;',
    '  const unsigned short* gK = p.k + batch * p.k_batch + head * p.k_head;',
    '  const unsigned short* gV = p.v + batch * p.v_batch + head * p.v_head;',
    '  unsigned short* gO = p.o + batch * p.o_batch + head * p.o_head;',
    '',
    '#pragma unroll',
    '  for (int c = tid; c < kBlockQ * kChunks; c += kThreads) {',
    '    const int row = c / kChunks;',
    '    const int col = (c % kChunks) * 8;',
    '    const bool ok = q0 + row < kSeqLen;',
    '    tp_cp_async_16(tp_smem_addr(sQ + row * kPitch + col), gQ + (ok ? q0 + row : 0) * p.q_seq + col, ok);',
    '  }',
    '',
    '  TpKeyWalk walk{};',
    '  tp_walk_begin(walk, p, qb);',
    '  bool has = tp_walk_next(walk, p);',
    // The tile's mask mode is only read where something can be masked.
    `  int key0 = walk.key0${decodeKeys ? ', mode = walk.mode' : ''};`,
    '  if (has) {',
    '    tp_load_tile(sK, gK, p.k_seq, key0, tid);',
    '    tp_load_tile(sV, gV, p.v_seq, key0, tid);',
  );
  if (decodeKeys)
    push(
      '    if (mode != kMaskNone) for (int i = tid; i < kTileK; i += kThreads) sTok[i] = tp_key_terms(tp_decode(key0 + i));',
    );
  push('  }', '  tp_cp_async_commit();');
  if (decodeRows) {
    push(
      '',
      "  // This thread's two query rows per row group, decoded once.",
      '  TpQueryTerms qtok[kRowGroups][2];',
      '#pragma unroll',
      '  for (int rg = 0; rg < kRowGroups; ++rg) {',
      '    const int row_base = q0 + warp * kWarpRows + rg * 16 + (lane >> 2);',
      '    qtok[rg][0] = tp_query_terms(tp_decode(row_base));',
      '    qtok[rg][1] = tp_query_terms(tp_decode(row_base + 8));',
      '  }',
    );
  }
  push('', '  tp_cp_async_wait_all();', '  __syncthreads();');
  if (o.qInRegisters) {
    push(
      '  unsigned qf[kRowGroups][kHeadDim / 16][4];  // Q as A-fragments, kWarpRows rows x kHeadDim per warp',
      '#pragma unroll',
      '  for (int rg = 0; rg < kRowGroups; ++rg)',
      '#pragma unroll',
      '    for (int kc = 0; kc < kHeadDim / 16; ++kc)',
      '      tp_ldmatrix_x4(qf[rg][kc], tp_smem_addr(sQ + (warp * kWarpRows + rg * 16 + (lane & 15)) * kPitch + kc * 16 + (lane >> 4) * 8));',
    );
  } else {
    push(
      "  const unsigned q_addr = tp_smem_addr(sQ + (warp * kWarpRows + (lane & 15)) * kPitch + (lane >> 4) * 8);  // this lane's Q row",
    );
  }
  push(
    '',
    '  float acc[kRowGroups][kHeadDim / 8][4];  // O accumulator: 8-column tiles of the head dim, per 16-row group',
    '  float row_max[kRowGroups][2];  // running max of the base-2 logits, rows g and g + 8 of each group',
    "  float row_sum[kRowGroups][2];  // this thread's share of the softmax denominators",
    '#pragma unroll',
    '  for (int rg = 0; rg < kRowGroups; ++rg) {',
    '#pragma unroll',
    '    for (int d = 0; d < kHeadDim / 8; ++d) acc[rg][d][0] = acc[rg][d][1] = acc[rg][d][2] = acc[rg][d][3] = 0.f;',
    '    row_max[rg][0] = row_max[rg][1] = tp_neg_inf();',
    '    row_sum[rg][0] = row_sum[rg][1] = 0.f;',
    '  }',
    '',
    '  int stage = 0;',
    '  bool first_tile = true;',
    '  while (has) {',
    '    if (!first_tile) {',
    '      tp_cp_async_wait_all();',
    '      __syncthreads();  // tile `stage` landed, and every warp is done with the other buffer',
    '    }',
    '    first_tile = false;',
    '    const bool next_has = tp_walk_next(walk, p);',
    `    const int next_key0 = walk.key0${decodeKeys ? ', next_mode = walk.mode' : ''};`,
    '    if (next_has) {',
    '      tp_load_tile(sK + (stage ^ 1) * kTileK * kPitch, gK, p.k_seq, next_key0, tid);',
    '      tp_load_tile(sV + (stage ^ 1) * kTileK * kPitch, gV, p.v_seq, next_key0, tid);',
  );
  if (decodeKeys) {
    push(
      '      if (next_mode != kMaskNone)',
      '        for (int i = tid; i < kTileK; i += kThreads) sTok[(stage ^ 1) * kTileK + i] = tp_key_terms(tp_decode(next_key0 + i));',
    );
  }
  push(
    '    }',
    '    tp_cp_async_commit();',
    '',
    "    // S = Q K^T for this warp's kWarpRows rows and the tile's kTileK keys; each K fragment feeds every row group.",
    '    const unsigned short* tK = sK + stage * kTileK * kPitch;',
    '    const unsigned short* tV = sV + stage * kTileK * kPitch;',
    '    float s[kRowGroups][kTileK / 8][4];',
    '#pragma unroll',
    '    for (int rg = 0; rg < kRowGroups; ++rg)',
    '#pragma unroll',
    '      for (int j = 0; j < kTileK / 8; ++j) s[rg][j][0] = s[rg][j][1] = s[rg][j][2] = s[rg][j][3] = 0.f;',
    o.scoreChunkUnroll > 0 ? `#pragma unroll ${o.scoreChunkUnroll}` : '#pragma unroll',
    '    for (int kc = 0; kc < kHeadDim / 16; ++kc) {',
    ...(o.qInRegisters
      ? []
      : [
          '      unsigned qa[kRowGroups][4];',
          '#pragma unroll',
          '      for (int rg = 0; rg < kRowGroups; ++rg) tp_ldmatrix_x4(qa[rg], q_addr + (rg * 16 * kPitch + kc * 16) * 2);',
        ]),
    '#pragma unroll',
    '      for (int np = 0; np < kTileK / 16; ++np) {',
    '        unsigned b[4];',
    '        const int key = np * 16 + ((lane >> 4) << 3) + (lane & 7);',
    '        tp_ldmatrix_x4(b, tp_smem_addr(tK + key * kPitch + kc * 16 + ((lane >> 3) & 1) * 8));',
    '#pragma unroll',
    '        for (int rg = 0; rg < kRowGroups; ++rg) {',
    `          tp_mma(s[rg][2 * np], ${qa}, b[0], b[1]);`,
    `          tp_mma(s[rg][2 * np + 1], ${qa}, b[2], b[3]);`,
    '        }',
    '      }',
    '    }',
  );
  if (decodeKeys) {
    // The mode test sits outside the element loops, so the loops themselves hold no branch.
    const maskLoop = (indent: string, keep: string) => [
      `${indent}#pragma unroll`,
      `${indent}for (int rg = 0; rg < kRowGroups; ++rg)`,
      `${indent}#pragma unroll`,
      `${indent}  for (int j = 0; j < kTileK / 8; ++j) {`,
      `${indent}#pragma unroll`,
      `${indent}    for (int e = 0; e < 4; ++e) {`,
      `${indent}      const TpKeyTerms kt = tTok[j * 8 + 2 * (lane & 3) + (e & 1)];`,
      `${indent}      if (!(${keep})) s[rg][j][e] = tp_neg_inf();`,
      `${indent}    }`,
      `${indent}  }`,
    ];
    push('', '    if (mode != kMaskNone) {', '      const TpKeyTerms* tTok = sTok + stage * kTileK;');
    if (o.elementMask) {
      push(
        '      if (mode == kMaskElements) {',
        ...maskLoop('        ', 'tp_allowed(qtok[rg][e >> 1], kt)'),
        '      } else {',
        ...maskLoop('        ', 'kt.seg != 0'),
        '      }',
      );
    } else {
      push(...maskLoop('      ', 'kt.seg != 0'));
    }
    push('    }');
  }
  push(
    '',
    "    // Online softmax in base 2: rescale what was accumulated when a row's max grows.",
    '#pragma unroll',
    '    for (int rg = 0; rg < kRowGroups; ++rg) {',
    '#pragma unroll',
    '      for (int r = 0; r < 2; ++r) {',
    '        float mx = tp_neg_inf();',
    '#pragma unroll',
    '        for (int j = 0; j < kTileK / 8; ++j) mx = fmaxf(mx, fmaxf(s[rg][j][2 * r], s[rg][j][2 * r + 1]));',
    '        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));',
    '        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));',
    '        const float m_new = fmaxf(row_max[rg][r], mx * p.scale_log2);',
    '        // A row with no allowed key so far keeps max -inf; subtracting 0 instead keeps exp2 away from NaN.',
    '        const float m_use = m_new == tp_neg_inf() ? 0.f : m_new;',
    '        const float corr = tp_exp2(row_max[rg][r] - m_use);',
    '        row_max[rg][r] = m_new;',
    '        float sum = 0.f;',
    '#pragma unroll',
    '        for (int j = 0; j < kTileK / 8; ++j) {',
    '          s[rg][j][2 * r] = tp_exp2(fmaf(s[rg][j][2 * r], p.scale_log2, -m_use));',
    '          s[rg][j][2 * r + 1] = tp_exp2(fmaf(s[rg][j][2 * r + 1], p.scale_log2, -m_use));',
    '          sum += s[rg][j][2 * r] + s[rg][j][2 * r + 1];',
    '        }',
    '        row_sum[rg][r] = row_sum[rg][r] * corr + sum;',
    '#pragma unroll',
    '        for (int d = 0; d < kHeadDim / 8; ++d) {',
    '          acc[rg][d][2 * r] *= corr;',
    '          acc[rg][d][2 * r + 1] *= corr;',
    '        }',
    '      }',
    '    }',
    '',
    '    // O += P V, with P repacked from the S accumulators into 16-bit A-fragments; each V fragment feeds',
    '    // every row group.',
    '#pragma unroll',
    '    for (int kk = 0; kk < kTileK / 16; ++kk) {',
    '      unsigned a[kRowGroups][4];',
    '#pragma unroll',
    '      for (int rg = 0; rg < kRowGroups; ++rg) {',
    '        a[rg][0] = tp_pack(s[rg][2 * kk][0], s[rg][2 * kk][1]);',
    '        a[rg][1] = tp_pack(s[rg][2 * kk][2], s[rg][2 * kk][3]);',
    '        a[rg][2] = tp_pack(s[rg][2 * kk + 1][0], s[rg][2 * kk + 1][1]);',
    '        a[rg][3] = tp_pack(s[rg][2 * kk + 1][2], s[rg][2 * kk + 1][3]);',
    '      }',
    '#pragma unroll',
    '      for (int dp = 0; dp < kHeadDim / 16; ++dp) {',
    '        unsigned b[4];',
    '        tp_ldmatrix_x4_trans(b, tp_smem_addr(tV + (kk * 16 + (lane & 15)) * kPitch + dp * 16 + (lane >> 4) * 8));',
    '#pragma unroll',
    '        for (int rg = 0; rg < kRowGroups; ++rg) {',
    '          tp_mma(acc[rg][2 * dp], a[rg], b[0], b[1]);',
    '          tp_mma(acc[rg][2 * dp + 1], a[rg], b[2], b[3]);',
    '        }',
    '      }',
    '    }',
    '',
    '    key0 = next_key0;',
    ...(decodeKeys ? ['    mode = next_mode;'] : []),
    '    has = next_has;',
    '    stage ^= 1;',
    '  }',
    '',
    "  // Normalise, write the log-sum-exp, and stage the warp's rows through its own (now unused) slice of sQ",
    '  // so the global stores are 16-byte and coalesced.',
    '  unsigned short* sO = sQ + warp * kWarpRows * kPitch;',
    '#pragma unroll',
    '  for (int rg = 0; rg < kRowGroups; ++rg) {',
    '#pragma unroll',
    '    for (int r = 0; r < 2; ++r) {',
    '      float sum = row_sum[rg][r];',
    '      sum += __shfl_xor_sync(0xffffffffu, sum, 1);',
    '      sum += __shfl_xor_sync(0xffffffffu, sum, 2);',
    '      const int row = rg * 16 + (lane >> 2) + 8 * r;',
    '      const int token = q0 + warp * kWarpRows + row;',
  );
  push(
    decodeRows
      ? '      const bool live = qtok[rg][r].seg != 0 && sum > 0.f;  // padding rows and rows with no key: 0, -inf'
      : '      const bool live = sum > 0.f;  // rows with no allowed key: out 0, lse -inf',
  );
  push(
    '      const float inv = live ? 1.f / sum : 0.f;',
    '      if ((lane & 3) == 0 && token < kSeqLen) {',
    '        p.lse[static_cast<long long>(bh) * kSeqLen + token] = live ? row_max[rg][r] * kLn2 + logf(sum) : tp_neg_inf();',
    '      }',
    '#pragma unroll',
    '      for (int d = 0; d < kHeadDim / 8; ++d) {',
    '        *reinterpret_cast<unsigned*>(sO + row * kPitch + d * 8 + 2 * (lane & 3)) =',
    '            tp_pack(live ? acc[rg][d][2 * r] * inv : 0.f, live ? acc[rg][d][2 * r + 1] * inv : 0.f);',
    '      }',
    '    }',
    '  }',
    '  __syncwarp();',
    '#pragma unroll',
    '  for (int c = lane; c < kWarpRows * kChunks; c += 32) {',
    '    const int row = c / kChunks;',
    '    const int col = (c % kChunks) * 8;',
    '    const int token = q0 + warp * kWarpRows + row;',
    '    if (token < kSeqLen) {',
    '      *reinterpret_cast<TpVec16*>(gO + token * p.o_seq + col) = *reinterpret_cast<const TpVec16*>(sO + row * kPitch + col);',
    '    }',
    '  }',
    '}',
  );
  return L.join('\n');
}
