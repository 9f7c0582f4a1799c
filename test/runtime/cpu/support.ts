/**
 * Test support for the CPU reference and the mask exporters: seeded random data, random masks with padding,
 * and a brute-force block plan builder (the independent oracle for plans: it evaluates every element pair).
 */
import { evalBool, type PatternInstance } from '../../../compiler/ir.js';
import { decodeToken, makeLayout } from '../../../compiler/layout.js';
import { type BlockCsr, type BlockPlan, blockGeometry } from '../../../compiler/plan/plan.js';

/** Property-test intensity: `TESSERA_TEST_RUNS` or `fallback`. */
export function testRuns(fallback: number): number {
  const n = Number(process.env.TESSERA_TEST_RUNS);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

/** The project's seeded uniform generator, so failures replay from fast-check's seed. */
export { seededUniform as seededRandom } from '../../../core/random.js';

/** `n` values uniform in [-spread, spread). */
export function randomValues(rand: () => number, n: number, spread = 1): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = (rand() * 2 - 1) * spread;
  return out;
}

/** A materialised test mask: allowed pairs on all tokens plus which tokens are padding. */
export interface TestMask {
  readonly seqLen: number;
  /** allowed(qi, ki) including padding (false whenever either side is padding). */
  readonly allowed: (qi: number, ki: number) => boolean;
  readonly isReal: (i: number) => boolean;
}

/**
 * A random mask shaped like tessera's patterns: tokens grouped in units of `unit` tokens (frames) with a random
 * unit-level matrix, sprinkled with element noise, a few fully masked query rows, and random padding tokens.
 * This gives full, partial and empty blocks at block sizes that do not divide the units.
 */
export function randomMask(rand: () => number, seqLen: number): TestMask {
  const unit = 1 + Math.floor(rand() * Math.max(1, seqLen / 2));
  const units = Math.ceil(seqLen / unit);
  const unitDensity = rand();
  const unitAllowed = Array.from({ length: units * units }, () => rand() < unitDensity);
  const noise = rand() < 0.5 ? 0 : rand() * 0.2;
  const paddingRate = rand() < 0.4 ? 0 : rand() * 0.3;
  const real = Array.from({ length: seqLen }, () => rand() >= paddingRate);
  const deadRows = new Set<number>();
  for (let i = 0; i < seqLen; i++) if (rand() < 0.1) deadRows.add(i);
  const matrix = new Uint8Array(seqLen * seqLen);
  for (let qi = 0; qi < seqLen; qi++) {
    for (let ki = 0; ki < seqLen; ki++) {
      let a = unitAllowed[Math.floor(qi / unit) * units + Math.floor(ki / unit)]!;
      if (rand() < noise) a = !a;
      matrix[qi * seqLen + ki] = real[qi] && real[ki] && !deadRows.has(qi) && a ? 1 : 0;
    }
  }
  return { seqLen, allowed: (qi, ki) => matrix[qi * seqLen + ki] === 1, isReal: (i) => real[i]! };
}

function toCsr(rows: number[][]): BlockCsr {
  const offsets = new Int32Array(rows.length + 1);
  rows.forEach((r, i) => {
    offsets[i + 1] = offsets[i]! + r.length;
  });
  return { offsets, indices: Int32Array.from(rows.flat()) };
}

/**
 * The block plan of `mask` at `blockQ x blockK`, classified by evaluating every element pair (brute force).
 * Only the fields the runtime reads are meaningful; `pattern` is a placeholder instance.
 */
export function bruteForcePlan(mask: TestMask, blockQ: number, blockK: number): BlockPlan {
  const geometry = blockGeometry(mask.seqLen, blockQ, blockK);
  const { seqLen, numQBlocks, numKBlocks } = geometry;
  const full: number[][] = [];
  const partial: number[][] = [];
  let nFull = 0;
  let nPartial = 0;
  let allowedPairs = 0;
  for (let qb = 0; qb < numQBlocks; qb++) {
    full.push([]);
    partial.push([]);
    for (let kb = 0; kb < numKBlocks; kb++) {
      let realPairs = 0;
      let allowed = 0;
      for (let qi = qb * blockQ; qi < Math.min(seqLen, (qb + 1) * blockQ); qi++) {
        for (let ki = kb * blockK; ki < Math.min(seqLen, (kb + 1) * blockK); ki++) {
          if (mask.isReal(qi) && mask.isReal(ki)) {
            realPairs++;
            if (mask.allowed(qi, ki)) allowed++;
          }
        }
      }
      allowedPairs += allowed;
      if (allowed === 0) continue;
      if (allowed === realPairs) {
        full[qb]!.push(kb);
        nFull++;
      } else {
        partial[qb]!.push(kb);
        nPartial++;
      }
    }
  }
  const hasPadding = (blocks: number, size: number) =>
    Uint8Array.from({ length: blocks }, (_, b) => {
      for (let i = b * size; i < Math.min(seqLen, (b + 1) * size); i++) if (!mask.isReal(i)) return 1;
      return 0;
    });
  const work = full.map((f, i) => f.length + partial[i]!.length);
  const schedule = Int32Array.from(work.map((_, i) => i).sort((a, b) => work[b]! - work[a]! || a - b));
  const total = numQBlocks * numKBlocks;
  let realTokens = 0;
  for (let i = 0; i < seqLen; i++) if (mask.isReal(i)) realTokens++;
  const layout = makeLayout({
    name: 'test',
    videoAxes: ['t'],
    videoSizes: [seqLen],
    tile: null,
    unitPad: 1,
    text: null,
  });
  return {
    ...geometry,
    key: `random_s${seqLen}_b${blockQ}x${blockK}`,
    pattern: {
      key: `random_s${seqLen}`,
      name: 'random',
      params: {},
      layout,
      predicate: { op: 'bool', value: true },
    },
    full: toCsr(full),
    partial: toCsr(partial),
    keyBlockHasPadding: hasPadding(numKBlocks, blockK),
    queryBlockHasPadding: hasPadding(numQBlocks, blockQ),
    schedule,
    closedForm: null,
    stats: {
      full: nFull,
      partial: nPartial,
      empty: total - nFull - nPartial,
      total,
      sparsity: (total - nFull - nPartial) / total,
      allowedPairs,
      realTokens,
    },
  };
}

/**
 * The Attention Tile pattern (SPEC §1.2) on a small frame-major layout, written directly as IR so tests do
 * not depend on the parser: query frame i sees key frame j iff i == j, j in G or i in G.
 */
export function attentionTilePattern(
  frames: number,
  height: number,
  width: number,
  a: number,
  unitPad: number,
): PatternInstance {
  const stride = Math.ceil(frames / a);
  const globals = Array.from({ length: a }, (_, i) => i * stride).filter((g) => g < frames);
  const layout = makeLayout({
    name: 'video',
    videoAxes: ['t', 'h', 'w'],
    videoSizes: [frames, height, width],
    tile: null,
    unitPad,
    text: null,
  });
  const frame = (side: 'q' | 'k') => ({ op: 'coord', side, axis: 0 }) as const;
  return {
    key: `attention_tile_a${a}_t${frames}x${height}x${width}_pad${layout.unitSlot}`,
    name: 'attention_tile',
    params: { a },
    layout,
    predicate: {
      op: 'or',
      args: [
        { op: 'cmp', cmp: 'eq', a: frame('q'), b: frame('k') },
        { op: 'inset', a: frame('k'), values: globals },
        { op: 'inset', a: frame('q'), values: globals },
      ],
    },
  };
}

/** A pattern's element mask by the IR's reference semantics (evalBool on decoded tokens), padding excluded. */
export function patternMask(pattern: PatternInstance): TestMask {
  const n = pattern.layout.length;
  const q: number[] = [];
  const k: number[] = [];
  return {
    seqLen: n,
    isReal: (i) => decodeToken(pattern.layout, i) !== null,
    allowed: (qi, ki) => {
      const tq = decodeToken(pattern.layout, qi, q);
      const tk = decodeToken(pattern.layout, ki, k);
      return tq !== null && tk !== null && evalBool(pattern.predicate, tq, tk);
    },
  };
}
