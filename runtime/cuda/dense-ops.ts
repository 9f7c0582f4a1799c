/**
 * The per-token CUDA model ops: linear layers through cuBLASLt (bias in the epilogue), LayerNorm, adaLN
 * modulation, gated residuals, activations, modulation rows, timestep features, patching and RoPE3D through
 * the generated kernels. Each op checks shapes and dtypes like the CPU op and returns a fresh arena tensor.
 */

import { TensorError } from '../../core/tensor.js';
import type { RopeSpec, TokenGrid } from '../model-ops.js';
import type { CudaDevice } from './device.js';
import type { CudaOpDType, CudaTensor, DeviceArena } from './device-arena.js';
import type { CudaGemm } from './gemm.js';
import { deviceView } from './model-attention.js';
import type { ModelKernels } from './op-kernels.js';

const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

function expect(
  name: string,
  t: CudaTensor,
  shape: readonly number[],
  dtype: CudaOpDType = 'bfloat16',
): void {
  const ok =
    t.dtype === dtype &&
    t.shape.length === shape.length &&
    t.shape.every((d, i) => shape[i] === -1 || d === shape[i]);
  if (!ok) {
    const want = shape.map((d) => (d === -1 ? '*' : String(d))).join(', ');
    throw new TensorError(name, `expected ${dtype} [${want}], got ${t.dtype} [${t.shape.join(', ')}]`);
  }
}

/** [B, N, D] and the modulation's row count, with the rows checked. */
function modDims(
  x: CudaTensor,
  mod: CudaTensor,
  rows: readonly number[],
): { N: number; D: number; K: number } {
  if (x.shape.length !== 3) throw new TensorError('x', `expected [B, N, D], got [${x.shape.join(', ')}]`);
  const [B, N, D] = x.shape as [number, number, number];
  const K = mod.shape[1] ?? 0;
  expect('modulation', mod, [B, K, D], 'float32');
  for (const row of rows)
    if (!Number.isInteger(row) || row < 0 || row >= K)
      throw new TensorError('modulation', `row ${row} is outside [0, ${K})`);
  return { N, D, K };
}

/** The per-token ops over one device's kernels, GEMMs and arena. */
export class CudaDenseOps {
  constructor(
    private readonly device: CudaDevice,
    private readonly arena: DeviceArena,
    private readonly kernels: ModelKernels,
    private readonly gemm: CudaGemm,
  ) {}

  linear(x: CudaTensor, w: CudaTensor, b: CudaTensor): CudaTensor {
    const width = x.shape[x.shape.length - 1] ?? 0;
    const out = w.shape[0] ?? 0;
    expect('linear weight', w, [out, width]);
    expect('linear bias', b, [out]);
    if (x.dtype !== 'bfloat16') throw new TensorError('linear input', `expected bfloat16, got ${x.dtype}`);
    const rows = width === 0 ? 0 : count(x.shape) / width;
    const y = this.arena.tensor('bfloat16', [...x.shape.slice(0, -1), out], 'linear out');
    this.gemm.run({
      a: deviceView(this.device, x, [rows * width]),
      b: deviceView(this.device, w, [out * width]),
      c: deviceView(this.device, y, [rows * out]),
      bias: deviceView(this.device, b, [out]),
      m: rows,
      n: out,
      k: width,
      transB: true,
    });
    return y;
  }

  /** LayerNorm, with the modulation fused in when `mod` is given. */
  layerNorm(
    x: CudaTensor,
    eps: number,
    mod?: { t: CudaTensor; shiftRow: number; scaleRow: number },
  ): CudaTensor {
    if (x.dtype !== 'bfloat16') throw new TensorError('x', `expected bfloat16, got ${x.dtype}`);
    const width = x.shape[x.shape.length - 1] ?? 1;
    const rows = count(x.shape) / width;
    let tokens = rows;
    let K = 0;
    if (mod) {
      const dims = modDims(x, mod.t, [mod.shiftRow, mod.scaleRow]);
      tokens = dims.N;
      K = dims.K;
    }
    const y = this.arena.tensor('bfloat16', x.shape, 'layer norm');
    this.kernels.launch('layerNorm', rows, {
      x: x.buffer.ptr,
      y: y.buffer.ptr,
      mod: mod ? mod.t.buffer.ptr : 0n,
      width,
      tokens: Math.max(1, tokens),
      mod_rows: K,
      shift_row: mod?.shiftRow ?? 0,
      scale_row: mod?.scaleRow ?? 0,
      eps,
    });
    return y;
  }

  modulate(x: CudaTensor, mod: CudaTensor, shiftRow: number, scaleRow: number): CudaTensor {
    const { N, D, K } = modDims(x, mod, [shiftRow, scaleRow]);
    expect('x', x, x.shape);
    const y = this.arena.tensor('bfloat16', x.shape, 'modulated');
    const total = count(x.shape);
    this.kernels.elementwise('modulate', total, {
      x: x.buffer.ptr,
      y: y.buffer.ptr,
      mod: mod.buffer.ptr,
      total,
      width: D,
      tokens: N,
      mod_rows: K,
      shift_row: shiftRow,
      scale_row: scaleRow,
    });
    return y;
  }

  /** x + gate * y, or x + y without `mod`. */
  gatedAdd(x: CudaTensor, y: CudaTensor, mod: CudaTensor | null, gateRow: number): CudaTensor {
    expect('y', y, x.shape);
    expect('x', x, x.shape);
    let dims = { N: 1, D: 1, K: 0 };
    if (mod) dims = modDims(x, mod, [gateRow]);
    const out = this.arena.tensor('bfloat16', x.shape, 'residual');
    const total = count(x.shape);
    this.kernels.elementwise('gatedAdd', total, {
      x: x.buffer.ptr,
      y: y.buffer.ptr,
      out: out.buffer.ptr,
      mod: mod ? mod.buffer.ptr : 0n,
      total,
      width: dims.D,
      tokens: dims.N,
      mod_rows: dims.K,
      gate_row: mod ? gateRow : 0,
    });
    return out;
  }

  activation(role: 'geluTanh' | 'silu', x: CudaTensor): CudaTensor {
    expect('x', x, x.shape);
    const y = this.arena.tensor('bfloat16', x.shape, role);
    const total = count(x.shape);
    this.kernels.elementwise(role, total, { x: x.buffer.ptr, y: y.buffer.ptr, total });
    return y;
  }

  modulationRows(table: CudaTensor, emb: CudaTensor): CudaTensor {
    if (table.shape.length !== 2)
      throw new TensorError('table', `expected [K, D], got [${table.shape.join(', ')}]`);
    const [K, D] = table.shape as [number, number];
    expect('table', table, [K, D]);
    const B = emb.shape[0] ?? 0;
    const width = emb.shape[1] ?? 0;
    if (emb.shape.length !== 2 || emb.dtype !== 'bfloat16' || (width !== K * D && width !== D))
      throw new TensorError(
        'embedding',
        `expected bfloat16 [B, ${K * D}] or [B, ${D}], got ${emb.dtype} [${emb.shape.join(', ')}]`,
      );
    const out = this.arena.tensor('float32', [B, K, D], 'modulation');
    const total = B * K * D;
    this.kernels.elementwise('modulationRows', total, {
      table: table.buffer.ptr,
      emb: emb.buffer.ptr,
      out: out.buffer.ptr,
      total,
      rows: K,
      width: D,
      emb_width: width,
    });
    return out;
  }

  timestepFeatures(timesteps: CudaTensor, channels: number): CudaTensor {
    if (channels % 2 !== 0)
      throw new TensorError('timestep features', `channels must be even, got ${channels}`);
    const B = timesteps.shape[0] ?? 0;
    const out = this.arena.tensor('bfloat16', [B, channels], 'timestep features');
    this.kernels.elementwise('timestepFeatures', (B * channels) / 2, {
      t: timesteps.buffer.ptr,
      out: out.buffer.ptr,
      batch: B,
      half: channels / 2,
    });
    return out;
  }

  patchify(x: CudaTensor, patch: readonly [number, number, number]): CudaTensor {
    if (x.shape.length !== 5)
      throw new TensorError('latents', `expected [B, C, T, H, W], got [${x.shape.join(', ')}]`);
    expect('latents', x, x.shape);
    const [B, C, T, H, W] = x.shape as [number, number, number, number, number];
    const [pt, ph, pw] = patch;
    if (pt !== 1 || H % ph !== 0 || W % pw !== 0)
      throw new TensorError(
        'latents',
        `height ${H} and width ${W} must be multiples of the patch ${ph} x ${pw} (temporal patch 1)`,
      );
    const out = this.arena.tensor('bfloat16', [B, T * (H / ph) * (W / pw), C * ph * pw], 'patches');
    const total = count(x.shape);
    this.kernels.elementwise('patchify', total, {
      x: x.buffer.ptr,
      out: out.buffer.ptr,
      total,
      channels: C,
      frames: T,
      height: H,
      width: W,
      ph,
      pw,
    });
    return out;
  }

  unpatchify(
    y: CudaTensor,
    grid: TokenGrid,
    patch: readonly [number, number, number],
    channels: number,
  ): CudaTensor {
    const [pt, ph, pw] = patch;
    const B = y.shape[0] ?? 0;
    expect('patch outputs', y, [B, grid.frames * grid.height * grid.width, pt * ph * pw * channels]);
    const out = this.arena.tensor(
      'bfloat16',
      [B, channels, grid.frames * pt, grid.height * ph, grid.width * pw],
      'latents',
    );
    const total = count(y.shape);
    this.kernels.elementwise('unpatchify', total, {
      y: y.buffer.ptr,
      out: out.buffer.ptr,
      total,
      channels,
      frames: grid.frames,
      hp: grid.height,
      wp: grid.width,
      pt,
      ph,
      pw,
    });
    return out;
  }

  /** RoPE3D; the tokens' frames sit at positions firstFrame... of the video (see ModelOps.rope3d). */
  rope3d(x: CudaTensor, heads: number, grid: TokenGrid, rope: RopeSpec, firstFrame = 0): CudaTensor {
    const N = grid.frames * grid.height * grid.width;
    const B = x.shape[0] ?? 0;
    const D = x.shape[2] ?? 0;
    expect('rope input', x, [B, N, D]);
    const headDim = D / heads;
    if (!Number.isInteger(headDim) || headDim % 6 !== 0)
      throw new TensorError('rope input', `head dim ${headDim} must be a multiple of 6 (three even chunks)`);
    if (!Number.isSafeInteger(firstFrame) || firstFrame < 0)
      throw new TensorError('rope input', `first frame ${firstFrame} must be a non-negative integer`);
    const y = this.arena.tensor('bfloat16', x.shape, 'rope');
    const pairs = count(x.shape) / 2;
    this.kernels.elementwise('rope3d', pairs, {
      x: x.buffer.ptr,
      y: y.buffer.ptr,
      pairs,
      heads,
      head_dim: headDim,
      frames: grid.frames,
      height: grid.height,
      width: grid.width,
      frame_offset: firstFrame,
      log2_base: Math.log2(rope.base),
      inv_scale_t: 1 / rope.interpolation[0],
      inv_scale_h: 1 / rope.interpolation[1],
      inv_scale_w: 1 / rope.interpolation[2],
    });
    return y;
  }
}
