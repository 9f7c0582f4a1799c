/**
 * Keep-bits of a masked tile from runs of equal key terms. The keys of a tile are consecutive tokens, and the
 * key side of a split mask (codegen/common/split-mask.ts) usually changes only at a few of them: for the
 * Attention Tile masks the terms are the key's frame and whether it is global, so the 128 keys of a tile form
 * one or two runs (a frame boundary inside the tile). A thread then needs one `tp_allowed` test per run and
 * row instead of one per key and row, and the run's columns become a bit range in one step.
 *
 * Decoding a tile marks the keys that open a run (a warp ballot of "my terms differ from the key before
 * mine"); the mask step walks the marks. A tile with more than `kMaxRuns` runs (patterns whose key terms
 * change at every key, such as spatial windows) is tested key by key as before.
 *
 * Measured on the H100 (bench/RESULTS.md): the per-key test made a partial tile cost 2.9 us against 1.7 us
 * for a full one.
 */
import type { PatternInstance } from '../../compiler/ir.js';
import { SPLIT_MASK_SYMBOLS, splitPredicate, termFields } from '../common/split-mask.js';

/**
 * The column arithmetic, as plain C++ (part of `tessera.cuh`, compiled by the host C++ compiler in the tests).
 * In the accumulator layout of `mma` and `wgmma` a thread holds, of each 8 key columns, the two columns
 * 2 quad and 2 quad + 1 (quad = lane % 4); its keep word has bit c for column 8 (c / 2) + 2 quad + c % 2.
 */
export const KEY_RUN_BITS_HELPER = `// How many of this thread's key columns (8 g + 2 quad + {0, 1}) lie below column x.
TP_DEVICE int tp_columns_below(int x, int quad) {
  const int in_group = (x & 7) - 2 * quad;
  return 2 * (x >> 3) + (in_group < 0 ? 0 : in_group > 2 ? 2 : in_group);
}

// This thread's keep bits for the key columns [begin, end) of a tile: its columns are increasing in the bit
// index, so the range is a run of bits.
TP_DEVICE unsigned tp_run_bits(int begin, int end, int quad) {
  return static_cast<unsigned>((1ull << tp_columns_below(end, quad)) - (1ull << tp_columns_below(begin, quad)));
}`;

/**
 * `tp_shfl_up_key_terms` (the terms of the key one lane below) and `tp_same_key_terms`, over the fields of the
 * pattern's `TpKeyTerms`. File scope, next to the mask functions.
 */
export function renderKeyTermHelpers(pattern: PatternInstance): string {
  const fields = termFields(splitPredicate(pattern.predicate), 'k');
  const T = SPLIT_MASK_SYMBOLS.keyTerms;
  return [
    `// The key terms of lane - 1 (lane 0 gets its own back), and equality of key terms: runs of equal terms.`,
    `__device__ __forceinline__ ${T} tp_shfl_up_key_terms(${T} k) {`,
    ...fields.map((f) => `  k.${f} = __shfl_up_sync(0xffffffffu, k.${f}, 1);`),
    '  return k;',
    '}',
    `__device__ __forceinline__ bool tp_same_key_terms(${T} a, ${T} b) {`,
    `  return ${fields.map((f) => `a.${f} == b.${f}`).join(' && ')};`,
    '}',
  ].join('\n');
}

/** What {@link renderKeyRunFunctions} needs to know of the kernel. */
export interface KeyRunOptions {
  /** Partial tiles occur: test `tp_allowed` against the thread's two query rows (`TpQueryTerms q[2]`). */
  readonly elementMask: boolean;
}

/**
 * `tp_decode_key_tile` and `tp_tile_keep` for a kernel whose threads hold two accumulator rows (lane / 4 and
 * lane / 4 + 8 of their warp's 16) and kTileK / 4 columns; they rely on kTileK, kThreads, the mask modes,
 * `tp_decode`, the split mask's terms and {@link renderKeyTermHelpers}. Inside the kernel's namespace.
 */
export function renderKeyRunFunctions(o: KeyRunOptions): string {
  const Q = SPLIT_MASK_SYMBOLS.queryTerms;
  const K = SPLIT_MASK_SYMBOLS.keyTerms;
  const rows = o.elementMask ? `const ${Q} (&q)[2], ` : '';
  const test = (row: string) =>
    o.elementMask ? `(mode == kMaskElements ? tp_allowed(q[${row}], k) : k.seg != 0)` : 'k.seg != 0';
  const perKey = (indent: string, keep: (row: string) => string) => [
    '#pragma unroll 4',
    `${indent}for (int c = 0; c < kTileK / 4; ++c) {`,
    `${indent}  const ${K} k = tok[(c >> 1) * 8 + 2 * quad + (c & 1)];`,
    `${indent}  keep0 |= static_cast<unsigned>(${keep('0')}) << c;`,
    `${indent}  keep1 |= static_cast<unsigned>(${keep('1')}) << c;`,
    `${indent}}`,
  ];
  return [
    'constexpr int kRunWords = kTileK / 32;   // words of run-opening marks per tile',
    'constexpr int kMaxRuns = 8;              // above this, the keys of a tile are tested one by one',
    'constexpr unsigned kKeepAll = kTileK / 4 == 32 ? ~0u : (1u << kTileK / 4) - 1;   // a thread keeps every column',
    '',
    '// The mask terms of the kTileK keys from key0 into tok[], and the keys that open a run of equal terms as bit',
    '// i % 32 of starts[i / 32] (key 0 always does). Each warpgroup decodes kTileK / kWarpgroups consecutive keys,',
    '// one per thread, so the warpgroups share the work.',
    `TP_DEVICE void tp_decode_key_tile(${K}* tok, unsigned* starts, int key0, int tid) {`,
    '  constexpr int kPerGroup = kTileK / (kThreads / 128);',
    '  static_assert(kPerGroup % 32 == 0 && kPerGroup <= 128, "whole warps decode the keys of a tile");',
    '  if ((tid & 127) >= kPerGroup) return;',
    '  const int i = (tid >> 7) * kPerGroup + (tid & 127);',
    `  const ${K} k = ${SPLIT_MASK_SYMBOLS.keyTermsOf}(tp_decode(key0 + i));`,
    '  tok[i] = k;',
    `  ${K} before = tp_shfl_up_key_terms(k);`,
    `  if ((tid & 31) == 0 && i > 0) before = ${SPLIT_MASK_SYMBOLS.keyTermsOf}(tp_decode(key0 + i - 1));`,
    '  const unsigned opens = __ballot_sync(0xffffffffu, i == 0 || !tp_same_key_terms(k, before));',
    '  if ((tid & 31) == 0) starts[i >> 5] = opens;',
    '}',
    '',
    '// Add the run of keys [begin, end), whose terms are k, to the rows that may see it.',
    `TP_DEVICE void tp_keep_run(const ${K}& k, int begin, int end, int mode, ${rows}int quad, unsigned& keep0,`,
    '                            unsigned& keep1) {',
    '  const unsigned bits = tp_run_bits(begin, end, quad);',
    `  if (${test('0')}) keep0 |= bits;`,
    `  if (${test('1')}) keep1 |= bits;`,
    '}',
    '',
    "// This thread's keep bits for a masked tile (keep0: row lane / 4, keep1: row lane / 4 + 8; bit c: column",
    '// 8 (c / 2) + 2 quad + c % 2): one test per run of equal key terms, or per key past kMaxRuns runs.',
    `TP_DEVICE void tp_tile_keep(const ${K}* tok, const unsigned* starts, int mode, ${rows}int quad,`,
    '                             unsigned& keep0, unsigned& keep1) {',
    '  keep0 = 0;',
    '  keep1 = 0;',
    '  unsigned marks[kRunWords];',
    '  int runs = 0;',
    '#pragma unroll',
    '  for (int w = 0; w < kRunWords; ++w) {',
    '    marks[w] = starts[w];',
    '    runs += __popc(marks[w]);',
    '  }',
    '  if (runs <= kMaxRuns) {',
    '    marks[0] &= ~1u;  // key 0 opens the first run',
    '    int begin = 0;',
    '#pragma unroll',
    '    for (int w = 0; w < kRunWords; ++w) {',
    '      for (unsigned bits = marks[w]; bits != 0; bits &= bits - 1) {',
    '        const int end = 32 * w + __ffs(bits) - 1;',
    `        tp_keep_run(tok[begin], begin, end, mode, ${o.elementMask ? 'q, ' : ''}quad, keep0, keep1);`,
    '        begin = end;',
    '      }',
    '    }',
    `    tp_keep_run(tok[begin], begin, kTileK, mode, ${o.elementMask ? 'q, ' : ''}quad, keep0, keep1);`,
    '    return;',
    '  }',
    ...(o.elementMask
      ? [
          '  if (mode == kMaskElements) {',
          ...perKey('    ', (r) => `tp_allowed(q[${r}], k)`),
          '  } else {',
          ...perKey('    ', () => 'k.seg != 0'),
          '  }',
        ]
      : perKey('  ', () => 'k.seg != 0')),
    '}',
  ].join('\n');
}
