/**
 * CPU kernels that know about positions: sinusoidal timestep features, patching latents into tokens and back,
 * and Open-Sora-Plan 1.2's 3D RoPE.
 *
 * RoPE3D (Open-Sora-Plan's opensora/models/diffusion/opensora/rope.py `RoPE3D` / `PositionGetter3D`, the same
 * code as VideoSys open_sora_plan_v120_transformer_3d.py): each head's channels are split in three equal chunks
 * rotated by the token's t, h and w position respectively.
 * Inside a chunk of width c the pairing is "rotate half": channel j pairs with j + c/2 and both turn by the
 * angle pos * base^(-2j / c), j < c/2 (inv_freq = 1 / base^(arange(0, c, 2) / c), frequencies concatenated
 * twice); positions are divided by the axis' interpolation scale.
 */
import { TensorError } from '../../core/tensor.js';
import type { OpPrecision, RopeSpec, TokenGrid } from '../model-ops.js';
import { allocate, type CpuTensor, expectDims } from './cpu-tensor.js';

/**
 * diffusers `Timesteps(channels, flip_sin_to_cos=True, downscale_freq_shift=0)`: [cos(t f), sin(t f)] with
 * f_i = exp(-ln(10000) * i / half), half = channels / 2.
 */
export function timestepFeatures(
  precision: OpPrecision,
  timesteps: Float32Array,
  channels: number,
): CpuTensor {
  if (channels % 2 !== 0)
    throw new TensorError('timestep features', `channels must be even, got ${channels}`);
  const half = channels / 2;
  const out = allocate(precision, [timesteps.length, channels]);
  for (let b = 0; b < timesteps.length; b++) {
    const t = timesteps[b]!;
    for (let i = 0; i < half; i++) {
      const angle = t * Math.exp((-Math.log(10000) * i) / half);
      out.data[b * channels + i] = Math.cos(angle);
      out.data[b * channels + half + i] = Math.sin(angle);
    }
  }
  return out;
}

/** [B, C, T, H, W] -> [B, T * (H/ph) * (W/pw), C * ph * pw], each token's vector ordered (c, i, j). */
export function patchify(
  precision: OpPrecision,
  x: CpuTensor,
  patch: readonly [number, number, number],
): CpuTensor {
  if (x.shape.length !== 5)
    throw new TensorError('latents', `expected [B, C, T, H, W], got [${x.shape.join(', ')}]`);
  const [B, C, T, H, W] = x.shape as [number, number, number, number, number];
  const [pt, ph, pw] = patch;
  if (pt !== 1 || H % ph !== 0 || W % pw !== 0) {
    throw new TensorError(
      'latents',
      `height ${H} and width ${W} must be multiples of the patch ${ph} x ${pw} (temporal patch 1)`,
    );
  }
  const Hp = H / ph;
  const Wp = W / pw;
  const width = C * ph * pw;
  const out = allocate(precision, [B, T * Hp * Wp, width]);
  let o = 0;
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++)
      for (let h = 0; h < Hp; h++)
        for (let w = 0; w < Wp; w++)
          for (let c = 0; c < C; c++)
            for (let i = 0; i < ph; i++)
              for (let j = 0; j < pw; j++)
                out.data[o++] = x.data[(((b * C + c) * T + t) * H + h * ph + i) * W + w * pw + j]!;
  return out;
}

/** [B, N, pt * ph * pw * C] ordered (o, i, j, c) -> [B, C, T * pt, H * ph, W * pw] (einsum "nthwopqc->nctohpwq"). */
export function unpatchify(
  precision: OpPrecision,
  y: CpuTensor,
  grid: TokenGrid,
  patch: readonly [number, number, number],
  channels: number,
): CpuTensor {
  const [pt, ph, pw] = patch;
  const { frames: T, height: Hp, width: Wp } = grid;
  const B = y.shape[0] ?? 0;
  expectDims('patch outputs', y, [B, T * Hp * Wp, pt * ph * pw * channels]);
  const [TT, HH, WW] = [T * pt, Hp * ph, Wp * pw];
  const out = allocate(precision, [B, channels, TT, HH, WW]);
  let src = 0;
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++)
      for (let h = 0; h < Hp; h++)
        for (let w = 0; w < Wp; w++)
          for (let o = 0; o < pt; o++)
            for (let i = 0; i < ph; i++)
              for (let j = 0; j < pw; j++)
                for (let c = 0; c < channels; c++)
                  out.data[(((b * channels + c) * TT + t * pt + o) * HH + h * ph + i) * WW + w * pw + j] =
                    y.data[src++]!;
  return out;
}

/** cos/sin tables [positions, c/2] of one axis. */
function axisTables(
  positions: number,
  chunk: number,
  base: number,
  scale: number,
): { cos: Float64Array; sin: Float64Array } {
  const half = chunk / 2;
  const cos = new Float64Array(positions * half);
  const sin = new Float64Array(positions * half);
  for (let p = 0; p < positions; p++) {
    for (let j = 0; j < half; j++) {
      const angle = (p / scale) * base ** ((-2 * j) / chunk);
      cos[p * half + j] = Math.cos(angle);
      sin[p * half + j] = Math.sin(angle);
    }
  }
  return { cos, sin };
}

/**
 * RoPE3D on x [B, N, heads * headDim] for tokens laid out frame-major over `grid`, whose frames sit at
 * positions firstFrame, firstFrame + 1, ... of the video (a sequence-parallel rank's slice).
 */
export function rope3d(
  precision: OpPrecision,
  x: CpuTensor,
  heads: number,
  grid: TokenGrid,
  rope: RopeSpec,
  firstFrame = 0,
): CpuTensor {
  const { frames: T, height: H, width: W } = grid;
  const N = T * H * W;
  const B = x.shape[0] ?? 0;
  const D = x.shape[2] ?? 0;
  expectDims('rope input', x, [B, N, D]);
  const headDim = D / heads;
  if (!Number.isInteger(headDim) || headDim % 6 !== 0) {
    throw new TensorError('rope input', `head dim ${headDim} must be a multiple of 6 (three even chunks)`);
  }
  if (!Number.isSafeInteger(firstFrame) || firstFrame < 0)
    throw new TensorError('rope input', `first frame ${firstFrame} must be a non-negative integer`);
  const chunk = headDim / 3;
  const half = chunk / 2;
  const tables = [
    axisTables(firstFrame + T, chunk, rope.base, rope.interpolation[0]),
    axisTables(H, chunk, rope.base, rope.interpolation[1]),
    axisTables(W, chunk, rope.base, rope.interpolation[2]),
  ];
  const out = allocate(precision, x.shape);
  const pos = [0, 0, 0];
  for (let n = 0; n < N; n++) {
    pos[0] = firstFrame + Math.floor(n / (H * W));
    pos[1] = Math.floor(n / W) % H;
    pos[2] = n % W;
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < heads; h++) {
        const base = (b * N + n) * D + h * headDim;
        for (let axis = 0; axis < 3; axis++) {
          const { cos, sin } = tables[axis]!;
          const row = pos[axis]! * half;
          const c0 = base + axis * chunk;
          for (let j = 0; j < half; j++) {
            const x1 = x.data[c0 + j]!;
            const x2 = x.data[c0 + half + j]!;
            out.data[c0 + j] = x1 * cos[row + j]! - x2 * sin[row + j]!;
            out.data[c0 + half + j] = x2 * cos[row + j]! + x1 * sin[row + j]!;
          }
        }
      }
    }
  }
  return out;
}
