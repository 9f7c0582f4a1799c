/** The CPU implementation of the graph's operations: float64 (the oracle) or float32 storage. */
import { TensorError } from '../../core/tensor.js';
import type { ModelOps, OpPrecision } from '../model-ops.js';
import { allocate, type CpuTensor, sizeOf } from './cpu-tensor.js';
import {
  add,
  gatedAdd,
  geluTanh,
  layerNorm,
  layerNormModulate,
  linear,
  modulate,
  modulationRows,
  silu,
} from './dense-ops.js';
import { crossAttention, selfAttention } from './model-attention.js';
import { patchify, rope3d, timestepFeatures, unpatchify } from './positional-ops.js';

export type { CpuTensor } from './cpu-tensor.js';

/** CPU ops computing in `precision`. */
export function createCpuOps(precision: OpPrecision = 'float64'): ModelOps<CpuTensor> {
  const p = precision;
  return {
    name: `cpu ${precision}`,
    precision,
    upload(data, shape) {
      if (data.length !== sizeOf(shape))
        throw new TensorError(
          'upload',
          `shape [${shape.join(', ')}] needs ${sizeOf(shape)} elements, got ${data.length}`,
        );
      const t = allocate(p, shape);
      t.data.set(data);
      return t;
    },
    download: (t) => (t.data instanceof Float32Array ? t.data.slice() : Float32Array.from(t.data)),
    reshape(t, shape) {
      if (sizeOf(shape) !== t.data.length)
        throw new TensorError('reshape', `cannot view [${t.shape.join(', ')}] as [${shape.join(', ')}]`);
      return { shape: [...shape], data: t.data };
    },
    linear: (x, w, b) => linear(p, x, w, b),
    layerNorm: (x, eps) => layerNorm(p, x, eps),
    modulate: (x, mod, shiftRow, scaleRow) => modulate(p, x, mod, shiftRow, scaleRow),
    layerNormModulate: (x, eps, mod, shiftRow, scaleRow) =>
      layerNormModulate(p, x, eps, mod, shiftRow, scaleRow),
    gatedAdd: (x, y, mod, gateRow) => gatedAdd(p, x, y, mod, gateRow),
    add: (x, y) => add(p, x, y),
    geluTanh: (x) => geluTanh(p, x),
    silu: (x) => silu(p, x),
    modulationRows: (table, emb) => modulationRows(p, table, emb),
    timestepFeatures: (timesteps, channels) => timestepFeatures(p, timesteps, channels),
    patchify: (x, patch) => patchify(p, x, patch),
    unpatchify: (y, grid, patch, channels) => unpatchify(p, y, grid, patch, channels),
    rope3d: (x, heads, grid, rope, firstFrame) => rope3d(p, x, heads, grid, rope, firstFrame),
    selfAttention: (q, k, v, heads, spec) => selfAttention(p, q, k, v, heads, spec),
    crossAttention: (q, k, v, heads, keyMask) => crossAttention(p, q, k, v, heads, keyMask),
  };
}
