import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  attentionShape,
  attentionStrides,
  contiguous,
  contiguousStrides,
  decodeValues,
  elementCount,
  encodeValues,
  expectShape,
  fromBfloat16Bits,
  fromFloat16Bits,
  fromStorage,
  fromValues,
  roundToDType,
  TensorError,
  toBfloat16Bits,
  toFloat16Bits,
  zeros,
} from '../../core/tensor.js';
import { testRuns } from '../runtime/cpu/support.js';

// Bit patterns worked out by hand from the binary16 layout (1 sign, 5 exponent bits with bias 15, 10 mantissa bits).
const FLOAT16: [number, number][] = [
  [0, 0x0000],
  [-0, 0x8000],
  [1, 0x3c00],
  [-2, 0xc000],
  [0.5, 0x3800],
  [65504, 0x7bff], // largest finite
  [-65504, 0xfbff],
  [65519, 0x7bff], // below the midpoint 65520
  [65520, 0x7c00], // midpoint: ties to the even neighbour, which is 2^16 = overflow
  [Number.POSITIVE_INFINITY, 0x7c00],
  [Number.NEGATIVE_INFINITY, 0xfc00],
  [2 ** -14, 0x0400], // smallest normal
  [2 ** -14 - 2 ** -24, 0x03ff], // largest subnormal
  [2 ** -24, 0x0001], // smallest subnormal
  [2 ** -25, 0x0000], // half the smallest subnormal: tie to even (zero)
  [-(2 ** -25), 0x8000],
  [3 * 2 ** -26, 0x0001], // 0.75 of the smallest subnormal rounds up
  [3 * 2 ** -25, 0x0002], // 1.5 subnormal steps: tie to even (2)
  [1 + 2 ** -11, 0x3c00], // tie between 0x3c00 and 0x3c01: even wins
  [1 + 3 * 2 ** -11, 0x3c02], // tie between 0x3c01 and 0x3c02: even wins
  [1 / 3, 0x3555],
  [0.1, 0x2e66],
];

// bfloat16 is the top half of binary32 (1 sign, 8 exponent bits with bias 127, 7 mantissa bits).
const BFLOAT16: [number, number][] = [
  [0, 0x0000],
  [-0, 0x8000],
  [1, 0x3f80],
  [-1, 0xbf80],
  [0.5, 0x3f00],
  [Math.PI, 0x4049],
  [1 / 3, 0x3eab],
  [(2 - 2 ** -7) * 2 ** 127, 0x7f7f], // largest finite
  [3.4028234663852886e38, 0x7f80], // binary32 max rounds up past the largest finite bfloat16
  [Number.POSITIVE_INFINITY, 0x7f80],
  [Number.NEGATIVE_INFINITY, 0xff80],
  [2 ** -126, 0x0080], // smallest normal
  [2 ** -133, 0x0001], // smallest subnormal
  [2 ** -134, 0x0000], // tie to even (zero)
  [1 + 2 ** -8, 0x3f80], // tie: even wins
  [1 + 3 * 2 ** -8, 0x3f82],
];

describe('16-bit float conversion', () => {
  it.each(FLOAT16)('float16(%d) = %i', (value, bits) => {
    expect(toFloat16Bits(value)).toBe(bits);
  });

  it.each(BFLOAT16)('bfloat16(%d) = %i', (value, bits) => {
    expect(toBfloat16Bits(value)).toBe(bits);
  });

  it('maps NaN to a quiet NaN and decodes every NaN pattern as NaN', () => {
    expect(toFloat16Bits(Number.NaN)).toBe(0x7e00);
    expect(toBfloat16Bits(Number.NaN)).toBe(0x7fc0);
    expect(fromFloat16Bits(0x7c01)).toBeNaN();
    expect(fromFloat16Bits(0xfe00)).toBeNaN();
    expect(fromBfloat16Bits(0x7f81)).toBeNaN();
    expect(fromBfloat16Bits(0xffc0)).toBeNaN();
  });

  // Exhaustive over all 65,536 patterns of each format: every value round-trips, and every midpoint between
  // neighbours goes to the even pattern (just above it: the upper one, just below it: the lower one).
  for (const [name, to, from, maxExp] of [
    ['float16', toFloat16Bits, fromFloat16Bits, 0x7c00],
    ['bfloat16', toBfloat16Bits, fromBfloat16Bits, 0x7f80],
  ] as const) {
    it(`${name}: every pattern round-trips and midpoints tie to even`, () => {
      // Collect failures instead of calling expect 300,000 times (which dominates the run time).
      const failures: string[] = [];
      const check = (x: number, want: number) => {
        const got = to(x);
        if (got !== want && failures.length < 10)
          failures.push(`${x} -> 0x${got.toString(16)}, want 0x${want.toString(16)}`);
      };
      for (let bits = 0; bits < 0x10000; bits++) {
        const magnitude = bits & 0x7fff;
        if (magnitude > maxExp) continue; // NaN
        check(from(bits), bits);
        // The largest finite value's upper neighbour is infinity (its midpoint is in the table); infinity has none.
        if (magnitude >= maxExp - 1) continue;
        const lo = from(bits);
        const hi = from(bits + 1);
        const mid = (lo + hi) / 2; // exact in float64: both are short binary fractions
        check(mid, bits % 2 === 0 ? bits : bits + 1);
        const nudge = (hi - lo) * 2 ** -20; // signed: points from lo toward hi
        check(mid + nudge, bits + 1);
        check(mid - nudge, bits);
      }
      expect(failures).toEqual([]);
    });
  }

  it('bfloat16 from binary32 equals the bit-level rounding of the binary32 pattern', () => {
    const view = new DataView(new ArrayBuffer(4));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (pattern) => {
        view.setUint32(0, pattern);
        const value = view.getFloat32(0);
        fc.pre(!Number.isNaN(value));
        // Round half to even on the low 16 bits, carrying into the exponent (and into infinity) as needed.
        const expected = Math.floor((pattern + 0x7fff + ((pattern >>> 16) & 1)) / 0x10000) & 0xffff;
        expect(toBfloat16Bits(value)).toBe(expected);
      }),
      { numRuns: testRuns(2000) },
    );
  });

  it('float32 rounding matches a DataView round trip', () => {
    const view = new DataView(new ArrayBuffer(4));
    fc.assert(
      fc.property(fc.double(), (x) => {
        view.setFloat32(0, x);
        expect(Object.is(roundToDType('float32', x), view.getFloat32(0))).toBe(true);
      }),
      { numRuns: testRuns(500) },
    );
  });

  it('encodes and decodes tensors of every float dtype', () => {
    const values = [1, -2.5, 1 / 3, 65504, 2 ** -24];
    expect(Array.from(decodeValues(fromValues('float16', [5], values)))).toEqual(
      values.map((v) => fromFloat16Bits(toFloat16Bits(v))),
    );
    expect(Array.from(encodeValues('bfloat16', [1, -1]))).toEqual([0x3f80, 0xbf80]);
    expect(Array.from(decodeValues(fromValues('int32', [2], [7.9, -3])))).toEqual([7, -3]);
  });
});

describe('tensor helpers', () => {
  it('computes element counts and row-major strides', () => {
    expect(elementCount([2, 3, 4])).toBe(24);
    expect(elementCount([])).toBe(1);
    expect(contiguousStrides([2, 3, 4])).toEqual([12, 4, 1]);
    expect(zeros('float32', [2, 3]).data).toBeInstanceOf(Float32Array);
  });

  it('gives attention strides that address the same element as the shape', () => {
    const [B, S, H, D] = [2, 5, 3, 4];
    for (const layout of ['bshd', 'bhsd'] as const) {
      const shape = attentionShape(layout, B, S, H, D);
      const rowMajor = contiguousStrides(shape);
      const s = attentionStrides(layout, S, H, D);
      const byAxis = layout === 'bshd' ? [s.batch, s.seq, s.head, s.dim] : [s.batch, s.head, s.seq, s.dim];
      expect(byAxis).toEqual(rowMajor);
    }
  });

  it('makes strided views contiguous', () => {
    // A 3x2 transposed view of a 2x3 row-major matrix [[1,2,3],[4,5,6]].
    const base = fromValues('float64', [2, 3], [1, 2, 3, 4, 5, 6]);
    const view = { ...base, shape: [3, 2], strides: [1, 3] };
    expect(Array.from(contiguous(view).data)).toEqual([1, 4, 2, 5, 3, 6]);
  });

  it('names the tensor and the expected shape on a mismatch', () => {
    const t = zeros('float32', [2, 3]);
    expect(() => expectShape('blocks.0.attn1.to_q.weight', t, [3, 2])).toThrow(
      "tensor 'blocks.0.attn1.to_q.weight': expected shape [3, 2], got [2, 3]",
    );
    expect(() => expectShape('x', t, [2, 3], 'float64')).toThrow(TensorError);
    expect(() => fromStorage('float32', [4], new Float32Array(3), 'w')).toThrow(
      "tensor 'w': shape [4] needs 4 elements, got 3",
    );
    expect(() => fromStorage('float32', [3], new Float64Array(3) as never, 'w')).toThrow(/Float32Array/);
    expect(() => zeros('uint8', [2, -1], 'm')).toThrow(/non-negative integers/);
  });
});
