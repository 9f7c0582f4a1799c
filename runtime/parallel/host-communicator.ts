/**
 * The host communicator: CPU ranks in separate processes exchange host bytes through the control channel
 * (rank to rank 0 to rank, over TCP). It is the reference that the partitioning is tested with in CI, on the
 * CPU backend; it is not a transport for users (tensors of a real run travel through NCCL only). Every receive
 * is bounded by the channel's timeout, and a rank that dies or hangs stops the others with its number.
 */

import type { HostBuffer, PeerBuffer, TensorCommunicator } from './communicator.js';
import type { ControlChannel } from './control.js';
import { RankError } from './errors.js';

/** A {@link TensorCommunicator} of host buffers over a joined control channel. */
export class HostCommunicator implements TensorCommunicator<HostBuffer> {
  private seq = 0;

  constructor(private readonly channel: ControlChannel) {}

  get rank(): number {
    return this.channel.rank;
  }

  get size(): number {
    return this.channel.size;
  }

  exchange(
    sends: readonly PeerBuffer<HostBuffer>[],
    recvs: readonly PeerBuffer<HostBuffer>[],
    what: string,
  ): void {
    const seq = ++this.seq;
    const self = sends.find((s) => s.peer === this.rank);
    for (const s of sends) {
      this.checkPeer(s.peer, what);
      if (s.peer !== this.rank) this.channel.send(s.peer, seq, s.buffer);
    }
    for (const r of recvs) {
      this.checkPeer(r.peer, what);
      const bytes =
        r.peer === this.rank
          ? (self?.buffer ?? this.missing(what, 'no send to itself matches its receive'))
          : this.channel.receive(r.peer, seq, `${what} (#${seq})`);
      if (bytes.byteLength !== r.buffer.byteLength)
        throw new RankError(
          this.rank,
          this.size,
          `${what} (#${seq}): rank ${r.peer} sent ${bytes.byteLength} bytes, ${r.buffer.byteLength} expected (the ranks run different shapes)`,
          r.peer,
        );
      r.buffer.set(bytes);
    }
  }

  allGather(send: HostBuffer, recv: HostBuffer, what: string): void {
    const n = send.byteLength;
    const ranks = Array.from({ length: this.size }, (_, r) => r);
    this.exchange(
      ranks.map((peer) => ({ peer, buffer: send })),
      ranks.map((peer) => ({ peer, buffer: recv.subarray(peer * n, (peer + 1) * n) })),
      what,
    );
  }

  broadcast(buffer: HostBuffer, root: number, what: string): void {
    const ranks = Array.from({ length: this.size }, (_, r) => r);
    if (this.rank === root)
      this.exchange(
        ranks.map((peer) => ({ peer, buffer })),
        [{ peer: root, buffer }],
        what,
      );
    else this.exchange([], [{ peer: root, buffer }], what);
  }

  check(): void {
    this.channel.check();
  }

  close(): void {
    this.channel.close();
  }

  private checkPeer(peer: number, what: string): void {
    if (!Number.isSafeInteger(peer) || peer < 0 || peer >= this.size)
      throw new RankError(this.rank, this.size, `${what}: peer ${peer} is outside a world of ${this.size}`);
  }

  private missing(what: string, why: string): never {
    throw new RankError(this.rank, this.size, `${what}: ${why}`);
  }
}
