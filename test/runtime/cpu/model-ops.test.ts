/**
 * The CPU ops of the graph, each against an independent naive implementation written here from the
 * definitions (PyTorch / diffusers semantics), or against a property the op must have.
 */
import { describe, expect, it } from 'vitest';
import { createCpuOps } from '../../../runtime/cpu/model-ops.js';
import { randomArray, relativeError } from '../../models/open-sora-plan/support.js';

const ops = createCpuOps('float64');
const up = (data: Float32Array, shape: number[]) => ops.upload(data, shape);
const values = (t: { data: ArrayLike<number> }) => Array.from(t.data);

/** erf by Abramowitz-Stegun 7.1.26 (|error| < 1.5e-7): an exact-GELU reference independent of tanh. */
function erf(x: number): number {
  const s = Math.sign(x);
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const y =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
      t *
      Math.exp(-a * a);
  return s * y;
}

describe('linear / layerNorm / activations', () => {
  it('linear equals the naive sum x W^T + b', () => {
    const x = randomArray(1, 5 * 7);
    const w = randomArray(2, 3 * 7);
    const b = randomArray(3, 3);
    const y = ops.linear(up(x, [5, 7]), up(w, [3, 7]), up(b, [3]));
    expect(y.shape).toEqual([5, 3]);
    for (let r = 0; r < 5; r++)
      for (let o = 0; o < 3; o++) {
        let s = b[o]!;
        for (let i = 0; i < 7; i++) s += x[r * 7 + i]! * w[o * 7 + i]!;
        expect(y.data[r * 3 + o]).toBeCloseTo(s, 12);
      }
  });

  it('layerNorm (no affine, eps 1e-6) matches the two-pass definition and gives mean 0, variance ~1', () => {
    const x = randomArray(4, 6 * 10, 3);
    const y = ops.layerNorm(up(x, [6, 10]), 1e-6);
    for (let r = 0; r < 6; r++) {
      const row = Array.from(x.subarray(r * 10, r * 10 + 10));
      const mean = row.reduce((a, b) => a + b, 0) / 10;
      const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / 10;
      const out = Array.from(y.data.subarray(r * 10, r * 10 + 10));
      out.forEach((v, i) => {
        expect(v).toBeCloseTo((row[i]! - mean) / Math.sqrt(variance + 1e-6), 12);
      });
      expect(out.reduce((a, b) => a + b, 0)).toBeCloseTo(0, 10);
      expect(out.reduce((a, b) => a + b * b, 0) / 10).toBeCloseTo(variance / (variance + 1e-6), 10);
    }
  });

  it('geluTanh is the tanh formula and stays within 1e-3 of the exact (erf) GELU', () => {
    const x = Float32Array.from({ length: 81 }, (_, i) => -6 + i * 0.15);
    const y = ops.geluTanh(up(x, [81]));
    x.forEach((v, i) => {
      const tanhForm = 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
      expect(y.data[i]).toBeCloseTo(tanhForm, 12);
      expect(Math.abs(y.data[i]! - 0.5 * v * (1 + erf(v / Math.SQRT2)))).toBeLessThan(1e-3);
    });
  });

  it('silu is x / (1 + e^-x)', () => {
    const x = randomArray(5, 30, 8);
    const y = ops.silu(up(x, [30]));
    x.forEach((v, i) => {
      expect(y.data[i]).toBeCloseTo(v * (1 / (1 + Math.exp(-v))), 12);
    });
  });
});

describe('modulation and gated residuals', () => {
  const B = 2;
  const N = 3;
  const D = 4;
  const x = randomArray(6, B * N * D);
  const y = randomArray(7, B * N * D);

  it('modulationRows adds a [B, K*D] embedding row-wise, or broadcasts a [B, D] one over the K rows', () => {
    const table = randomArray(8, 6 * D);
    const emb = randomArray(9, B * 6 * D);
    const mod = ops.modulationRows(up(table, [6, D]), up(emb, [B, 6 * D]));
    expect(mod.shape).toEqual([B, 6, D]);
    for (let b = 0; b < B; b++)
      for (let k = 0; k < 6; k++)
        for (let d = 0; d < D; d++)
          expect(mod.data[(b * 6 + k) * D + d]).toBeCloseTo(
            table[k * D + d]! + emb[b * 6 * D + k * D + d]!,
            12,
          );
    const small = randomArray(10, B * D);
    const two = ops.modulationRows(up(table.subarray(0, 2 * D), [2, D]), up(small, [B, D]));
    for (let b = 0; b < B; b++)
      for (let k = 0; k < 2; k++)
        for (let d = 0; d < D; d++)
          expect(two.data[(b * 2 + k) * D + d]).toBeCloseTo(table[k * D + d]! + small[b * D + d]!, 12);
  });

  it('modulate is x * (1 + scale) + shift with the batch element own rows', () => {
    const mod = randomArray(11, B * 6 * D);
    const out = ops.modulate(up(x, [B, N, D]), up(mod, [B, 6, D]), 3, 4);
    for (let b = 0; b < B; b++)
      for (let n = 0; n < N; n++)
        for (let d = 0; d < D; d++) {
          const shift = mod[(b * 6 + 3) * D + d]!;
          const scale = mod[(b * 6 + 4) * D + d]!;
          expect(out.data[(b * N + n) * D + d]).toBeCloseTo(
            x[(b * N + n) * D + d]! * (1 + scale) + shift,
            12,
          );
        }
  });

  it('a zero gate leaves the residual stream exactly unchanged; a gate of one adds the branch', () => {
    const mod = randomArray(12, B * 6 * D);
    for (let b = 0; b < B; b++)
      for (let d = 0; d < D; d++) {
        mod[(b * 6 + 2) * D + d] = 0;
        mod[(b * 6 + 5) * D + d] = 1;
      }
    const zero = ops.gatedAdd(up(x, [B, N, D]), up(y, [B, N, D]), up(mod, [B, 6, D]), 2);
    expect(values(zero)).toEqual(Array.from(x));
    const one = ops.gatedAdd(up(x, [B, N, D]), up(y, [B, N, D]), up(mod, [B, 6, D]), 5);
    values(one).forEach((v, i) => {
      expect(v).toBeCloseTo(x[i]! + y[i]!, 12);
    });
  });
});

describe('timestep features', () => {
  it('are [cos(t f), sin(t f)] with f_i = 10000^(-i / half) (diffusers flip_sin_to_cos, shift 0)', () => {
    const t = Float32Array.from([0, 1, 999, 417.5]);
    const feats = ops.timestepFeatures(t, 16);
    for (let b = 0; b < t.length; b++)
      for (let i = 0; i < 8; i++) {
        const f = 10000 ** (-i / 8);
        expect(feats.data[b * 16 + i]).toBeCloseTo(Math.cos(t[b]! * f), 10);
        expect(feats.data[b * 16 + 8 + i]).toBeCloseTo(Math.sin(t[b]! * f), 10);
      }
  });
});

describe('patching', () => {
  const [B, C, T, H, W] = [2, 3, 2, 4, 6];
  const x = randomArray(13, B * C * T * H * W);

  it('patchify + linear is the stride-2 conv of the patch embedding', () => {
    const Dout = 5;
    const kernel = randomArray(14, Dout * C * 2 * 2);
    const bias = randomArray(15, Dout);
    const tokens = ops.patchify(up(x, [B, C, T, H, W]), [1, 2, 2]);
    const y = ops.linear(tokens, up(kernel, [Dout, C * 4]), up(bias, [Dout]));
    const [Hp, Wp] = [H / 2, W / 2];
    for (let b = 0; b < B; b++)
      for (let t = 0; t < T; t++)
        for (let h = 0; h < Hp; h++)
          for (let w = 0; w < Wp; w++)
            for (let o = 0; o < Dout; o++) {
              let s = bias[o]!;
              for (let c = 0; c < C; c++)
                for (let i = 0; i < 2; i++)
                  for (let j = 0; j < 2; j++)
                    s +=
                      kernel[((o * C + c) * 2 + i) * 2 + j]! *
                      x[(((b * C + c) * T + t) * H + 2 * h + i) * W + 2 * w + j]!;
              const n = (t * Hp + h) * Wp + w;
              expect(y.data[(b * T * Hp * Wp + n) * Dout + o]).toBeCloseTo(s, 12);
            }
  });

  it('unpatchify places output (o, i, j, c) at [c, t + o, 2h + i, 2w + j]', () => {
    const grid = { frames: T, height: H / 2, width: W / 2 };
    const N = T * grid.height * grid.width;
    const y = randomArray(16, B * N * 4 * C);
    const out = ops.unpatchify(up(y, [B, N, 4 * C]), grid, [1, 2, 2], C);
    expect(out.shape).toEqual([B, C, T, H, W]);
    for (let b = 0; b < B; b++)
      for (let n = 0; n < N; n++)
        for (let i = 0; i < 2; i++)
          for (let j = 0; j < 2; j++)
            for (let c = 0; c < C; c++) {
              const t = Math.floor(n / (grid.height * grid.width));
              const h = Math.floor(n / grid.width) % grid.height;
              const w = n % grid.width;
              expect(out.data[(((b * C + c) * T + t) * H + 2 * h + i) * W + 2 * w + j]).toBe(
                y[((b * N + n) * 4 + i * 2 + j) * C + c],
              );
            }
  });
});

describe('3D RoPE', () => {
  const grid = { frames: 3, height: 4, width: 5 };
  const N = 60;
  const heads = 2;
  const headDim = 12;
  const D = heads * headDim;
  const rope = { base: 10000, interpolation: [1, 1, 1] as [number, number, number] };
  const coords = (n: number) => [Math.floor(n / 20), Math.floor(n / 5) % 4, n % 5];

  it('rotates each (j, j + c/2) pair of the t, h and w chunks as a complex number by pos * base^(-2j/c)', () => {
    const x = randomArray(17, N * D);
    const out = ops.rope3d(up(x, [1, N, D]), heads, grid, rope);
    const chunk = headDim / 3;
    const half = chunk / 2;
    for (let n = 0; n < N; n++)
      for (let h = 0; h < heads; h++)
        for (let axis = 0; axis < 3; axis++)
          for (let j = 0; j < half; j++) {
            const base = n * D + h * headDim + axis * chunk;
            const [re, im] = [x[base + j]!, x[base + half + j]!];
            const theta = coords(n)[axis]! / 10000 ** ((2 * j) / chunk);
            // (re + i im) * e^{i theta}
            expect(out.data[base + j]).toBeCloseTo(re * Math.cos(theta) - im * Math.sin(theta), 12);
            expect(out.data[base + half + j]).toBeCloseTo(re * Math.sin(theta) + im * Math.cos(theta), 12);
          }
  });

  it('makes q . k depend only on the relative position, and keeps norms', () => {
    // Every token carries the same q (and the same k) vector, so after RoPE the logit between tokens a and b
    // can only depend on their positions; invariance means it depends on the offset alone.
    const q = randomArray(18, D);
    const k = randomArray(19, D);
    const qs = new Float32Array(N * D);
    const ks = new Float32Array(N * D);
    for (let n = 0; n < N; n++) {
      qs.set(q, n * D);
      ks.set(k, n * D);
    }
    const rq = ops.rope3d(up(qs, [1, N, D]), heads, grid, rope).data;
    const rk = ops.rope3d(up(ks, [1, N, D]), heads, grid, rope).data;
    const dot = (a: number, b: number, h: number) => {
      let s = 0;
      for (let d = 0; d < headDim; d++) s += rq[a * D + h * headDim + d]! * rk[b * D + h * headDim + d]!;
      return s;
    };
    const tok = (t: number, h: number, w: number) => (t * 4 + h) * 5 + w;
    for (let h = 0; h < heads; h++) {
      // Offset (1, 2, -1) seen from two different starting points.
      expect(dot(tok(0, 0, 3), tok(1, 2, 2), h)).toBeCloseTo(dot(tok(1, 1, 4), tok(2, 3, 3), h), 10);
      // Offset 0 at any position equals the unrotated q . k.
      let plain = 0;
      for (let d = 0; d < headDim; d++) plain += q[h * headDim + d]! * k[h * headDim + d]!;
      expect(dot(tok(2, 3, 4), tok(2, 3, 4), h)).toBeCloseTo(plain, 10);
    }
    const norm = (a: ArrayLike<number>, off: number) => {
      let s = 0;
      for (let d = 0; d < D; d++) s += a[off + d]! ** 2;
      return s;
    };
    expect(norm(rq, tok(2, 1, 3) * D)).toBeCloseTo(norm(q, 0), 10);
  });

  it('divides positions by the interpolation scale', () => {
    const x = randomArray(20, N * D);
    const scaled = ops.rope3d(up(x, [1, N, D]), heads, grid, { base: 10000, interpolation: [2, 1, 1] }).data;
    const plain = ops.rope3d(up(x, [1, N, D]), heads, grid, rope).data;
    // The h and w chunks are unaffected by the t scale; the t chunk of frame 2 at scale 2 is frame 1 unscaled.
    const chunk = headDim / 3;
    for (let d = chunk; d < headDim; d++) expect(scaled[5 * D + d]).toBeCloseTo(plain[5 * D + d]!, 12);
    const xs = new Float32Array(N * D);
    for (let n = 0; n < N; n++) xs.set(x.subarray(0, D), n * D);
    const a = ops.rope3d(up(xs, [1, N, D]), heads, grid, { base: 10000, interpolation: [2, 1, 1] }).data;
    const b = ops.rope3d(up(xs, [1, N, D]), heads, grid, rope).data;
    for (let d = 0; d < chunk; d++) expect(a[2 * 20 * D + d]).toBeCloseTo(b[1 * 20 * D + d]!, 12);
  });
  it('rotates a slice of frames by their global positions (firstFrame: a sequence-parallel rank)', () => {
    const x = randomArray(21, N * D);
    const whole = ops.rope3d(up(x, [1, N, D]), heads, grid, rope).data;
    // Frames 1 and 2 alone, numbered from 1: the same values as rows 20..59 of the whole.
    const slice = x.subarray(20 * D);
    const part = ops.rope3d(up(slice, [1, 40, D]), heads, { ...grid, frames: 2 }, rope, 1).data;
    expect(Array.from(part)).toEqual(Array.from(whole.subarray(20 * D)));
    const unshifted = ops.rope3d(up(slice, [1, 40, D]), heads, { ...grid, frames: 2 }, rope).data;
    expect(Array.from(unshifted)).not.toEqual(Array.from(whole.subarray(20 * D)));
    expect(() => ops.rope3d(up(slice, [1, 40, D]), heads, { ...grid, frames: 2 }, rope, -1)).toThrow(
      /first frame -1/,
    );
  });
});

describe('cross-attention', () => {
  it('ignores padded text tokens (whatever their values) and matches a naive softmax over the real ones', () => {
    const [B, N, L, heads, hd] = [2, 3, 4, 2, 3];
    const D = heads * hd;
    const q = randomArray(21, B * N * D);
    const k = randomArray(22, B * L * D);
    const v = randomArray(23, B * L * D);
    const mask = Uint8Array.from([1, 1, 0, 0, 1, 1, 1, 1]);
    const poisoned = v.slice();
    for (const l of [2, 3]) for (let d = 0; d < D; d++) poisoned[l * D + d] = 1e6;
    const out = ops.crossAttention(up(q, [B, N, D]), up(k, [B, L, D]), up(poisoned, [B, L, D]), heads, mask);
    for (let b = 0; b < B; b++)
      for (let n = 0; n < N; n++)
        for (let h = 0; h < heads; h++) {
          const real = [0, 1, 2, 3].filter((l) => mask[b * L + l] === 1);
          const logits = real.map((l) => {
            let s = 0;
            for (let d = 0; d < hd; d++)
              s += q[(b * N + n) * D + h * hd + d]! * k[(b * L + l) * D + h * hd + d]!;
            return s / Math.sqrt(hd);
          });
          const m = Math.max(...logits);
          const e = logits.map((z) => Math.exp(z - m));
          const sum = e.reduce((a, c) => a + c, 0);
          for (let d = 0; d < hd; d++) {
            const ref = real.reduce((acc, l, j) => acc + (e[j]! / sum) * v[(b * L + l) * D + h * hd + d]!, 0);
            expect(out.data[(b * N + n) * D + h * hd + d]).toBeCloseTo(ref, 10);
          }
        }
  });

  it("attends over every key of a batch element with no real text token, as upstream's -10000 bias does", () => {
    const [q, k, v] = [randomArray(24, 2 * 6), randomArray(25, 2 * 2 * 6), randomArray(26, 2 * 2 * 6)];
    const none = ops.crossAttention(
      up(q, [2, 1, 6]),
      up(k, [2, 2, 6]),
      up(v, [2, 2, 6]),
      2,
      Uint8Array.of(1, 0, 0, 0),
    );
    const all = ops.crossAttention(
      up(q, [2, 1, 6]),
      up(k, [2, 2, 6]),
      up(v, [2, 2, 6]),
      2,
      Uint8Array.of(1, 0, 1, 1),
    );
    // The additive mask itself, in float64: softmax(s - 10000) over both keys.
    const biased = (b: number, h: number, d: number) => {
      const s = [0, 1].map((l) => {
        let dot = 0;
        for (let i = 0; i < 3; i++) dot += q[b * 6 + h * 3 + i]! * k[(b * 2 + l) * 6 + h * 3 + i]!;
        return dot / Math.sqrt(3) - 10000;
      });
      const m = Math.max(...s);
      const e = s.map((z) => Math.exp(z - m));
      return (e[0]! * v[b * 2 * 6 + h * 3 + d]! + e[1]! * v[(b * 2 + 1) * 6 + h * 3 + d]!) / (e[0]! + e[1]!);
    };
    for (let h = 0; h < 2; h++)
      for (let d = 0; d < 3; d++) expect(none.data[6 + h * 3 + d]).toBeCloseTo(biased(1, h, d), 9);
    expect(Array.from(none.data.subarray(6))).toEqual(Array.from(all.data.subarray(6)));
    expect(Array.from(none.data.subarray(0, 6))).toEqual(Array.from(all.data.subarray(0, 6)));
  });
});

describe('float32 storage', () => {
  it('rounds every stored value to float32 and stays close to float64', () => {
    const f32 = createCpuOps('float32');
    const x = randomArray(27, 4 * 9);
    const w = randomArray(28, 5 * 9);
    const b = randomArray(29, 5);
    const lo = f32.linear(f32.upload(x, [4, 9]), f32.upload(w, [5, 9]), f32.upload(b, [5]));
    const hi = ops.linear(up(x, [4, 9]), up(w, [5, 9]), up(b, [5]));
    expect(lo.data).toBeInstanceOf(Float32Array);
    expect(relativeError(lo.data, hi.data)).toBeLessThan(1e-6);
  });
});
