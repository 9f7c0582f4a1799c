import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  encodeFlexBlockMask,
  type FlexBlockMask,
  flexBlockMask,
  toFlexBlockMask,
} from '../../../codegen/flex/block-mask.js';
import { buildPlan } from '../../../compiler/plan/build.js';
import { decodeSafetensors } from '../../../core/safetensors.js';
import {
  attentionTilePattern,
  bruteForcePlan,
  patternMask,
  randomMask,
  seededRandom,
  type TestMask,
  testRuns,
} from '../../runtime/cpu/support.js';

/**
 * The loop that defines FlexAttention's block-mask format: full blocks are allowed outright, partial blocks
 * ask mask_mod, everything else is masked. Written from the format description, not from the exporter.
 */
function rebuildDense(
  m: { kvNum: Int32Array; kvIdx: Int32Array; fullNum: Int32Array; fullIdx: Int32Array },
  bq: number,
  bk: number,
  seqLen: number,
  maskMod: (q: number, k: number) => boolean,
): Uint8Array {
  const kb = Math.ceil(seqLen / bk);
  const dense = new Uint8Array(seqLen * seqLen);
  for (let q = 0; q < seqLen; q++) {
    const qb = Math.floor(q / bq);
    const full = new Set(m.fullIdx.subarray(qb * kb, qb * kb + m.fullNum[qb]!));
    const partial = new Set(m.kvIdx.subarray(qb * kb, qb * kb + m.kvNum[qb]!));
    for (let k = 0; k < seqLen; k++) {
      const b = Math.floor(k / bk);
      dense[q * seqLen + k] = full.has(b) || (partial.has(b) && maskMod(q, k)) ? 1 : 0;
    }
  }
  return dense;
}

function denseOf(mask: TestMask): Uint8Array {
  const n = mask.seqLen;
  return Uint8Array.from({ length: n * n }, (_, i) => (mask.allowed(Math.floor(i / n), i % n) ? 1 : 0));
}

function tensorsOf(m: FlexBlockMask) {
  return {
    kvNum: m.kvNumBlocks.data,
    kvIdx: m.kvIndices.data,
    fullNum: m.fullKvNumBlocks.data,
    fullIdx: m.fullKvIndices.data,
  };
}

describe('FlexAttention block-mask export', () => {
  it('rebuilds exactly the brute-force mask, padding included, at block sizes that do not divide S', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 48 }),
        fc.integer({ min: 1, max: 11 }),
        fc.integer({ min: 1, max: 11 }),
        fc.integer(),
        (seqLen, bq, bk, seed) => {
          const mask = randomMask(seededRandom(seed), seqLen);
          const plan = bruteForcePlan(mask, bq, bk);
          const exported = toFlexBlockMask(plan);
          expect(rebuildDense(tensorsOf(exported), bq, bk, seqLen, mask.allowed)).toEqual(denseOf(mask));
        },
      ),
      { numRuns: testRuns(150) },
    );
  });

  it('rebuilds the Attention Tile mask from compiler plans (padded frames, unaligned blocks)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 13 }),
        fc.integer({ min: 1, max: 13 }),
        (frames, height, width, a, unitPad, bq, bk) => {
          const pattern = attentionTilePattern(frames, height, width, Math.min(a, frames), unitPad);
          const mask = patternMask(pattern);
          const exported = toFlexBlockMask(buildPlan(pattern, bq, bk));
          expect(rebuildDense(tensorsOf(exported), bq, bk, mask.seqLen, mask.allowed)).toEqual(denseOf(mask));
        },
      ),
      { numRuns: testRuns(60) },
    );
  });

  it('has FlexAttention shapes, valid entries first and zero fill', () => {
    const rand = seededRandom(5);
    const mask = randomMask(rand, 37);
    const plan = bruteForcePlan(mask, 8, 6);
    const m = toFlexBlockMask(plan);
    const [qb, kb] = [plan.numQBlocks, plan.numKBlocks];
    expect(m.kvNumBlocks.shape).toEqual([1, 1, qb]);
    expect(m.kvIndices.shape).toEqual([1, 1, qb, kb]);
    expect(m.fullKvNumBlocks.shape).toEqual([1, 1, qb]);
    expect(m.fullKvIndices.shape).toEqual([1, 1, qb, kb]);
    for (const [num, idx] of [
      [m.kvNumBlocks.data, m.kvIndices.data],
      [m.fullKvNumBlocks.data, m.fullKvIndices.data],
    ] as const) {
      for (let q = 0; q < qb; q++) {
        const rowEntries = Array.from(idx.subarray(q * kb, (q + 1) * kb));
        const valid = rowEntries.slice(0, num[q]);
        expect(valid).toEqual([...valid].sort((a, b) => a - b));
        expect(new Set(valid).size).toBe(valid.length);
        expect(rowEntries.slice(num[q]).every((x) => x === 0)).toBe(true);
      }
    }
  });

  it('exports full blocks that touch padding as partial', () => {
    // 10 tokens, token 3 is padding, everything else sees everything: with 4x4 blocks, every block pair is
    // full in the plan, but query block 0 and key block 0 hold padding, so FlexAttention must mask there.
    const mask: TestMask = { seqLen: 10, isReal: (i) => i !== 3, allowed: (q, k) => q !== 3 && k !== 3 };
    const plan = bruteForcePlan(mask, 4, 4);
    expect(plan.stats.partial).toBe(0);
    const m = toFlexBlockMask(plan);
    expect(m.demotedBlocks).toBe(5); // (0,0) (0,1) (0,2) (1,0) (2,0)
    expect(Array.from(m.fullKvNumBlocks.data)).toEqual([0, 2, 2]);
    expect(Array.from(m.kvNumBlocks.data)).toEqual([3, 1, 1]);
    expect(rebuildDense(tensorsOf(m), 4, 4, 10, mask.allowed)).toEqual(denseOf(mask));
  });

  it('writes the four int32 tensors and the block sizes into safetensors', () => {
    const mask = randomMask(seededRandom(9), 29);
    const plan = bruteForcePlan(mask, 7, 5);
    const file = decodeSafetensors(encodeFlexBlockMask(plan));
    expect(file.metadata).toMatchObject({
      q_block_size: '7',
      kv_block_size: '5',
      seq_len: '29',
      pattern: 'random_s29',
      plan: plan.key,
    });
    const m = toFlexBlockMask(plan);
    const names = ['kv_num_blocks', 'kv_indices', 'full_kv_num_blocks', 'full_kv_indices'];
    const expected = [m.kvNumBlocks, m.kvIndices, m.fullKvNumBlocks, m.fullKvIndices];
    names.forEach((name, i) => {
      const t = file.tensors.get(name)!;
      expect(t.dtype).toBe('I32');
      expect(t.shape).toEqual(expected[i]!.shape);
      expect(Array.from(new Int32Array(t.bytes.buffer, t.bytes.byteOffset, t.bytes.length / 4))).toEqual(
        Array.from(expected[i]!.data),
      );
    });
  });

  it('pairs the tensors with the mask in flexBlockMask', () => {
    const plan = bruteForcePlan(randomMask(seededRandom(4), 20), 6, 4);
    const { mask, tensors } = flexBlockMask(plan);
    expect(tensors.map(([name]) => name)).toEqual([
      'kv_num_blocks',
      'kv_indices',
      'full_kv_num_blocks',
      'full_kv_indices',
    ]);
    expect(tensors[1]![1]).toBe(mask.kvIndices);
  });
});
