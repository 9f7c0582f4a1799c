/**
 * The control channel's wire format: length-prefixed frames over TCP between each rank and rank 0 (the root).
 * A frame is [u32 length of the rest][u8 type][u32 a][u32 b][u32 c][payload]; what a, b, c mean depends on the
 * type (see {@link FRAME}). Set-up frames carry JSON; data frames carry tensor bytes of the host communicator.
 */

/** Frame types. */
export const FRAME = {
  /** rank -> root: a = rank, b = world size; JSON {hash, summary}. */
  hello: 1,
  /** root -> rank: the world agrees; payload = set-up bytes (NCCL's unique id) or empty. */
  welcome: 2,
  /** root -> rank: refused; JSON {message, culprit}. */
  reject: 3,
  /** any -> any through the root: a = from, b = to, c = exchange number; payload = bytes. */
  data: 4,
  /** rank -> root: a = rank, c = collectives the rank has issued. */
  progress: 5,
  /** root -> rank: stop; JSON {message, culprit}. */
  abort: 6,
  /** rank -> root: a = rank; the rank finished cleanly. */
  bye: 7,
  /** rank -> root: a = rank; JSON {message}: the rank failed and stops. */
  fail: 8,
  /** root -> rank: the root is alive. */
  ping: 9,
} as const;

/** A decoded frame. */
export interface Frame {
  readonly type: number;
  readonly a: number;
  readonly b: number;
  readonly c: number;
  readonly payload: Uint8Array;
}

const HEADER = 17;

/** One frame's bytes. */
export function encodeFrame(type: number, a: number, b: number, c: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER + payload.byteLength);
  const view = new DataView(out.buffer);
  view.setUint32(0, HEADER - 4 + payload.byteLength, true);
  view.setUint8(4, type);
  view.setUint32(5, a >>> 0, true);
  view.setUint32(9, b >>> 0, true);
  view.setUint32(13, c >>> 0, true);
  out.set(payload, HEADER);
  return out;
}

/** A frame with a JSON payload. */
export function jsonFrame(type: number, a: number, b: number, value: unknown): Uint8Array {
  return encodeFrame(type, a, b, 0, new TextEncoder().encode(JSON.stringify(value)));
}

/** The JSON payload of a frame. */
export function frameJson<T>(frame: Frame): T {
  return JSON.parse(new TextDecoder().decode(frame.payload)) as T;
}

/** Splits a byte stream into frames (TCP delivers arbitrary chunks). */
export class FrameReader {
  private chunks: Uint8Array[] = [];
  private buffered = 0;

  /** Add received bytes; returns the frames they complete. */
  push(chunk: Uint8Array): Frame[] {
    this.chunks.push(chunk);
    this.buffered += chunk.byteLength;
    const frames: Frame[] = [];
    for (;;) {
      if (this.buffered < 4) break;
      const head = this.peek(4);
      const length = new DataView(head.buffer, head.byteOffset, 4).getUint32(0, true);
      if (this.buffered < 4 + length) break;
      const bytes = this.take(4 + length);
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      frames.push({
        type: view.getUint8(4),
        a: view.getUint32(5, true),
        b: view.getUint32(9, true),
        c: view.getUint32(13, true),
        payload: bytes.subarray(HEADER),
      });
    }
    return frames;
  }

  private peek(n: number): Uint8Array {
    const first = this.chunks[0]!;
    if (first.byteLength >= n) return first.subarray(0, n);
    return this.concat(n, false);
  }

  private take(n: number): Uint8Array {
    const first = this.chunks[0]!;
    if (first.byteLength === n) {
      this.chunks.shift();
      this.buffered -= n;
      return first;
    }
    return this.concat(n, true);
  }

  /** The first n buffered bytes in one array, removed when `consume`. */
  private concat(n: number, consume: boolean): Uint8Array {
    const out = new Uint8Array(n);
    let filled = 0;
    let i = 0;
    while (filled < n) {
      const c = this.chunks[i]!;
      const need = Math.min(n - filled, c.byteLength);
      out.set(c.subarray(0, need), filled);
      filled += need;
      if (consume) {
        if (need === c.byteLength) this.chunks.shift();
        else {
          this.chunks[0] = c.subarray(need);
          i = 0;
        }
      } else i++;
    }
    if (consume) this.buffered -= n;
    return out;
  }
}
