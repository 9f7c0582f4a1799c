/**
 * NCCL as the communicator of CUDA ranks: loaded at run time by the addon like cuBLASLt (libnccl.so.2 from
 * TESSERA_NCCL_LIBRARY, the library path, ldconfig's cache, PyTorch's nvidia-nccl wheel or a conda
 * environment), so tessera installs and tests where there is none and `--gpus` says why it cannot run. Every
 * exchange is one group of ncclSend / ncclRecv on the model's stream (a step still captures as one CUDA graph);
 * buffers above ~512 MB go in several groups. The control channel carries the unique id and watches the world:
 * each exchange reports progress to the root, and on a fault the channel's thread aborts the communicator.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CudaUnavailableError } from '../cuda/device.js';
import { loadNative, type NativeCuda, type NativeNcclBuffer } from '../cuda/native-binding.js';
import type { DeviceBuffer, PeerBuffer, TensorCommunicator } from './communicator.js';
import type { ControlChannel } from './control.js';
import { RankError } from './errors.js';

/** What {@link ncclAvailable} reports. */
export interface NcclProbe {
  readonly available: boolean;
  readonly reason: string;
  /** e.g. `2.27.3` ('' when unavailable). */
  readonly version: string;
  /** The library that loaded. */
  readonly path: string;
}

/** Library names and paths to try, cheapest first (the Python probe only runs when these fail). */
export function ncclCandidates(env: Readonly<Record<string, string | undefined>> = process.env): string[] {
  const out: string[] = [];
  if (env.TESSERA_NCCL_LIBRARY) out.push(env.TESSERA_NCCL_LIBRARY);
  out.push('libnccl.so.2');
  // ldconfig's cache, for libraries outside the loader's default path list.
  const ldconfig = spawnSync('ldconfig', ['-p'], { encoding: 'utf8', timeout: 5000 });
  if (ldconfig.status === 0)
    for (const m of ldconfig.stdout.matchAll(/libnccl\.so\.2 \([^)]*\) => (\S+)/g)) out.push(m[1]!);
  for (const root of [env.CONDA_PREFIX, env.CUDA_HOME, env.CUDA_PATH, '/usr/local/cuda']) {
    if (!root) continue;
    for (const dir of ['lib', 'lib64']) out.push(join(root, dir, 'libnccl.so.2'));
  }
  return [...new Set(out)].filter((p) => !p.includes('/') || existsSync(p) || p === env.TESSERA_NCCL_LIBRARY);
}

/** NCCL from Python's nvidia-nccl wheel (what PyTorch installs), found by asking the Python on PATH. */
export function pythonNcclCandidates(
  env: Readonly<Record<string, string | undefined>> = process.env,
): string[] {
  const script =
    'import os\ntry:\n  import nvidia.nccl as m\n  print("\\n".join(os.path.join(p, "lib", "libnccl.so.2") for p in m.__path__))\nexcept Exception:\n  pass';
  const out: string[] = [];
  for (const python of [env.TESSERA_PYTHON, 'python3', 'python']) {
    if (!python) continue;
    const r = spawnSync(python, ['-c', script], { encoding: 'utf8', timeout: 15_000 });
    if (r.status === 0) out.push(...r.stdout.split('\n').filter((p) => p && existsSync(p)));
    if (out.length > 0) break;
  }
  return out;
}

function versionText(code: number): string {
  if (code <= 0) return '';
  // NCCL_VERSION(X, Y, Z) is X * 10000 + Y * 100 + Z since 2.9, X * 1000 + Y * 100 + Z before.
  const [major, rest] =
    code >= 10000 ? [Math.floor(code / 10000), code % 10000] : [Math.floor(code / 1000), code % 1000];
  return `${major}.${Math.floor(rest / 100)}.${rest % 100}`;
}

/** Load NCCL (once per process) and say whether it can be used; never throws. */
export function ncclAvailable(env: Readonly<Record<string, string | undefined>> = process.env): NcclProbe {
  const { native, reason } = loadNative();
  if (native === null) return { available: false, reason, version: '', path: '' };
  let probe = native.ncclLoad(ncclCandidates(env));
  if (!probe.available) {
    const more = pythonNcclCandidates(env);
    if (more.length > 0) {
      const second = native.ncclLoad(more);
      probe = second.available
        ? second
        : { ...probe, reason: `${probe.reason}${second.reason.replace(/^[^:]*:/, '')}` };
    }
  }
  return {
    available: probe.available,
    reason: probe.reason,
    version: versionText(probe.version),
    path: probe.path,
  };
}

/** Bytes per send or receive in one NCCL group; larger buffers go in several (TESSERA_NCCL_CHUNK_BYTES). */
export function ncclChunkBytes(env: Readonly<Record<string, string | undefined>> = process.env): number {
  const v = Number(env.TESSERA_NCCL_CHUNK_BYTES ?? 512 * 2 ** 20);
  return Number.isSafeInteger(v) && v > 0 ? v : 512 * 2 ** 20;
}

/**
 * The groups an exchange is posted in: round k holds the k-th piece of every buffer with more than k pieces.
 * Both ends of a transfer see the same byte count, so they cut it the same way.
 */
export function chunkRounds(
  sends: readonly PeerBuffer<DeviceBuffer>[],
  recvs: readonly PeerBuffer<DeviceBuffer>[],
  limit: number,
): { sends: NativeNcclBuffer[]; recvs: NativeNcclBuffer[] }[] {
  const pieces = (b: DeviceBuffer) => Math.max(1, Math.ceil(b.bytes / limit));
  const rounds = Math.max(1, ...sends.map((s) => pieces(s.buffer)), ...recvs.map((r) => pieces(r.buffer)));
  const piece = (p: PeerBuffer<DeviceBuffer>, k: number): NativeNcclBuffer | null => {
    const start = k * limit;
    if (k > 0 && start >= p.buffer.bytes) return null;
    return {
      peer: p.peer,
      ptr: p.buffer.ptr + BigInt(start),
      bytes: Math.min(limit, p.buffer.bytes - start),
    };
  };
  return Array.from({ length: rounds }, (_, k) => ({
    sends: sends.map((s) => piece(s, k)).filter((x): x is NativeNcclBuffer => x !== null),
    recvs: recvs.map((r) => piece(r, k)).filter((x): x is NativeNcclBuffer => x !== null),
  }));
}

/** The NCCL communicator of this process (one per process, on the device `init` made current). */
export class NcclCommunicator implements TensorCommunicator<DeviceBuffer> {
  private seq = 0;
  private closed = false;

  private constructor(
    private readonly native: NativeCuda,
    private readonly channel: ControlChannel | null,
    readonly rank: number,
    readonly size: number,
    private readonly chunk: number,
  ) {}

  /** The addon with NCCL loaded, or a {@link CudaUnavailableError} naming every library tried. */
  static probeOrThrow(): NativeCuda {
    const probe = ncclAvailable();
    if (!probe.available) throw new CudaUnavailableError(probe.reason);
    return loadNative().native!;
  }

  /**
   * Create the communicator: NCCL must load (else a {@link CudaUnavailableError} naming what was tried), the
   * device must be open. `id` comes from rank 0 through the control channel (`channel.setup`), or, with
   * NCCL_COMM_ID set, from NCCL's own bootstrap at that address; a world of one makes its own.
   */
  static init(options: {
    rank: number;
    size: number;
    channel: ControlChannel | null;
    id?: Uint8Array;
  }): NcclCommunicator {
    const native = NcclCommunicator.probeOrThrow();
    const id = options.id ?? options.channel?.setup ?? native.ncclUniqueId();
    if (id.byteLength !== 128)
      throw new RankError(
        options.rank,
        options.size,
        `NCCL's unique id from rank 0 has ${id.byteLength} bytes, 128 expected`,
      );
    try {
      native.ncclInit(id, options.size, options.rank);
    } catch (e) {
      options.channel?.check();
      throw new RankError(options.rank, options.size, (e as Error).message);
    }
    options.channel?.ncclActive(true);
    return new NcclCommunicator(native, options.channel, options.rank, options.size, ncclChunkBytes());
  }

  exchange(
    sends: readonly PeerBuffer<DeviceBuffer>[],
    recvs: readonly PeerBuffer<DeviceBuffer>[],
    what: string,
  ): void {
    const seq = ++this.seq;
    this.channel?.progress(seq);
    this.call(what, () => {
      for (const round of chunkRounds(sends, recvs, this.chunk))
        this.native.ncclExchange(round.sends, round.recvs, what);
    });
  }

  allGather(send: DeviceBuffer, recv: DeviceBuffer, what: string): void {
    if (recv.bytes !== send.bytes * this.size)
      throw new RankError(
        this.rank,
        this.size,
        `${what}: all-gather of ${send.bytes} bytes needs ${send.bytes * this.size} to receive, got ${recv.bytes}`,
      );
    this.channel?.progress(++this.seq);
    this.call(what, () => this.native.ncclAllGather(send.ptr, recv.ptr, send.bytes, what));
  }

  broadcast(buffer: DeviceBuffer, root: number, what: string): void {
    this.channel?.progress(++this.seq);
    this.call(what, () => this.native.ncclBroadcast(buffer.ptr, buffer.ptr, buffer.bytes, root, what));
  }

  check(): void {
    this.channel?.check();
    const async = this.native.ncclAsyncError();
    if (async.code !== 0)
      throw new RankError(this.rank, this.size, `NCCL reports an asynchronous error: ${async.text}`);
  }

  /** Report progress for a step that ran without new NCCL calls (a replayed CUDA graph). */
  replayed(): void {
    this.channel?.progress(++this.seq);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.channel?.ncclActive(false);
    this.native.ncclDestroy();
    this.channel?.close();
  }

  /** A call whose failure names the rank, preferring the world's fault (the cause) over NCCL's symptom. */
  private call(what: string, f: () => void): void {
    try {
      f();
    } catch (e) {
      this.channel?.check();
      throw new RankError(this.rank, this.size, `${what}: ${(e as Error).message}`);
    }
  }
}
