import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gaussianNoise, NORMALS_PER_BLOCK, philox4x32, RandomError } from '../../core/random.js';
import { testRuns } from '../runtime/cpu/support.js';

const RUNS = testRuns(30);

/** Philox4x32-10 written from the paper with BigInt products: an implementation independent of the runtime's. */
function philoxBigInt(counter: readonly number[], key: readonly number[]): number[] {
  const mask = 0xffffffffn;
  let [c0, c1, c2, c3] = counter.map(BigInt) as [bigint, bigint, bigint, bigint];
  let [k0, k1] = key.map(BigInt) as [bigint, bigint];
  for (let round = 0; round < 10; round++) {
    const p0 = 0xd2511f53n * c0;
    const p1 = 0xcd9e8d57n * c2;
    [c0, c1, c2, c3] = [(p1 >> 32n) ^ c1 ^ k0, p1 & mask, (p0 >> 32n) ^ c3 ^ k1, p0 & mask];
    k0 = (k0 + 0x9e3779b9n) & mask;
    k1 = (k1 + 0xbb67ae85n) & mask;
  }
  return [c0, c1, c2, c3].map(Number);
}

/** The documented float transform, restated: Box-Muller on (w + 0.5) / 2^32, then float32. */
function referenceNormals(seed: number, stream: number, count: number): number[] {
  const out: number[] = [];
  const key = [seed % 2 ** 32, Math.floor(seed / 2 ** 32)];
  for (let block = 0; out.length < count; block++) {
    const w = philoxBigInt([block, 0, stream % 2 ** 32, Math.floor(stream / 2 ** 32)], key);
    for (const [a, b] of [
      [w[0], w[1]],
      [w[2], w[3]],
    ] as [number, number][]) {
      const r = Math.sqrt(-2 * Math.log((a + 0.5) / 2 ** 32));
      out.push(Math.fround(r * Math.cos(2 * Math.PI * ((b + 0.5) / 2 ** 32))));
      out.push(Math.fround(r * Math.sin(2 * Math.PI * ((b + 0.5) / 2 ** 32))));
    }
  }
  return out.slice(0, count);
}

const word = fc.integer({ min: 0, max: 0xffffffff });

describe('Philox4x32-10', () => {
  it("matches Random123's known-answer vectors (Salmon et al. 2011, tests/kat_vectors)", () => {
    const kat: [number[], number[], number[]][] = [
      [
        [0, 0, 0, 0],
        [0, 0],
        [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8],
      ],
      [
        [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff],
        [0xffffffff, 0xffffffff],
        [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd],
      ],
      [
        [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
        [0xa4093822, 0x299f31d0],
        [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1],
      ],
    ];
    for (const [counter, key, expected] of kat) {
      expect([...philox4x32(counter as [number, number, number, number], key as [number, number])]).toEqual(
        expected,
      );
      expect(philoxBigInt(counter, key)).toEqual(expected);
    }
  });

  it('equals a BigInt implementation on random counters and keys', () => {
    fc.assert(
      fc.property(fc.tuple(word, word, word, word), fc.tuple(word, word), (counter, key) => {
        expect([...philox4x32(counter, key)]).toEqual(philoxBigInt(counter, key));
      }),
      { numRuns: RUNS * 10 },
    );
  });
});

describe('gaussianNoise', () => {
  it('equals the documented transform of an independent Philox', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        fc.integer({ min: 0, max: 2 ** 40 }),
        fc.integer({ min: 0, max: 37 }),
        (seed, stream, count) => {
          expect([...gaussianNoise(seed, stream, count)]).toEqual(referenceNormals(seed, stream, count));
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('is reproducible, prefix-stable, and differs across seeds and streams', () => {
    const a = gaussianNoise(7, 0, 1001);
    expect(gaussianNoise(7, 0, 1001)).toEqual(a);
    expect(gaussianNoise(7, 0, 10)).toEqual(a.subarray(0, 10));
    const differing = (b: Float32Array) => b.filter((v, i) => v !== a[i]).length;
    expect(differing(gaussianNoise(8, 0, 1001))).toBeGreaterThan(990);
    expect(differing(gaussianNoise(7, 1, 1001))).toBeGreaterThan(990);
    expect(NORMALS_PER_BLOCK).toBe(4);
  });

  it('has the moments and tails of N(0, 1) within 5 standard errors of the sample size', () => {
    const n = 400_000;
    const z = gaussianNoise(12345, 3, n);
    let m1 = 0;
    let m2 = 0;
    let m3 = 0;
    let m4 = 0;
    let tail = 0;
    for (const v of z) {
      m1 += v;
      m2 += v * v;
      m3 += v ** 3;
      m4 += v ** 4;
      if (Math.abs(v) > 2) tail++;
    }
    // Standard errors of sample moments of N(0,1): Var z^k = E z^2k - (E z^k)^2 (E z^2k = (2k-1)!!).
    const se = (variance: number) => 5 * Math.sqrt(variance / n);
    expect(Math.abs(m1 / n)).toBeLessThan(se(1));
    expect(Math.abs(m2 / n - 1)).toBeLessThan(se(3 - 1));
    expect(Math.abs(m3 / n)).toBeLessThan(se(15));
    expect(Math.abs(m4 / n - 3)).toBeLessThan(se(105 - 9));
    const pTail = 0.04550026389635842; // P(|Z| > 2) = erfc(2 / sqrt 2)
    expect(Math.abs(tail / n - pTail)).toBeLessThan(se(pTail * (1 - pTail)));
  });

  it('rejects seeds and streams that are not non-negative safe integers', () => {
    expect(() => gaussianNoise(-1, 0, 4)).toThrow(RandomError);
    expect(() => gaussianNoise(1.5, 0, 4)).toThrow(/seed/);
    expect(() => gaussianNoise(2 ** 53, 0, 4)).toThrow(/seed/);
    expect(() => gaussianNoise(0, -3, 4)).toThrow(/stream/);
  });
});
