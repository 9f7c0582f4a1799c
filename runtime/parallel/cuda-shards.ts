/**
 * The CUDA backend's shard operations: bf16 arena tensors, block copies with the `tp_copy_block` kernel, and
 * the exchange either over NCCL (one rank per process) or, for logical ranks (the whole world in one process
 * on one GPU), as device-to-device copies on the same stream. Everything is queued on the model's stream, so a
 * parallel step runs on a memory plan and captures as one CUDA graph like an unsharded one.
 */
import { TensorError } from '../../core/tensor.js';
import type { CudaTensor } from '../cuda/device-arena.js';
import type { CudaOps } from '../cuda/model-ops.js';
import type { DeviceBuffer, TensorCommunicator } from './communicator.js';
import { peerBuffers } from './cpu-shards.js';
import { dims3, type Index3, type ShardBackend, type Transfer } from './sharded.js';

const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** The bytes of a bf16 model tensor. */
export function deviceBytes(t: CudaTensor): DeviceBuffer {
  if (t.dtype !== 'bfloat16')
    throw new TensorError('exchange', `only bf16 activations travel, got ${t.dtype}`);
  return { ptr: t.buffer.ptr, bytes: count(t.shape) * 2 };
}

/** CUDA shard operations on `ops`; exchanges through `comm` (NCCL), or between logical ranks without one. */
export function cudaShards(ops: CudaOps, comm?: TensorCommunicator<DeviceBuffer>): ShardBackend<CudaTensor> {
  const copy = (dst: CudaTensor, dstAt: Index3, src: CudaTensor, srcAt: Index3, size: Index3) => {
    const [, dn, dw] = dims3('copy destination', dst);
    const [, sn, sw] = dims3('copy source', src);
    for (let i = 0; i < 3; i++)
      if (dstAt[i]! + size[i]! > dst.shape[i]! || srcAt[i]! + size[i]! > src.shape[i]!)
        throw new TensorError(
          'block copy',
          `a [${size.join(', ')}] block at [${srcAt.join(', ')}] -> [${dstAt.join(', ')}] leaves [${src.shape.join(', ')}] or [${dst.shape.join(', ')}]`,
        );
    if (dst.dtype !== 'bfloat16' || src.dtype !== 'bfloat16')
      throw new TensorError('block copy', `bf16 tensors only, got ${src.dtype} -> ${dst.dtype}`);
    const total = count(size);
    ops.kernels.elementwise('copyBlock', total, {
      src: src.buffer.ptr,
      dst: dst.buffer.ptr,
      total,
      rows: size[1],
      cols: size[2],
      src_origin: (srcAt[0] * sn + srcAt[1]) * sw + srcAt[2],
      src_batch: sn * sw,
      src_row: sw,
      dst_origin: (dstAt[0] * dn + dstAt[1]) * dw + dstAt[2],
      dst_batch: dn * dw,
      dst_row: dw,
    });
  };
  const localExchange = (transfers: readonly Transfer<CudaTensor>[], what: string) => {
    for (const t of transfers) {
      if (!t.send || !t.recv)
        throw new TensorError(
          what,
          `rank ${t.from} -> ${t.to} is not local: logical ranks exchange in one process`,
        );
      if (count(t.send.shape) !== count(t.recv.shape))
        throw new TensorError(
          what,
          `rank ${t.from} sends [${t.send.shape.join(', ')}], ${t.to} expects [${t.recv.shape.join(', ')}]`,
        );
      const [b, n, w] = dims3(what, t.recv);
      copy(t.recv, [0, 0, 0], ops.reshape(t.send, [b, n, w]), [0, 0, 0], [b, n, w]);
    }
  };
  return {
    empty: (shape, name) => ops.arena.tensor('bfloat16', shape, name),
    copy,
    exchange(transfers, what) {
      if (!comm) return localExchange(transfers, what);
      const { sends, recvs } = peerBuffers(transfers, comm.rank, deviceBytes);
      comm.exchange(sends, recvs, what);
    },
  };
}
