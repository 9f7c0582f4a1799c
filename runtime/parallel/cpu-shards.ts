/**
 * The CPU backend's shard operations: new tensors and block copies on host arrays, and the exchange either
 * between logical ranks (copies) or over a host communicator between processes (the CPU reference of the
 * partitioning in CI; not a transport for users).
 */
import { TensorError } from '../../core/tensor.js';
import { allocate, type CpuTensor } from '../cpu/cpu-tensor.js';
import type { OpPrecision } from '../model-ops.js';
import type { HostBuffer, PeerBuffer, TensorCommunicator } from './communicator.js';
import { dims3, type Index3, type ShardBackend, type Transfer } from './sharded.js';

/** Block copy between two [B, N, W] host tensors. */
function copyBlock(dst: CpuTensor, dstAt: Index3, src: CpuTensor, srcAt: Index3, size: Index3): void {
  const [, dn, dw] = dims3('copy destination', dst);
  const [, sn, sw] = dims3('copy source', src);
  const [nb, nn, nc] = size;
  for (let i = 0; i < 3; i++)
    if (dstAt[i]! + size[i]! > dst.shape[i]! || srcAt[i]! + size[i]! > src.shape[i]!)
      throw new TensorError(
        'block copy',
        `a [${size.join(', ')}] block at [${srcAt.join(', ')}] -> [${dstAt.join(', ')}] leaves [${src.shape.join(', ')}] or [${dst.shape.join(', ')}]`,
      );
  for (let b = 0; b < nb; b++)
    for (let r = 0; r < nn; r++) {
      const s = ((srcAt[0] + b) * sn + srcAt[1] + r) * sw + srcAt[2];
      const d = ((dstAt[0] + b) * dn + dstAt[1] + r) * dw + dstAt[2];
      dst.data.set(src.data.subarray(s, s + nc), d);
    }
}

/** The bytes of a host tensor (for the communicator). */
export function hostBytes(t: CpuTensor): HostBuffer {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

/** Copies between logical ranks: every transfer has both ends in this process. */
function localExchange(transfers: readonly Transfer<CpuTensor>[], what: string): void {
  for (const t of transfers) {
    if (!t.send || !t.recv)
      throw new TensorError(
        what,
        `rank ${t.from} -> ${t.to} is not local: logical ranks exchange in one process`,
      );
    if (t.send.data.length !== t.recv.data.length)
      throw new TensorError(
        what,
        `rank ${t.from} sends ${t.send.data.length} values, ${t.to} expects ${t.recv.data.length}`,
      );
    t.recv.data.set(t.send.data);
  }
}

/** Transfers of this process as the communicator's sends and receives. */
export function peerBuffers<T, B>(
  transfers: readonly Transfer<T & { shape: readonly number[] }>[],
  rank: number,
  bytes: (t: T) => B,
): { sends: PeerBuffer<B>[]; recvs: PeerBuffer<B>[] } {
  const sends: PeerBuffer<B>[] = [];
  const recvs: PeerBuffer<B>[] = [];
  for (const t of transfers) {
    if (t.from === rank && t.send) sends.push({ peer: t.to, buffer: bytes(t.send as T) });
    if (t.to === rank && t.recv) recvs.push({ peer: t.from, buffer: bytes(t.recv as T) });
  }
  return { sends, recvs };
}

/**
 * CPU shard operations in `precision`; exchanges go through `comm` (one rank per process) or, without one,
 * between logical ranks in this process.
 */
export function cpuShards(
  precision: OpPrecision,
  comm?: TensorCommunicator<HostBuffer>,
): ShardBackend<CpuTensor> {
  return {
    empty: (shape) => allocate(precision, shape),
    copy: copyBlock,
    exchange(transfers, what) {
      if (!comm) return localExchange(transfers, what);
      const { sends, recvs } = peerBuffers(transfers, comm.rank, hostBytes);
      comm.exchange(sends, recvs, what);
    },
  };
}
