/**
 * The main thread's end of the control channel (the channel itself runs on a worker thread:
 * control-worker.ts). Its calls are synchronous, as the graph's ops are: a wait blocks the thread with
 * `Atomics.wait` until the worker posts what was awaited, a fault, or the timeout, so a rank never waits
 * unboundedly. Joining the world exchanges a hash of each rank's configuration; ranks that disagree refuse to
 * start, with the fields that differ named.
 */
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import type { ControlWorkerData, FromWorker, ToWorker } from './control-worker.js';
import { RankError } from './errors.js';

/** Where the world meets: the root's address and port, and this rank. */
export interface ControlOptions {
  readonly rank: number;
  readonly size: number;
  readonly host: string;
  readonly port: number;
  /** Joining, a silent root and a rank without progress are errors after this long. */
  readonly timeoutMs: number;
  /**
   * What must agree across ranks: name -> value (strings). Its hash is exchanged; on a mismatch the differing
   * names and values are reported.
   */
  readonly summary: Readonly<Record<string, string>>;
  /** Rank 0: bytes every rank receives when the world agrees (NCCL's unique id). */
  readonly setup?: Uint8Array;
}

/** The hash of a configuration summary (sorted keys). */
export function summaryHash(summary: Readonly<Record<string, string>>): string {
  const canonical = JSON.stringify(
    Object.keys(summary)
      .sort()
      .map((k) => [k, summary[k]]),
  );
  return createHash('sha256').update(canonical).digest('hex');
}

/** The worker's module: compiled JavaScript beside this file, or the TypeScript source when run from it. */
function workerUrl(): URL {
  const ts = import.meta.url.endsWith('.ts');
  return new URL(ts ? './control-worker.ts' : './control-worker.js', import.meta.url);
}

/** One rank's control channel; see the module comment. */
export class ControlChannel {
  private readonly inbox: FromWorker[] = [];
  private faultSeen: { message: string; culprit: number | null } | null = null;
  private closed = false;
  /** Set-up bytes from the root (NCCL's unique id), once joined. */
  readonly setup: Uint8Array | null;

  private constructor(
    readonly rank: number,
    readonly size: number,
    readonly timeoutMs: number,
    private readonly worker: Worker,
    private readonly port: MessagePort,
    private readonly signal: Int32Array,
  ) {
    const ready = this.waitFor(
      (m) => (m.kind === 'ready' ? m : undefined),
      timeoutMs + 5000,
      'joining the world',
    );
    this.setup = ready.setup;
  }

  /** Join the world (blocks until every rank agreed, or throws naming what went wrong). */
  static join(options: ControlOptions): ControlChannel {
    const { port1, port2 } = new MessageChannel();
    const signal = new SharedArrayBuffer(4);
    const data: ControlWorkerData = {
      rank: options.rank,
      size: options.size,
      host: options.host,
      port: options.port,
      timeoutMs: options.timeoutMs,
      hello: { hash: summaryHash(options.summary), summary: options.summary },
      setup: options.setup ?? null,
      port2,
      signal,
    };
    const worker = new Worker(workerUrl(), { workerData: data, transferList: [port2] });
    worker.unref();
    try {
      return new ControlChannel(
        options.rank,
        options.size,
        options.timeoutMs,
        worker,
        port1,
        new Int32Array(signal),
      );
    } catch (e) {
      void worker.terminate();
      throw e;
    }
  }

  /** The path of the worker module (for tests and packaging checks). */
  static workerPath(): string {
    return fileURLToPath(workerUrl());
  }

  /** Send a copy of `bytes` as exchange `seq` to rank `to` (returns at once; the worker writes them). */
  send(to: number, seq: number, bytes: Uint8Array): void {
    this.check();
    const copy = bytes.slice();
    this.post({ kind: 'send', to, seq, bytes: copy }, [copy.buffer]);
  }

  /** The bytes rank `from` sent for exchange `seq` (blocks; throws on a fault or after the timeout). */
  receive(from: number, seq: number, what: string): Uint8Array {
    const got = this.waitFor(
      (m) => (m.kind === 'data' && m.from === from && m.seq === seq ? m : undefined),
      this.timeoutMs + 5000,
      `${what}: waiting for rank ${from}`,
    );
    return got.bytes;
  }

  /** Report that this rank issued collective `seq` (the root's watchdog compares ranks' progress). */
  progress(seq: number): void {
    this.post({ kind: 'progress', seq });
  }

  /** Whether the worker may abort NCCL on a fault (once a communicator exists). */
  ncclActive(active: boolean): void {
    this.post({ kind: 'nccl', active });
  }

  /** Throw the fault that stopped the world, if one arrived. */
  check(): void {
    this.drain();
    if (this.faultSeen)
      throw new RankError(this.rank, this.size, this.faultSeen.message, this.faultSeen.culprit ?? undefined);
  }

  /** The fault, if one arrived (without throwing). */
  fault(): RankError | null {
    this.drain();
    return this.faultSeen
      ? new RankError(this.rank, this.size, this.faultSeen.message, this.faultSeen.culprit ?? undefined)
      : null;
  }

  /** Leave cleanly: say goodbye (the root waits for every rank's) and stop the worker. */
  close(): void {
    this.finish({ kind: 'bye' });
  }

  /** Tell the world this rank failed (the others stop with `message`), then stop the worker. */
  fail(message: string): void {
    this.finish({ kind: 'fail', message });
  }

  private finish(last: ToWorker): void {
    if (this.closed) return;
    this.closed = true;
    this.post(last);
    try {
      this.waitFor((m) => (m.kind === 'closed' ? m : undefined), this.timeoutMs + 5000, 'closing', true);
    } catch {
      // Closing after a fault: the fault was (or will be) reported by the caller.
    } finally {
      void this.worker.terminate();
    }
  }

  private post(message: ToWorker, transfer: ArrayBuffer[] = []): void {
    this.port.postMessage(message, transfer);
  }

  /** Move what the worker posted into the inbox (faults are kept aside). */
  private drain(): void {
    for (;;) {
      const got = receiveMessageOnPort(this.port);
      if (!got) return;
      const m = got.message as FromWorker;
      if (m.kind === 'fault') this.faultSeen ??= { message: m.message, culprit: m.culprit };
      else this.inbox.push(m);
    }
  }

  /** Block until `accept` takes a message, a fault arrives (unless `ignoreFault`), or `timeoutMs` passes. */
  private waitFor<M>(
    accept: (m: FromWorker) => M | undefined,
    timeoutMs: number,
    what: string,
    ignoreFault = false,
  ): M {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const seen = Atomics.load(this.signal, 0);
      this.drain();
      const i = this.inbox.findIndex((m) => accept(m) !== undefined);
      if (i >= 0) return accept(this.inbox.splice(i, 1)[0]!)!;
      if (this.faultSeen && !ignoreFault) this.check();
      const left = deadline - Date.now();
      if (left <= 0)
        throw new RankError(
          this.rank,
          this.size,
          `${what}: nothing arrived within ${Math.round(timeoutMs / 1000)} s`,
        );
      Atomics.wait(this.signal, 0, seen, Math.min(left, 1000));
    }
  }
}
