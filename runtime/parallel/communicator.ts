/**
 * The communicator contract of sequence parallelism: one rank's end of a world of `size` ranks that moves
 * buffers between them. Two implementations: NCCL through the CUDA addon (device buffers, queued on the model's
 * stream, so a step still captures as one CUDA graph; nccl.ts) and a host communicator for CPU ranks in
 * separate processes (host-communicator.ts: the reference for the partitioning in CI, not a transport for
 * users). Tensors only ever travel through these; the control channel (control.ts) carries a few bytes of
 * set-up (the configuration hash, NCCL's unique id) and the watchdog's messages.
 */

/** Host bytes. */
export type HostBuffer = Uint8Array;

/** Device bytes: an address and a length. */
export interface DeviceBuffer {
  readonly ptr: bigint;
  readonly bytes: number;
}

/** A buffer sent to, or received from, one peer. */
export interface PeerBuffer<B> {
  readonly peer: number;
  readonly buffer: B;
}

/** One rank's end of a communicator. Every failing call throws a `RankError` naming the call and the rank. */
export interface TensorCommunicator<B> {
  readonly rank: number;
  readonly size: number;
  /**
   * Post every send and receive of one exchange together (an all-to-all, a gather: NCCL's grouped
   * send/receive). A send's bytes must equal the matching receive's on the peer; self-transfers are allowed.
   * Every rank calls exchanges in the same order. Later work may read the receive buffers (host: they are
   * filled on return; NCCL: the work is ordered on the stream).
   */
  exchange(sends: readonly PeerBuffer<B>[], recvs: readonly PeerBuffer<B>[], what: string): void;
  /** `recv` (size x send bytes) gets every rank's `send` in rank order. */
  allGather(send: B, recv: B, what: string): void;
  /** Every rank's `buffer` gets root's. */
  broadcast(buffer: B, root: number, what: string): void;
  /** Throw the fault that stopped the world, if any (a rank that died or hung, an asynchronous error). */
  check(): void;
  /** Leave the world cleanly (after the last exchange). */
  close(): void;
}
