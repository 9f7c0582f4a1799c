import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { relativeError } from '../../../core/error-metrics.js';
import { TensorError } from '../../../core/tensor.js';
import {
  type AttentionInputs,
  type AttentionResult,
  blockSparseAttention,
  denseAttention,
} from '../../../runtime/cpu/index.js';
import { bruteForcePlan, randomMask, randomValues, seededRandom, testRuns } from './support.js';

type Layout = 'bshd' | 'bhsd';

/** Flat index of (b, s, h, d) in a layout, written out here independently of runtime/tensor.ts. */
function at(
  layout: Layout,
  S: number,
  H: number,
  D: number,
  b: number,
  s: number,
  h: number,
  d: number,
): number {
  return layout === 'bshd' ? ((b * S + s) * H + h) * D + d : ((b * H + h) * S + s) * D + d;
}

/** Textbook attention: materialise the whole score matrix of each (b, h) in float64, then softmax and P V. */
function naiveAttention(x: AttentionInputs, allowed: (q: number, k: number) => boolean) {
  const { batch: B, heads: H, seqLen: S, headDim: D, layout } = x;
  const out = new Float64Array(B * S * H * D);
  const lse = new Float64Array(B * H * S);
  const scale = 1 / Math.sqrt(D);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const scores: number[][] = [];
      for (let i = 0; i < S; i++) {
        scores.push([]);
        for (let j = 0; j < S; j++) {
          let dot = 0;
          for (let d = 0; d < D; d++)
            dot += x.q[at(layout, S, H, D, b, i, h, d)]! * x.k[at(layout, S, H, D, b, j, h, d)]!;
          scores[i]!.push(allowed(i, j) ? dot * scale : Number.NEGATIVE_INFINITY);
        }
      }
      for (let i = 0; i < S; i++) {
        const row = scores[i]!;
        const m = Math.max(...row);
        if (m === Number.NEGATIVE_INFINITY) {
          lse[(b * H + h) * S + i] = m;
          continue; // out stays 0
        }
        const e = row.map((s) => Math.exp(s - m));
        const z = e.reduce((a, c) => a + c, 0);
        lse[(b * H + h) * S + i] = m + Math.log(z);
        for (let d = 0; d < D; d++) {
          let o = 0;
          for (let j = 0; j < S; j++) o += (e[j]! / z) * x.v[at(layout, S, H, D, b, j, h, d)]!;
          out[at(layout, S, H, D, b, i, h, d)] = o;
        }
      }
    }
  }
  return { out, lse };
}

/** Output and lse agree with the reference; NaN anywhere (poison left over or 0/0) fails. */
function expectClose(got: AttentionResult, ref: { out: Float64Array; lse: Float64Array }, tol: number): void {
  expect(got.out.every((v) => !Number.isNaN(v))).toBe(true);
  expect(got.lse.every((v) => !Number.isNaN(v))).toBe(true);
  expect(relativeError(got.out, ref.out)).toBeLessThan(tol);
  for (let i = 0; i < ref.lse.length; i++) {
    if (ref.lse[i] === Number.NEGATIVE_INFINITY) expect(got.lse[i]).toBe(Number.NEGATIVE_INFINITY);
    else expect(Math.abs(got.lse[i]! - ref.lse[i]!)).toBeLessThan(tol * Math.max(1, Math.abs(ref.lse[i]!)));
  }
}

function poisoned(x: AttentionInputs, precision: 'float64' | 'float32'): AttentionResult {
  const Ctor = precision === 'float32' ? Float32Array : Float64Array;
  const out = new Ctor(x.batch * x.seqLen * x.heads * x.headDim).fill(Number.NaN);
  const lse = new Ctor(x.batch * x.heads * x.seqLen).fill(Number.NaN);
  return { out, lse };
}

const caseArb = fc.record({
  batch: fc.integer({ min: 1, max: 2 }),
  heads: fc.integer({ min: 1, max: 3 }),
  seqLen: fc.integer({ min: 1, max: 40 }),
  headDim: fc.integer({ min: 1, max: 24 }),
  layout: fc.constantFrom<Layout>('bshd', 'bhsd'),
  precision: fc.constantFrom<'float64' | 'float32'>('float64', 'float32'),
  // Large spreads make sharp softmaxes whose max subtraction matters.
  spread: fc.constantFrom(0.5, 2, 8),
  seed: fc.integer(),
});

type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

function makeCase(c: Case) {
  const rand = seededRandom(c.seed);
  const n = c.batch * c.seqLen * c.heads * c.headDim;
  const inputs: AttentionInputs = {
    q: randomValues(rand, n, c.spread),
    k: randomValues(rand, n, c.spread),
    v: randomValues(rand, n),
    layout: c.layout,
    batch: c.batch,
    heads: c.heads,
    seqLen: c.seqLen,
    headDim: c.headDim,
  };
  return { inputs, mask: randomMask(rand, c.seqLen), rand };
}

const tolerance = { float64: 1e-12, float32: 1e-5 };

describe('denseAttention', () => {
  it('matches textbook attention on random inputs, masks and layouts', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const { inputs, mask } = makeCase(c);
        const ref = naiveAttention(inputs, mask.allowed);
        const got = denseAttention(inputs, mask.allowed, {
          precision: c.precision,
          output: poisoned(inputs, c.precision),
        });
        expectClose(got, ref, tolerance[c.precision]);
      }),
      { numRuns: testRuns(60) },
    );
  });

  it('really computes in float32 in float32 mode: close to float64, but not equal', () => {
    const rand = seededRandom(5);
    const n = 2 * 33 * 2 * 40;
    const inputs: AttentionInputs = {
      q: randomValues(rand, n, 3),
      k: randomValues(rand, n, 3),
      v: randomValues(rand, n),
      layout: 'bshd',
      batch: 2,
      heads: 2,
      seqLen: 33,
      headDim: 40,
    };
    const causal = (qi: number, ki: number) => ki <= qi;
    const f64 = denseAttention(inputs, causal);
    for (const run of [
      denseAttention,
      (x: AttentionInputs, m: typeof causal, o: object) =>
        blockSparseAttention(
          x,
          bruteForcePlan({ seqLen: 33, allowed: m, isReal: () => true }, 8, 8),
          { allowed: m, isReal: () => true },
          o,
        ),
    ]) {
      const f32 = run(inputs, causal, { precision: 'float32' });
      expect(f32.out).toBeInstanceOf(Float32Array);
      const err = relativeError(f32.out, f64.out);
      expect(err).toBeLessThan(1e-5);
      expect(err).toBeGreaterThan(1e-9);
    }
  });

  it('gives 0 and -Infinity on fully masked rows, never NaN', () => {
    const rand = seededRandom(7);
    const inputs: AttentionInputs = {
      q: randomValues(rand, 2 * 5 * 3 * 4),
      k: randomValues(rand, 2 * 5 * 3 * 4),
      v: randomValues(rand, 2 * 5 * 3 * 4),
      layout: 'bhsd',
      batch: 2,
      heads: 3,
      seqLen: 5,
      headDim: 4,
    };
    const got = denseAttention(inputs, (qi, ki) => qi !== 2 && ki <= qi);
    for (let b = 0; b < 2; b++) {
      for (let h = 0; h < 3; h++) {
        expect(got.lse[(b * 3 + h) * 5 + 2]).toBe(Number.NEGATIVE_INFINITY);
        for (let d = 0; d < 4; d++) expect(got.out[at('bhsd', 5, 3, 4, b, 2, h, d)]).toBe(0);
      }
    }
    expect(got.out.every((v) => Number.isFinite(v))).toBe(true);
  });

  it('honours an explicit scale and does not overflow on large logits', () => {
    const inputs: AttentionInputs = {
      q: Float64Array.from([30, -30, 30, 30]),
      k: Float64Array.from([30, 30, -30, 30]),
      v: Float64Array.from([1, 2, 3, 4]),
      layout: 'bshd',
      batch: 1,
      heads: 1,
      seqLen: 2,
      headDim: 2,
    };
    // Row 0 logits: 10 * (900 - 900) = 0 and 10 * (-900 - 900) = -18000: a naive exp would underflow/overflow.
    const got = denseAttention(inputs, () => true, { scale: 10 });
    expect(got.out[0]).toBeCloseTo(1, 12);
    expect(got.out[1]).toBeCloseTo(2, 12);
    expect(got.lse[0]).toBeCloseTo(0, 12);
    expect(got.lse[1]).toBeCloseTo(18000, 9);
  });

  it('names the operand and the expected shape on a size mismatch', () => {
    const inputs: AttentionInputs = {
      q: new Float64Array(24),
      k: new Float64Array(23),
      v: new Float64Array(24),
      layout: 'bshd',
      batch: 1,
      heads: 2,
      seqLen: 3,
      headDim: 4,
    };
    expect(() => denseAttention(inputs, () => true)).toThrow(TensorError);
    expect(() => denseAttention(inputs, () => true)).toThrow("tensor 'k': expected shape [1, 3, 2, 4]");
  });
});

describe('blockSparseAttention', () => {
  it('matches denseAttention under brute-force plans at block sizes that do not divide S', () => {
    fc.assert(
      fc.property(
        caseArb,
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 9 }),
        (c, blockQ, blockK) => {
          const { inputs, mask } = makeCase(c);
          const plan = bruteForcePlan(mask, blockQ, blockK);
          const ref = denseAttention(inputs, mask.allowed);
          const got = blockSparseAttention(inputs, plan, mask, {
            precision: c.precision,
            output: poisoned(inputs, c.precision),
          });
          expectClose(
            got,
            { out: ref.out as Float64Array, lse: ref.lse as Float64Array },
            tolerance[c.precision],
          );
        },
      ),
      { numRuns: testRuns(60) },
    );
  });

  it('reads only the plan: dropping a computed block changes the result', () => {
    const rand = seededRandom(11);
    const S = 12;
    const inputs: AttentionInputs = {
      q: randomValues(rand, S * 4),
      k: randomValues(rand, S * 4),
      v: randomValues(rand, S * 4),
      layout: 'bshd',
      batch: 1,
      heads: 1,
      seqLen: S,
      headDim: 4,
    };
    const mask = { allowed: () => true, isReal: () => true };
    const plan = bruteForcePlan({ seqLen: S, ...mask }, 5, 5);
    const crippled = {
      ...plan,
      full: { offsets: plan.full.offsets, indices: plan.full.indices.map((kb) => (kb === 1 ? 0 : kb)) },
    };
    const good = blockSparseAttention(inputs, plan, mask);
    const bad = blockSparseAttention(inputs, crippled, mask);
    expect(relativeError(good.out, denseAttention(inputs, mask.allowed).out)).toBeLessThan(1e-12);
    expect(relativeError(bad.out, good.out)).toBeGreaterThan(1e-3);
  });

  it('rejects a plan for another sequence length', () => {
    const mask = { seqLen: 8, allowed: () => true, isReal: () => true };
    const plan = bruteForcePlan(mask, 4, 4);
    const inputs: AttentionInputs = {
      q: new Float64Array(9),
      k: new Float64Array(9),
      v: new Float64Array(9),
      layout: 'bshd',
      batch: 1,
      heads: 1,
      seqLen: 9,
      headDim: 1,
    };
    expect(() => blockSparseAttention(inputs, plan, mask)).toThrow(/is for 8 tokens/);
  });
});
