/**
 * The keep-bits of a masked tile from runs of equal key terms (codegen/cuda/kernels/tessera/key_runs.cuh),
 * compiled by the host C++ compiler with the pattern's rendered mask functions: for random patterns, layouts, tiles, query rows and
 * lane quads, `TpKeyRuns::tile_keep` must keep exactly the columns the predicate allows (padding never), whether the
 * tile is walked run by run or, past kMaxRuns runs, key by key. The run arithmetic (`tp_run_bits`) is checked
 * on every column range.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { renderCudaMaskFunctions, renderCudaPowerHelpers } from '../../../codegen/cuda/eager-mask.js';
import { inlineKernelHeaders } from '../../../codegen/cuda/headers.js';
import { MASK_MODE } from '../../../codegen/cuda/key-walk.js';
import { renderKeyTermHelpers } from '../../../codegen/cuda/pattern-header.js';
import { attentionTilePattern, videoLayout } from '../../../compiler/classify/reference-patterns.js';
import { evalBool, type PatternInstance } from '../../../compiler/ir.js';
import { decodeToken } from '../../../compiler/layout.js';
import { patternInstanceArbitrary } from '../../support/arbitraries/ir.js';
import { hasCxx, runCxx } from './host-cxx.js';

/**
 * key_runs.cuh with what it needs before it (tessera.cuh, the pattern's mask functions), in the device code's
 * host spelling: no CUDA qualifiers, the intrinsics as builtins, no warp (one thread).
 */
function hostKeyRuns(pattern: PatternInstance): string {
  const prelude = `#include <algorithm>
#include <cstdio>
#include <cstdlib>
using std::max;
using std::min;
#define __device__
#define __forceinline__ inline
#define __popc __builtin_popcount
#define __ffs __builtin_ffs
#define __shfl_up_sync(mask, v, delta) (v)
#define __ballot_sync(mask, p) 0u`;
  return inlineKernelHeaders(
    [
      prelude,
      '#include "tessera/tessera.cuh"',
      renderCudaPowerHelpers(pattern),
      renderCudaMaskFunctions(pattern),
      renderKeyTermHelpers(pattern),
      '#include "tessera/key_runs.cuh"',
    ].join('\n'),
  );
}

/** The columns of a thread of lane quad `quad` in bit order (bit c: 8 (c / 2) + 2 quad + c % 2). */
const threadColumns = (tileK: number, quad: number) =>
  Array.from({ length: tileK / 4 }, (_, c) => 8 * (c >> 1) + 2 * quad + (c & 1));

describe('tp_run_bits', () => {
  it.skipIf(!hasCxx())('sets exactly the bits of the columns in [begin, end), for every range', () => {
    const tileK = 128;
    const out = runCxx(
      `${hostKeyRuns(attentionTilePattern(videoLayout(2, 4, 4), 1))}\nint main() {\n  for (int q = 0; q < 4; ++q) for (int b = 0; b <= ${tileK}; ++b) for (int e = b; e <= ${tileK}; ++e)\n    std::printf("%u ", tp_run_bits(b, e, q));\n}\n`,
    )
      .trim()
      .split(' ')
      .map(Number);
    let i = 0;
    for (let quad = 0; quad < 4; quad++) {
      const cols = threadColumns(tileK, quad);
      for (let begin = 0; begin <= tileK; begin++) {
        for (let end = begin; end <= tileK; end++) {
          const want = cols.reduce((w, col, c) => (col >= begin && col < end ? w | (1 << c) : w), 0) >>> 0;
          if (out[i++] !== want) expect.fail(`quad ${quad} [${begin}, ${end}): ${out[i - 1]} != ${want}`);
        }
      }
    }
    expect(i).toBe(out.length);
  });
});

interface TileCase {
  readonly key0: number;
  readonly mode: number;
  readonly rows: readonly [number, number];
  readonly quad: number;
}

/** Keep words of `cases` from the compiled `TpKeyRuns::tile_keep` of `pattern` at `tileK` keys per tile. */
function deviceKeep(pattern: PatternInstance, tileK: number, cases: readonly TileCase[]): number[][] {
  const rows = cases
    .map((c) => `{${c.key0}, ${c.mode}, ${c.rows[0]}, ${c.rows[1]}, ${c.quad}}`)
    .join(',\n    ');
  const program = `${hostKeyRuns(pattern)}
constexpr int kTileK = ${tileK};
using Runs = TpKeyRuns<kTileK, 256, true>;
static_assert(kMaskNone == ${MASK_MODE.none} && kMaskPadding == ${MASK_MODE.padding} && kMaskElements == ${MASK_MODE.elements}, "mask modes");
int main() {
  static const int cases[][5] = {
    ${rows}
  };
  for (const auto& c : cases) {
    TpKeyTerms tok[kTileK];
    unsigned starts[Runs::kRunWords] = {};
    for (int i = 0; i < kTileK; ++i) {
      tok[i] = tp_key_terms(tp_decode(c[0] + i));
      if (i == 0 || !tp_same_key_terms(tok[i], tok[i - 1])) starts[i >> 5] |= 1u << (i & 31);
    }
    const TpQueryTerms q[2] = {tp_query_terms(tp_decode(c[2])), tp_query_terms(tp_decode(c[3]))};
    unsigned keep0, keep1;
    Runs::tile_keep(tok, starts, c[1], q, c[4], keep0, keep1);
    std::printf("%u %u\\n", keep0, keep1);
  }
}
`;
  return runCxx(program)
    .trim()
    .split('\n')
    .map((line) => line.split(' ').map(Number));
}

/** The keep words the predicate asks for, and the number of runs of equal key terms in the tile. */
function expectedKeep(pattern: PatternInstance, tileK: number, c: TileCase): number[] {
  const { layout, predicate } = pattern;
  const cols = threadColumns(tileK, c.quad);
  return c.rows.map((row) => {
    const q = decodeToken(layout, row, []);
    let word = 0;
    cols.forEach((col, bit) => {
      const k = decodeToken(layout, c.key0 + col, []);
      const keep =
        c.mode === MASK_MODE.padding ? k !== null : q !== null && k !== null && evalBool(predicate, q, k);
      if (keep) word |= 1 << bit;
    });
    return word >>> 0;
  });
}

/** Random tiles (some past either end of the sequence), mask modes, query rows (some padding) and quads. */
function tileCases(pattern: PatternInstance, tileK: number, seed: number, n: number): TileCase[] {
  const len = pattern.layout.length;
  const arb = fc.record({
    key0: fc.integer({ min: -tileK / 2, max: len + 4 }),
    mode: fc.constantFrom(MASK_MODE.elements, MASK_MODE.elements, MASK_MODE.padding),
    rows: fc.tuple(fc.integer({ min: -2, max: len + 2 }), fc.integer({ min: -2, max: len + 2 })),
    quad: fc.integer({ min: 0, max: 3 }),
  });
  return fc.sample(arb, { numRuns: n, seed });
}

function checkPattern(pattern: PatternInstance, tileK: number, seed: number, n: number): void {
  const cases = tileCases(pattern, tileK, seed, n);
  const got = deviceKeep(pattern, tileK, cases);
  expect(got.length).toBe(cases.length);
  cases.forEach((c, i) => {
    const want = expectedKeep(pattern, tileK, c);
    if (got[i]![0] !== want[0] || got[i]![1] !== want[1])
      expect.fail(
        `${pattern.key}, tile of ${tileK} from key ${c.key0}, mode ${c.mode}, rows ${c.rows}, quad ${c.quad}: ` +
          `got ${got[i]} want ${want}`,
      );
  });
}

/**
 * Runs of keys of equal frame (or padding) in the tiles of `cases`: the Attention Tile key terms are functions
 * of the frame, so these are the runs `TpKeyRuns::tile_keep` walks.
 */
function frameRuns(pattern: PatternInstance, tileK: number, cases: readonly TileCase[]): number[] {
  const frame = (i: number) => decodeToken(pattern.layout, i, [])?.coords[0] ?? -1;
  return cases.map((c) => {
    let runs = 1;
    for (let i = 1; i < tileK; i++) if (frame(c.key0 + i) !== frame(c.key0 + i - 1)) runs++;
    return runs;
  });
}

describe('tp_tile_keep', () => {
  it.skipIf(!hasCxx())('keeps what Attention Tile allows, run by run (frames of 35 tokens)', () => {
    // 128 keys span 4-5 frames (plus padding past the end): at most kMaxRuns runs.
    const pattern = attentionTilePattern(videoLayout(8, 5, 7), 2);
    for (const tileK of [64, 128]) {
      const seed = Date.now() | 0;
      expect(
        Math.max(...frameRuns(pattern, tileK, tileCases(pattern, tileK, seed, 300))),
      ).toBeLessThanOrEqual(8);
      checkPattern(pattern, tileK, seed, 300);
    }
  });

  it.skipIf(!hasCxx())(
    'keeps what Attention Tile allows, key by key past 8 runs (frames of 6 tokens)',
    () => {
      const pattern = attentionTilePattern(videoLayout(40, 2, 3), 5);
      const seed = Date.now() | 0;
      const runs = frameRuns(pattern, 128, tileCases(pattern, 128, seed, 200));
      expect(runs.filter((r) => r > 8).length).toBeGreaterThan(runs.length / 2);
      checkPattern(pattern, 128, seed, 200);
    },
  );

  it.skipIf(!hasCxx())('keeps what random patterns allow on random layouts', () => {
    const patterns = fc.sample(patternInstanceArbitrary(300), { numRuns: 6, seed: Date.now() | 0 });
    patterns.forEach((pattern, i) => {
      checkPattern(pattern, i % 2 === 0 ? 128 : 64, i, 60);
    });
  });
});
