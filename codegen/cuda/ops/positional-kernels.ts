/**
 * Kernels that know about token positions: sinusoidal timestep features, patchify / unpatchify, Open-Sora-Plan
 * 1.2's RoPE3D (the convention of runtime/cpu/positional.ts: each head split in three chunks rotated by t,
 * h and w, "rotate half" pairing inside a chunk), and the row gather / scatter between the natural token order
 * and a pattern layout's order. bf16 storage, fp32 math.
 */
import { param } from '../kernel-params.js';
import type { OpKernelSpec } from './kernel-spec.js';

const THREADS = 256;

/** diffusers `Timesteps(flip_sin_to_cos=True, downscale_freq_shift=0)`. */
export const TIMESTEP_FEATURES: OpKernelSpec = {
  name: 'tp_timestep_features',
  doc: 'out[b] = [cos(t_b f_i), sin(t_b f_i)], f_i = exp(-ln(10000) i / half)',
  threads: THREADS,
  params: [param.in('t', 'float'), param.out('out'), param.i32('batch'), param.i32('half')],
  body: `  const float kLn10000 = 9.210340371976184f, kInvPi = 0.3183098861837907f;
  TP_GRID_LOOP(i, (long long)batch * half) {
    const long long b = i / half;
    const int f = (int)(i % half);
    // In units of pi: sincospif has no local-memory slow path for the large angles of t up to 1000.
    float s, c;
    sincospif(t[b] * expf(-kLn10000 * f / half) * kInvPi, &s, &c);
    out[b * 2 * half + f] = tp_bf16(c);
    out[b * 2 * half + half + f] = tp_bf16(s);
  }`,
};

/** [B, C, T, H, W] -> [B, T * (H / ph) * (W / pw), C * ph * pw], each token's vector ordered (c, i, j). */
export const PATCHIFY: OpKernelSpec = {
  name: 'tp_patchify',
  doc: 'latents [B, C, T, H, W] to patch vectors [B, N, C * ph * pw] ordered (c, i, j) like the conv kernel',
  threads: THREADS,
  params: [
    param.in('x'),
    param.out('out'),
    param.i64('total'),
    param.i32('channels'),
    param.i32('frames'),
    param.i32('height'),
    param.i32('width'),
    param.i32('ph'),
    param.i32('pw'),
  ],
  body: `  const int hp = height / ph, wp = width / pw;
  TP_GRID_LOOP(o, total) {
    long long r = o;
    const int j = r % pw; r /= pw;
    const int i = r % ph; r /= ph;
    const int c = r % channels; r /= channels;
    const int w = r % wp; r /= wp;
    const int h = r % hp; r /= hp;
    const int t = r % frames; r /= frames;
    out[o] = x[(((r * channels + c) * frames + t) * height + h * ph + i) * (long long)width + w * pw + j];
  }`,
};

/** [B, N, pt * ph * pw * C] ordered (o, i, j, c) -> [B, C, T * pt, H * ph, W * pw]. */
export const UNPATCHIFY: OpKernelSpec = {
  name: 'tp_unpatchify',
  doc: 'per-token outputs [B, N, pt * ph * pw * C] ordered (o, i, j, c) back to latents [B, C, T pt, H ph, W pw]',
  threads: THREADS,
  params: [
    param.in('y'),
    param.out('out'),
    param.i64('total'),
    param.i32('channels'),
    param.i32('frames'),
    param.i32('hp'),
    param.i32('wp'),
    param.i32('pt'),
    param.i32('ph'),
    param.i32('pw'),
  ],
  body: `  const int tt = frames * pt, hh = hp * ph, ww = wp * pw;
  TP_GRID_LOOP(e, total) {
    long long r = e;
    const int x = r % ww; r /= ww;
    const int yy = r % hh; r /= hh;
    const int z = r % tt; r /= tt;
    const int c = r % channels; r /= channels;
    const long long token = ((long long)(z / pt) * hp + yy / ph) * wp + x / pw;
    const long long tokens = (long long)frames * hp * wp;
    const int within = ((z % pt) * ph + yy % ph) * pw + x % pw;
    out[e] = y[(r * tokens + token) * ((long long)pt * ph * pw * channels) + (long long)within * channels + c];
  }`,
};

/** RoPE3D over [B, N, heads * head_dim], one thread per rotated pair. */
export const ROPE3D: OpKernelSpec = {
  name: 'tp_rope3d',
  doc: 'RoPE3D: per head, chunks t, h, w of head_dim / 3 channels; channel j pairs with j + chunk / 2; frames from frame_offset',
  threads: THREADS,
  params: [
    param.in('x'),
    param.out('y'),
    param.i64('pairs'),
    param.i32('heads'),
    param.i32('head_dim'),
    param.i32('frames'),
    param.i32('height'),
    param.i32('width'),
    param.i32('frame_offset'),
    param.f32('log2_base'),
    param.f32('inv_scale_t'),
    param.f32('inv_scale_h'),
    param.f32('inv_scale_w'),
  ],
  body: `  const float kInvPi = 0.3183098861837907f;
  const int chunk = head_dim / 3, half = chunk / 2;
  const long long tokens = (long long)frames * height * width;
  TP_GRID_LOOP(p, pairs) {
    long long r = p;
    const int j = r % half; r /= half;
    const int axis = r % 3; r /= 3;
    const int head = r % heads; r /= heads;
    const long long n = r % tokens;  // r / tokens is the batch index; the rows below already include it
    // Frames are numbered from frame_offset: a sequence-parallel rank rotates its slice by global positions.
    const int pos = axis == 0 ? frame_offset + (int)(n / ((long long)height * width)) : axis == 1 ? (int)(n / width % height) : (int)(n % width);
    const float inv = axis == 0 ? inv_scale_t : axis == 1 ? inv_scale_h : inv_scale_w;
    // sincospif reduces its argument exactly without a local-memory slow path (sincosf has one for large angles).
    const float turns = (pos * inv) * exp2f(-2.f * j / chunk * log2_base) * kInvPi;
    float s, c;
    sincospif(turns, &s, &c);
    const long long base = r * (long long)heads * head_dim + (long long)head * head_dim + axis * chunk;
    const float x1 = tp_load(x, base + j), x2 = tp_load(x, base + half + j);
    y[base + j] = tp_bf16(x1 * c - x2 * s);
    y[base + half + j] = tp_bf16(x2 * c + x1 * s);
  }`,
};

/** Rows of [B, N, width] into a layout's order [B, length, width]; padding slots (token -1) become 0. */
export const GATHER_ROWS: OpKernelSpec = {
  name: 'tp_gather_rows',
  doc: 'dst[b, i] = src[b, token_of[i]] (0 where token_of[i] < 0)',
  threads: THREADS,
  params: [
    param.in('src'),
    param.out('dst'),
    param.in('token_of', 'int'),
    param.i64('total'),
    param.i32('tokens'),
    param.i32('length'),
    param.i32('width'),
  ],
  body: `  TP_GRID_LOOP(e, total) {
    const int d = e % width;
    const long long row = e / width;
    const int i = row % length;
    const long long b = row / length;
    const int n = token_of[i];
    dst[e] = n < 0 ? (bf16)0 : src[(b * tokens + n) * width + d];
  }`,
};

/** The inverse of the gather: a layout's rows back to natural token order (padding slots dropped). */
export const SCATTER_ROWS: OpKernelSpec = {
  name: 'tp_scatter_rows',
  doc: 'dst[b, token_of[i]] = src[b, i] for every real slot i',
  threads: THREADS,
  params: [
    param.in('src'),
    param.out('dst'),
    param.in('token_of', 'int'),
    param.i64('total'),
    param.i32('tokens'),
    param.i32('length'),
    param.i32('width'),
  ],
  body: `  TP_GRID_LOOP(e, total) {
    const int d = e % width;
    const long long row = e / width;
    const int i = row % length;
    const long long b = row / length;
    const int n = token_of[i];
    if (n >= 0) dst[(b * tokens + n) * width + d] = src[e];
  }`,
};
