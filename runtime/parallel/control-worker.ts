/**
 * The control channel's thread (a worker of every rank process, started by control.ts): it owns the TCP
 * connection to the root (or, on rank 0, the root's server), so it keeps running while the rank's main thread
 * computes or waits inside a CUDA call. It
 * - joins the world: every rank sends the hash of its configuration; the root answers when all P agree, with
 *   the set-up bytes (NCCL's unique id), or refuses naming the rank and the fields that differ;
 * - carries the host communicator's data, rank to root to rank;
 * - watches: a rank whose connection closes before it said goodbye died; a rank whose collectives stop while
 *   the others wait on it hung; a root that stops pinging is gone. The root then tells every rank to stop, with
 *   the culprit named; each rank's thread aborts its NCCL communicator (so a main thread blocked on a
 *   collective returns) and hands the message to its main thread, and, should the main thread stay blocked,
 *   prints it and ends the process.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { type MessagePort, workerData } from 'node:worker_threads';
import { encodeFrame, FRAME, type Frame, FrameReader, frameJson, jsonFrame } from './wire.js';

/** What control.ts starts the thread with. */
export interface ControlWorkerData {
  readonly rank: number;
  readonly size: number;
  /** The root's address (ranks other than 0 connect to it) and port (rank 0 listens on it). */
  readonly host: string;
  readonly port: number;
  /** How long a join, a silent root, or a rank without progress may take. */
  readonly timeoutMs: number;
  readonly hello: { readonly hash: string; readonly summary: Readonly<Record<string, string>> };
  /** Rank 0: the set-up bytes every rank gets with the welcome. */
  readonly setup: Uint8Array | null;
  readonly port2: MessagePort;
  /** Int32 counter the thread bumps (and notifies) after each message to the main thread. */
  readonly signal: SharedArrayBuffer;
}

/** Messages from the main thread. */
export type ToWorker =
  | { kind: 'send'; to: number; seq: number; bytes: Uint8Array }
  | { kind: 'progress'; seq: number }
  | { kind: 'fail'; message: string }
  | { kind: 'bye' }
  | { kind: 'nccl'; active: boolean };

/** Messages to the main thread. */
export type FromWorker =
  | { kind: 'ready'; setup: Uint8Array | null }
  | { kind: 'data'; from: number; seq: number; bytes: Uint8Array }
  | { kind: 'fault'; message: string; culprit: number | null }
  | { kind: 'closed' };

const data = workerData as ControlWorkerData;
const { rank, size, timeoutMs } = data;
const port = data.port2;
const signal = new Int32Array(data.signal);
/** After a fault, how long the main thread has to end the process before this thread does. */
const GRACE_MS = 15_000;

let faulted = false;
let closing = false;
let ncclActive = false;

function toMain(message: FromWorker): void {
  port.postMessage(message);
  Atomics.add(signal, 0, 1);
  Atomics.notify(signal, 0);
}

/** Abort NCCL (a blocked collective returns), tell the main thread, and end the process if it stays stuck. */
function fault(message: string, culprit: number | null): void {
  if (faulted || closing) return;
  faulted = true;
  if (ncclActive) abortNccl();
  toMain({ kind: 'fault', message, culprit });
  setTimeout(() => {
    process.stderr.write(
      `tessera: rank ${rank} of ${size}: ${message} (the main thread did not stop; ending the process)\n`,
    );
    process.kill(process.pid, 'SIGKILL');
  }, GRACE_MS).unref();
}

function abortNccl(): void {
  void native().then((n) => {
    try {
      n?.ncclAbort();
    } catch {
      // Aborting is best effort; the fault is reported either way.
    }
  });
}

/** The addon, loaded in this thread on first use (only CUDA ranks reach it). */
function native() {
  return import('../cuda/native-binding.js').then(({ loadNative }) => loadNative().native);
}

/**
 * While NCCL is active, its asynchronous errors (a network transport that lost a peer, say) are polled here, so
 * they stop the world even while the main thread waits on the stream. `report` tells the world.
 */
function watchNccl(report: (message: string) => void): void {
  const timer = setInterval(() => {
    if (!ncclActive || faulted || closing) return;
    void native().then((n) => {
      const e = n?.ncclAsyncError();
      if (e && e.code !== 0 && ncclActive && !faulted)
        report(`NCCL reports an asynchronous error: ${e.text}`);
    });
  }, 1000);
  timer.unref();
}

function write(socket: Socket | undefined, frame: Uint8Array): void {
  if (socket && !socket.destroyed) socket.write(frame);
}

/** Per rank: the collectives it has issued, and when that last changed (the watchdog's view). */
const progress = new Map<number, { seq: number; since: number }>();
function advance(r: number, seq: number): void {
  const p = progress.get(r);
  if (!p || seq > p.seq) progress.set(r, { seq, since: Date.now() });
}

// ---- the root (rank 0) ----

function runRoot(): void {
  const sockets = new Map<number, Socket>();
  const hellos = new Map<number, ControlWorkerData['hello']>([[0, data.hello]]);
  const done = new Set<number>();
  let welcomed = false;
  let mainBye = false;
  const server: Server = createServer((socket) => {
    socket.setNoDelay(true);
    const reader = new FrameReader();
    let peer = -1;
    socket.on('data', (chunk) => {
      for (const frame of reader.push(chunk)) {
        if (peer < 0 && frame.type !== FRAME.hello) continue;
        if (frame.type === FRAME.hello) peer = join(socket, frame);
        else onFrame(peer, frame);
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      if (peer < 0 || sockets.get(peer) !== socket) return;
      sockets.delete(peer);
      if (!done.has(peer) && !closing)
        stopAll(`rank ${peer} exited before the end of the run (its connection to rank 0 closed)`, peer);
      maybeClose();
    });
  });
  server.on('error', (e: NodeJS.ErrnoException) =>
    fault(
      `rank 0 cannot listen on port ${data.port} for the other ranks (${e.code ?? e.message}); set MASTER_PORT (or TESSERA_RENDEZVOUS_PORT) to a free port`,
      0,
    ),
  );
  // A world of one is complete once the root listens.
  server.listen(data.port, () => welcomeIfComplete());

  const joinTimer = setTimeout(() => {
    if (welcomed) return;
    const missing = Array.from({ length: size }, (_, r) => r).filter((r) => !hellos.has(r));
    stopAll(
      `rank${missing.length > 1 ? 's' : ''} ${missing.join(', ')} did not join within ${timeoutMs / 1000} s (started? reachable at ${data.host}:${data.port}?)`,
      missing[0] ?? null,
    );
  }, timeoutMs);

  function join(socket: Socket, frame: Frame): number {
    const r = frame.a;
    const refuse = (message: string) => {
      write(socket, jsonFrame(FRAME.reject, 0, 0, { message, culprit: r }));
      socket.end();
      return -1;
    };
    if (frame.b !== size)
      return refuse(`rank ${r} was started for a world of ${frame.b} ranks; rank 0's has ${size}`);
    if (r < 1 || r >= size) return refuse(`rank ${r} is outside a world of ${size}`);
    if (hellos.has(r)) return refuse(`two processes claim rank ${r}`);
    const hello = frameJson<ControlWorkerData['hello']>(frame);
    hellos.set(r, hello);
    sockets.set(r, socket);
    if (hello.hash !== data.hello.hash) {
      stopAll(`rank ${r}'s configuration differs from rank 0's: ${differences(hello.summary)}`, r);
      return r;
    }
    welcomeIfComplete();
    return r;
  }

  /** Once every rank said hello and agrees: the set-up bytes to all, and the world starts. */
  function welcomeIfComplete(): void {
    if (hellos.size !== size || faulted || welcomed) return;
    welcomed = true;
    clearTimeout(joinTimer);
    for (const s of sockets.values())
      write(s, encodeFrame(FRAME.welcome, 0, 0, 0, data.setup ?? new Uint8Array()));
    for (let q = 0; q < size; q++) advance(q, 0);
    toMain({ kind: 'ready', setup: data.setup });
  }

  function differences(other: Readonly<Record<string, string>>): string {
    const mine = data.hello.summary;
    const keys = [...new Set([...Object.keys(mine), ...Object.keys(other)])].filter(
      (k) => mine[k] !== other[k],
    );
    if (keys.length === 0) return 'the hashes differ';
    return keys.map((k) => `${k} ${other[k] ?? '(none)'} (rank 0: ${mine[k] ?? '(none)'})`).join('; ');
  }

  function onFrame(from: number, frame: Frame): void {
    switch (frame.type) {
      case FRAME.data:
        advance(from, frame.c);
        if (frame.b === 0)
          toMain({ kind: 'data', from: frame.a, seq: frame.c, bytes: frame.payload.slice() });
        else write(sockets.get(frame.b), encodeFrame(FRAME.data, frame.a, frame.b, frame.c, frame.payload));
        return;
      case FRAME.progress:
        advance(from, frame.c);
        return;
      case FRAME.fail:
        stopAll(`rank ${from} failed: ${frameJson<{ message: string }>(frame).message}`, from);
        return;
      case FRAME.bye:
        done.add(from);
        maybeClose();
        return;
    }
  }

  /** Tell every rank to stop, the root's own main thread included. */
  function stopAll(message: string, culprit: number | null): void {
    if (faulted) return;
    for (const s of sockets.values()) write(s, jsonFrame(FRAME.abort, 0, 0, { message, culprit }));
    fault(message, culprit);
  }

  /** After the main thread's goodbye: close once every rank said goodbye too, or at once after a fault. */
  function maybeClose(): void {
    if (!mainBye || closing) return;
    const open = [...sockets.keys()].filter((r) => !done.has(r));
    if (open.length === 0 || faulted) closeNow();
  }

  /** End every connection (pending frames are flushed first), then tell the main thread. */
  function closeNow(): void {
    if (closing) return;
    closing = true;
    clearInterval(tick);
    server.close();
    const open = [...sockets.values()];
    let left = open.length;
    const finish = () => toMain({ kind: 'closed' });
    if (left === 0) {
      finish();
      return;
    }
    const timer = setTimeout(finish, 1000);
    for (const s of open) {
      s.once('close', () => {
        if (--left === 0) {
          clearTimeout(timer);
          finish();
        }
      });
      s.end();
    }
  }

  watchNccl((message) => stopAll(`rank 0: ${message}`, 0));
  const tick = setInterval(() => {
    for (const s of sockets.values()) write(s, encodeFrame(FRAME.ping, 0, 0, 0, new Uint8Array()));
    if (!welcomed || faulted) return;
    const active = [...progress.entries()].filter(([r]) => !done.has(r) && !(r === 0 && mainBye));
    if (active.length === 0) return;
    const now = Date.now();
    const top = Math.max(...active.map(([, p]) => p.seq));
    const behind = active.filter(([, p]) => p.seq < top && now - p.since > timeoutMs);
    if (behind.length > 0) {
      const names = behind.map(([r]) => r);
      stopAll(
        `rank${names.length > 1 ? 's' : ''} ${names.join(', ')} made no progress for ${timeoutMs / 1000} s (hung? ${names.length > 1 ? 'they have' : 'it has'} issued collectives up to #${behind[0]![1].seq}; others are waiting at #${top})`,
        names[0]!,
      );
    } else if (active.every(([, p]) => now - p.since > timeoutMs)) {
      stopAll(`no rank made progress for ${timeoutMs / 1000} s (all at collective #${top})`, null);
    }
  }, 1000);

  port.on('message', (m: ToWorker) => {
    switch (m.kind) {
      case 'send':
        advance(0, m.seq);
        write(sockets.get(m.to), encodeFrame(FRAME.data, 0, m.to, m.seq, m.bytes));
        return;
      case 'progress':
        advance(0, m.seq);
        return;
      case 'fail':
        stopAll(`rank 0 failed: ${m.message}`, 0);
        mainBye = true;
        closeNow();
        return;
      case 'bye':
        mainBye = true;
        // Ranks that never say goodbye are reported by their closed connection or the watchdog; the root waits
        // no longer than the timeout for the rest.
        setTimeout(closeNow, timeoutMs).unref();
        maybeClose();
        return;
      case 'nccl':
        ncclActive = m.active;
        return;
    }
  });
}

// ---- every other rank ----

function runRank(): void {
  const deadline = Date.now() + timeoutMs;
  let socket: Socket | undefined;
  let lastPing = Date.now();
  let joined = false;
  let said = false;
  const pending: Uint8Array[] = [];

  const attempt = () => {
    const s = connect({ host: data.host, port: data.port });
    s.setNoDelay(true);
    let opened = false;
    s.on('connect', () => {
      opened = true;
      socket = s;
      lastPing = Date.now();
      write(s, jsonFrame(FRAME.hello, rank, size, data.hello));
      for (const f of pending.splice(0)) write(s, f);
    });
    const reader = new FrameReader();
    s.on('data', (chunk) => {
      for (const frame of reader.push(chunk)) onFrame(frame);
    });
    s.on('error', () => {});
    s.on('close', () => {
      if (!opened) {
        if (Date.now() < deadline) setTimeout(attempt, 200);
        else fault(`could not reach rank 0 at ${data.host}:${data.port} within ${timeoutMs / 1000} s`, 0);
        return;
      }
      if (!said && !closing) fault('rank 0 (the root) closed its connection: it exited or failed', 0);
      if (said) finish();
    });
  };
  attempt();

  function onFrame(frame: Frame): void {
    switch (frame.type) {
      case FRAME.welcome:
        joined = true;
        toMain({ kind: 'ready', setup: frame.payload.slice() });
        return;
      case FRAME.reject:
      case FRAME.abort: {
        const { message, culprit } = frameJson<{ message: string; culprit: number | null }>(frame);
        fault(message, culprit);
        return;
      }
      case FRAME.data:
        toMain({ kind: 'data', from: frame.a, seq: frame.c, bytes: frame.payload.slice() });
        return;
      case FRAME.ping:
        lastPing = Date.now();
        return;
    }
  }

  watchNccl((message) => {
    send(jsonFrame(FRAME.fail, rank, 0, { message }));
    fault(message, rank);
  });
  const tick = setInterval(() => {
    if (joined && !said && Date.now() - lastPing > timeoutMs)
      fault(`rank 0 (the root) has not answered for ${timeoutMs / 1000} s`, 0);
  }, 1000);

  const send = (frame: Uint8Array) => {
    if (socket) write(socket, frame);
    else pending.push(frame);
  };
  /** The last frame of this rank (a goodbye, or its failure): send it, close, tell the main thread. */
  const last = (frame: Uint8Array) => {
    said = true;
    if (socket && !socket.destroyed) {
      socket.write(frame);
      socket.end();
      setTimeout(finish, 1000).unref();
    } else finish();
  };
  let finished = false;
  function finish(): void {
    if (finished) return;
    finished = true;
    closing = true;
    clearInterval(tick);
    toMain({ kind: 'closed' });
  }
  port.on('message', (m: ToWorker) => {
    switch (m.kind) {
      case 'send':
        send(encodeFrame(FRAME.data, rank, m.to, m.seq, m.bytes));
        return;
      case 'progress':
        send(encodeFrame(FRAME.progress, rank, 0, m.seq, new Uint8Array()));
        return;
      case 'fail':
        last(jsonFrame(FRAME.fail, rank, 0, { message: m.message }));
        return;
      case 'bye':
        last(encodeFrame(FRAME.bye, rank, 0, 0, new Uint8Array()));
        return;
      case 'nccl':
        ncclActive = m.active;
        return;
    }
  });
}

if (rank === 0) runRoot();
else runRank();
