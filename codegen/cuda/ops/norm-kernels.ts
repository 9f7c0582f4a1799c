/**
 * Per-token kernels of the DiT block: LayerNorm (no affine) with the optional adaLN modulation fused in, the
 * modulation alone, the gated residual add, activations and the modulation rows. Activations are bf16, math
 * is fp32; modulation vectors are fp32 [B, K, D] (the CPU op keeps them in its working precision too).
 */
import { param } from '../kernel-params.js';
import type { OpKernelSpec } from './kernel-spec.js';

const THREADS = 256;

/** LayerNorm over rows of `width`, two passes in fp32; with `mod` set, also x * (1 + scale) + shift. */
export const LAYER_NORM: OpKernelSpec = {
  name: 'tp_layer_norm',
  doc: 'y = LN(x) (no affine, biased variance), then * (1 + mod[b, scale_row]) + mod[b, shift_row] when mod != 0',
  threads: THREADS,
  params: [
    param.in('x'),
    param.out('y'),
    param.in('mod', 'float'),
    param.i32('width'),
    param.i32('tokens'),
    param.i32('mod_rows'),
    param.i32('shift_row'),
    param.i32('scale_row'),
    param.f32('eps'),
  ],
  body: `  const long long row = blockIdx.x;
  const bf16* xr = x + row * width;
  bf16* yr = y + row * width;
  float sum = 0.f;
  for (int i = threadIdx.x; i < width; i += blockDim.x) sum += tp_load(xr, i);
  const float mean = tp_block_sum(sum) / width;
  float squares = 0.f;
  for (int i = threadIdx.x; i < width; i += blockDim.x) {
    const float d = tp_load(xr, i) - mean;
    squares += d * d;
  }
  const float inv = rsqrtf(tp_block_sum(squares) / width + eps);
  const long long b = row / tokens;
  const float* shift = mod ? mod + (b * mod_rows + shift_row) * width : nullptr;
  const float* scale = mod ? mod + (b * mod_rows + scale_row) * width : nullptr;
  for (int i = threadIdx.x; i < width; i += blockDim.x) {
    float o = (tp_load(xr, i) - mean) * inv;
    if (mod) o = o * (1.f + scale[i]) + shift[i];
    yr[i] = tp_bf16(o);
  }`,
};

/** adaLN modulation alone. */
export const MODULATE: OpKernelSpec = {
  name: 'tp_modulate',
  doc: 'y = x * (1 + mod[b, scale_row]) + mod[b, shift_row]; x [B, tokens, width]',
  threads: THREADS,
  params: [
    param.in('x'),
    param.out('y'),
    param.in('mod', 'float'),
    param.i64('total'),
    param.i32('width'),
    param.i32('tokens'),
    param.i32('mod_rows'),
    param.i32('shift_row'),
    param.i32('scale_row'),
  ],
  body: `  TP_GRID_LOOP(i, total) {
    const long long d = i % width;
    const long long b = i / ((long long)width * tokens);
    const float* m = mod + b * mod_rows * (long long)width;
    y[i] = tp_bf16(tp_load(x, i) * (1.f + m[scale_row * (long long)width + d]) + m[shift_row * (long long)width + d]);
  }`,
};

/** The gated residual; `mod` 0 means no gate (a plain add). */
export const GATED_ADD: OpKernelSpec = {
  name: 'tp_gated_add',
  doc: 'out = x + mod[b, gate_row] * y (x + y when mod == 0); x, y [B, tokens, width]',
  threads: THREADS,
  params: [
    param.in('x'),
    param.in('y'),
    param.out('out'),
    param.in('mod', 'float'),
    param.i64('total'),
    param.i32('width'),
    param.i32('tokens'),
    param.i32('mod_rows'),
    param.i32('gate_row'),
  ],
  body: `  TP_GRID_LOOP(i, total) {
    float gate = 1.f;
    if (mod) {
      const long long b = i / ((long long)width * tokens);
      gate = mod[(b * mod_rows + gate_row) * (long long)width + i % width];
    }
    out[i] = tp_bf16(tp_load(x, i) + gate * tp_load(y, i));
  }`,
};

/** GELU, tanh approximation (PyTorch approximate="tanh"). */
export const GELU_TANH: OpKernelSpec = {
  name: 'tp_gelu_tanh',
  doc: 'y = 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))',
  threads: THREADS,
  params: [param.in('x'), param.out('y'), param.i64('total')],
  body: `  const float kSqrt2OverPi = 0.7978845608028654f;
  TP_GRID_LOOP(i, total) {
    const float v = tp_load(x, i);
    y[i] = tp_bf16(0.5f * v * (1.f + tanhf(kSqrt2OverPi * (v + 0.044715f * v * v * v))));
  }`,
};

/** SiLU. */
export const SILU: OpKernelSpec = {
  name: 'tp_silu',
  doc: 'y = x * sigmoid(x)',
  threads: THREADS,
  params: [param.in('x'), param.out('y'), param.i64('total')],
  body: `  TP_GRID_LOOP(i, total) {
    const float v = tp_load(x, i);
    y[i] = tp_bf16(v / (1.f + expf(-v)));
  }`,
};

/** The per-block modulation vectors: a learned table plus the timestep embedding. */
export const MODULATION_ROWS: OpKernelSpec = {
  name: 'tp_modulation_rows',
  doc: 'out[b, k, d] = table[k, d] + emb[b, k * width + d] (emb_width = rows * width) or emb[b, d] (emb_width = width)',
  threads: THREADS,
  params: [
    param.in('table'),
    param.in('emb'),
    param.out('out', 'float'),
    param.i64('total'),
    param.i32('rows'),
    param.i32('width'),
    param.i32('emb_width'),
  ],
  body: `  TP_GRID_LOOP(i, total) {
    const long long kd = i % ((long long)rows * width);
    const long long b = i / ((long long)rows * width);
    const long long e = emb_width == width ? kd % width : kd;
    out[i] = tp_load(table, kd) + tp_load(emb, b * emb_width + e);
  }`,
};
