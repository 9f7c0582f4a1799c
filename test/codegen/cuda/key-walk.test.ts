/**
 * The kernel's key walk, executed on the CPU: `renderKeyWalk` renders the same walk through a JavaScript
 * dialect, and the tiles it visits for every query block must be exactly the plan's key blocks (full row, then
 * partial row) cut into kernel tiles, with the right mask mode. The constants the JavaScript walk runs with
 * are read back from the rendered CUDA module (the pattern header and tessera.cuh), the tile size from the
 * instance, and the CUDA walk text must be the one the module contains.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CUDA_TILE_K, DEFAULT_CUDA_TUNING } from '../../../codegen/cuda/kernel-options.js';
import { KEY_WALK_SYMBOLS, keyWalkKind, MASK_MODE, renderKeyWalk } from '../../../codegen/cuda/key-walk.js';
import { renderCudaKernel } from '../../../codegen/cuda/module.js';
import { isRealToken } from '../../../compiler/layout.js';
import type { BlockPlan } from '../../../compiler/plan/plan.js';
import { builtinPlan } from '../../device/builtin-plans.js';
import { JS_PRELUDE, jsDialect } from '../common/js-dialect.js';
import { walkPlans } from './plan-fixture.js';

const runs = Number(process.env.TESSERA_TEST_RUNS ?? 30);

/** `constexpr int kName = <integer>;` and `constexpr bool kName = <bool>;` values of the rendered CUDA module. */
function cudaConstants(source: string): Record<string, number | boolean> {
  const out: Record<string, number | boolean> = {};
  for (const m of source.matchAll(/^constexpr int (k\w+) = (\d+);/gm)) out[m[1]!] = Number(m[2]);
  for (const m of source.matchAll(/^constexpr bool (k\w+) = (true|false);/gm)) out[m[1]!] = m[2] === 'true';
  return out;
}

type Tile = readonly [key0: number, mode: number];

/** The walk rendered as JavaScript, run for every query block. */
function runRenderedWalk(plan: BlockPlan): Tile[][] {
  const kernel = renderCudaKernel(plan, {
    headDim: 64,
    dtype: 'bfloat16',
    tuning: { ...DEFAULT_CUDA_TUNING, tileK: CUDA_TILE_K },
  });
  const cuda = kernel.source;
  expect(cuda).toContain(renderKeyWalk(plan));
  expect(kernel.tileK).toBe(CUDA_TILE_K);
  const fromCuda = cudaConstants(cuda);
  const constants = {
    kSeqLen: fromCuda.kSeqLen,
    kBlockK: fromCuda.kBlockK,
    kTileK: kernel.tileK,
    kPaddedKeyBlocks: fromCuda.kPaddedKeyBlocks,
    kMaskNone: fromCuda.kMaskNone,
    kMaskPadding: fromCuda.kMaskPadding,
    kMaskElements: fromCuda.kMaskElements,
  };
  for (const [name, value] of Object.entries(constants)) {
    if (name === 'kPaddedKeyBlocks') expect(typeof value, name).toBe('boolean');
    else expect(Number.isInteger(value), name).toBe(true);
  }
  const source = `${renderKeyWalk(plan, jsDialect([]))}
return { begin: ${KEY_WALK_SYMBOLS.begin}, next: ${KEY_WALK_SYMBOLS.next} };`;
  const scope = { ...JS_PRELUDE, ...constants };
  const walk = new Function(...Object.keys(scope), source)(...Object.values(scope)) as {
    begin(w: object, p: object, qb: number): void;
    next(w: { key0: number; mode: number }, p: object): boolean;
  };
  const params = {
    full_offsets: plan.full.offsets,
    full_indices: plan.full.indices,
    partial_offsets: plan.partial.offsets,
    partial_indices: plan.partial.indices,
    key_padding: plan.keyBlockHasPadding,
  };
  const rows: Tile[][] = [];
  for (let qb = 0; qb < plan.numQBlocks; qb++) {
    const w = { key0: -1, mode: -1 };
    const tiles: Tile[] = [];
    walk.begin(w, params, qb);
    while (walk.next(w, params)) {
      tiles.push([w.key0, w.mode]);
      if (tiles.length > plan.numKBlocks * (plan.blockK / CUDA_TILE_K)) break; // a runaway walk
    }
    rows.push(tiles);
  }
  return rows;
}

/** The oracle: the plan's full then partial key blocks, as kernel tiles that start before the sequence end. */
function expectedTiles(plan: BlockPlan, qb: number): Tile[] {
  const tiles: Tile[] = [];
  for (const [csr, partial] of [
    [plan.full, false],
    [plan.partial, true],
  ] as const) {
    for (let m = csr.offsets[qb]!; m < csr.offsets[qb + 1]!; m++) {
      const block = csr.indices[m]!;
      for (let first = block * plan.blockK; first < (block + 1) * plan.blockK; first += CUDA_TILE_K) {
        if (first >= plan.seqLen) continue;
        let mode: number = MASK_MODE.none;
        if (partial) mode = MASK_MODE.elements;
        else if (plan.keyBlockHasPadding[block] || first + CUDA_TILE_K > plan.seqLen)
          mode = MASK_MODE.padding;
        tiles.push([first, mode]);
      }
    }
  }
  return tiles;
}

/** Tiles read unmasked must hold only real keys inside the sequence (the kernel zero-fills past its end). */
function unmaskedTileProblems(plan: BlockPlan, rows: readonly Tile[][]): string[] {
  const layout = plan.pattern.layout;
  const real = Uint8Array.from({ length: plan.seqLen }, (_, i) => (isRealToken(layout, i) ? 1 : 0));
  const problems: string[] = [];
  for (const tiles of rows) {
    for (const [key0, mode] of tiles) {
      if (mode !== MASK_MODE.none) continue;
      for (let k = key0; k < key0 + CUDA_TILE_K; k++) {
        if (k >= plan.seqLen || !real[k]) {
          problems.push(`unmasked tile at ${key0} holds key ${k}, which is padding or past the end`);
          break;
        }
      }
    }
  }
  return problems;
}

function checkWalk(plan: BlockPlan): void {
  const rows = runRenderedWalk(plan);
  const text = (tiles: readonly Tile[]) => tiles.map(([k, m]) => `${k}:${m}`).join(' ');
  for (let qb = 0; qb < plan.numQBlocks; qb++) {
    const got = text(rows[qb]!);
    const want = text(expectedTiles(plan, qb));
    if (got !== want) expect(got, `${plan.key} query block ${qb}`).toBe(want);
  }
  expect(unmaskedTileProblems(plan, rows).slice(0, 3)).toEqual([]);
}

describe('the CUDA key walk, rendered as JavaScript and executed', () => {
  const fixed = walkPlans(true);

  it('covers every walk', () => {
    expect(new Set(fixed.map((w) => w.walk))).toEqual(new Set(['dense', 'units', 'csr']));
  });

  it.each(fixed.map((w) => [w.walk, w.plan.key, w.plan] as const))('%s walk of %s', (walk, _key, plan) => {
    expect(keyWalkKind(plan)).toBe(walk);
    checkWalk(plan);
  });

  it('visits the plan blocks of random built-in patterns, layouts and block sizes', () => {
    const patterns = [
      'attention_tile',
      'full',
      'causal',
      'frame_window',
      'spatial',
      'temporal',
      'dilated_frames',
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...patterns),
        fc.record({
          t: fc.integer({ min: 1, max: 6 }),
          h: fc.integer({ min: 1, max: 8 }),
          w: fc.integer({ min: 1, max: 12 }),
        }),
        fc.constantFrom(undefined, 16, 64, 128),
        fc.constantFrom(64, 128),
        fc.constantFrom(64, 128),
        (name, sizes, padUnit, blockQ, blockK) => {
          checkWalk(
            builtinPlan(
              name,
              { sizes, padUnit, params: name === 'attention_tile' ? { a: 1 } : undefined },
              blockQ,
              blockK,
            ),
          );
        },
      ),
      { numRuns: runs },
    );
  });
});
