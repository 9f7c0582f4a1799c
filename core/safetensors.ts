/**
 * Reading and writing safetensors files (the weights format of diffusers checkpoints, and tessera's export
 * format for block masks).
 *
 * The reader opens a file handle, reads and validates only the header, and reads each tensor on request with a
 * positioned read, so a multi-gigabyte checkpoint is never held twice in memory and no byte past the end of the
 * file (or outside the tensor asked for) is ever read. The writers stream tensors to disk one by one, from memory
 * or from sources that produce each tensor's bytes in chunks (checkpoints larger than memory).
 */
import { type FileHandle, open, rename, rm } from 'node:fs/promises';
import { endianness } from 'node:os';
import {
  checkHeaderLength,
  encodeHeader,
  layoutBytes,
  parseHeader,
  SAFETENSORS_ITEM_SIZE,
  type SafetensorsBlob,
  type SafetensorsDType,
  type SafetensorsEntry,
  SafetensorsError,
  type SafetensorsHeader,
  type SafetensorsLayout,
} from './safetensors-header.js';
import { contiguous, type DType, fromStorage, type Tensor } from './tensor.js';

export type {
  SafetensorsBlob,
  SafetensorsDType,
  SafetensorsEntry,
  SafetensorsHeader,
  SafetensorsLayout,
} from './safetensors-header.js';
export { MAX_HEADER_BYTES, SAFETENSORS_ITEM_SIZE, SafetensorsError } from './safetensors-header.js';

/** Host dtype to safetensors dtype. */
export const SAFETENSORS_DTYPE: Readonly<Record<DType, SafetensorsDType>> = {
  float64: 'F64',
  float32: 'F32',
  float16: 'F16',
  bfloat16: 'BF16',
  int32: 'I32',
  uint8: 'U8',
};

const HOST_DTYPE: Partial<Record<SafetensorsDType, DType>> = Object.fromEntries(
  Object.entries(SAFETENSORS_DTYPE).map(([host, st]) => [st, host as DType]),
);

/** What can be written: a host tensor (any strides) or raw bytes with a safetensors dtype. */
export type SafetensorsInput = Tensor | SafetensorsBlob;

/** Tensors to write, by name, in file order. */
export type SafetensorsInputs =
  | Readonly<Record<string, SafetensorsInput>>
  | Iterable<readonly [string, SafetensorsInput]>;

function checkLittleEndian(file: string): void {
  // Typed arrays use the host byte order and safetensors is little-endian; every platform Node supports in
  // practice is, but a silent byte swap would be a wrong answer, so refuse rather than guess.
  if (endianness() !== 'LE') throw new SafetensorsError(file, null, 'big-endian hosts are not supported');
}

function toBlob(input: SafetensorsInput): SafetensorsBlob {
  if ('bytes' in input) return input;
  const t = contiguous(input);
  return {
    dtype: SAFETENSORS_DTYPE[t.dtype],
    shape: t.shape,
    bytes: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
  };
}

function blobList(tensors: SafetensorsInputs): [string, SafetensorsBlob][] {
  const pairs =
    Symbol.iterator in tensors
      ? [...(tensors as Iterable<readonly [string, SafetensorsInput]>)]
      : Object.entries(tensors);
  return pairs.map(([name, t]) => [name, toBlob(t)]);
}

/** The whole file in memory: header then data. For small files and tests; use {@link writeSafetensors} for weights. */
export function encodeSafetensors(
  tensors: SafetensorsInputs,
  metadata: Readonly<Record<string, string>> = {},
): Uint8Array {
  checkLittleEndian('<memory>');
  const blobs = blobList(tensors);
  const header = encodeHeader('<memory>', blobs, metadata);
  const out = new Uint8Array(header.length + blobs.reduce((a, [, b]) => a + b.bytes.byteLength, 0));
  out.set(header, 0);
  let offset = header.length;
  for (const [, blob] of blobs) {
    out.set(blob.bytes, offset);
    offset += blob.bytes.byteLength;
  }
  return out;
}

/**
 * Write a safetensors file from tensors held in memory, one tensor at a time. The file appears atomically
 * (see {@link writeSafetensorsStream}).
 */
export async function writeSafetensors(
  path: string,
  tensors: SafetensorsInputs,
  metadata: Readonly<Record<string, string>> = {},
): Promise<void> {
  // The blob rides along with its source, so the header checks its size before anything is written.
  const sources = blobList(tensors).map(
    ([name, blob]) => [name, { ...blob, chunks: () => [blob.bytes] }] as const,
  );
  await writeSafetensorsStream(path, sources, metadata);
}

/**
 * A tensor whose bytes are produced while the file is written (a checkpoint too large to hold in memory):
 * its dtype and shape go into the header first, then its data is asked for.
 */
export interface SafetensorsSource extends SafetensorsLayout {
  /**
   * The tensor's little-endian bytes in order, in chunks of any size adding up to exactly what the shape and
   * dtype need. The writer is done with a chunk before it asks for the next, so a producer may refill one buffer.
   */
  chunks(): Iterable<Uint8Array> | AsyncIterable<Uint8Array>;
}

async function writeFully(handle: FileHandle, bytes: Uint8Array): Promise<void> {
  // A single write may store less than asked (large buffers), so go on from where it stopped.
  let done = 0;
  while (done < bytes.byteLength) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.byteLength - done);
    done += bytesWritten;
  }
}

/**
 * Write a safetensors file whose tensors are produced chunk by chunk, so memory stays bounded by one chunk
 * however large the file. A source that yields more or fewer bytes than its shape needs is an error naming the
 * tensor. The file appears atomically (written under a temporary name, then renamed), so a crash or an error
 * never leaves a truncated file behind under `path`.
 */
export async function writeSafetensorsStream(
  path: string,
  sources: readonly (readonly [string, SafetensorsSource])[],
  metadata: Readonly<Record<string, string>> = {},
): Promise<void> {
  checkLittleEndian(path);
  const header = encodeHeader(path, sources, metadata);
  const temporary = `${path}.${process.pid}.tmp`;
  const handle = await open(temporary, 'w');
  try {
    await writeFully(handle, header);
    for (const [name, source] of sources) {
      const need = layoutBytes(source);
      const wrongSize = (got: string) =>
        new SafetensorsError(
          path,
          name,
          `shape [${source.shape.join(', ')}] of ${source.dtype} needs ${need} bytes, the source produced ${got}`,
        );
      let written = 0;
      for await (const chunk of source.chunks()) {
        if (written + chunk.byteLength > need) throw wrongSize('more');
        await writeFully(handle, chunk);
        written += chunk.byteLength;
      }
      if (written !== need) throw wrongSize(String(written));
    }
    await handle.close();
    await rename(temporary, path);
  } catch (e) {
    await handle.close().catch(() => {});
    await rm(temporary, { force: true });
    throw e;
  }
}

/** A tensor read from a file: raw little-endian bytes (in a buffer of their own, so typed views are aligned). */
export interface SafetensorsTensor extends SafetensorsBlob {
  readonly name: string;
}

/** View raw tensor bytes as a host tensor; only the dtypes {@link SAFETENSORS_DTYPE} maps are supported. */
export function blobToTensor(file: string, name: string, blob: SafetensorsBlob): Tensor {
  const dtype = HOST_DTYPE[blob.dtype];
  if (dtype === undefined) {
    throw new SafetensorsError(
      file,
      name,
      `dtype ${blob.dtype} has no host tensor type (supported: ${Object.keys(HOST_DTYPE).join(', ')})`,
    );
  }
  const itemSize = SAFETENSORS_ITEM_SIZE[blob.dtype];
  const count = blob.shape.reduce((a, d) => a * d, 1);
  if (blob.bytes.byteLength !== count * itemSize) {
    throw new SafetensorsError(
      file,
      name,
      `shape [${blob.shape.join(', ')}] of ${blob.dtype} needs ${count * itemSize} bytes, got ${blob.bytes.byteLength}`,
    );
  }
  // Copy when the bytes are not aligned for the typed array (a slice of a larger buffer).
  const bytes = blob.bytes.byteOffset % itemSize === 0 ? blob.bytes : blob.bytes.slice();
  const data = {
    float64: () => new Float64Array(bytes.buffer, bytes.byteOffset, count),
    float32: () => new Float32Array(bytes.buffer, bytes.byteOffset, count),
    float16: () => new Uint16Array(bytes.buffer, bytes.byteOffset, count),
    bfloat16: () => new Uint16Array(bytes.buffer, bytes.byteOffset, count),
    int32: () => new Int32Array(bytes.buffer, bytes.byteOffset, count),
    uint8: () => new Uint8Array(bytes.buffer, bytes.byteOffset, count),
  }[dtype]();
  return fromStorage(dtype, blob.shape, data as never, name);
}

async function readFully(
  file: string,
  handle: FileHandle,
  length: number,
  position: number,
  tensor: string | null,
): Promise<Uint8Array> {
  let buffer: Uint8Array;
  try {
    buffer = new Uint8Array(length);
  } catch {
    throw new SafetensorsError(file, tensor, `${length} bytes do not fit in one buffer on this platform`);
  }
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buffer, done, length - done, position + done);
    // The header was checked against the size at open; running dry now means the file shrank under us.
    if (bytesRead === 0)
      throw new SafetensorsError(file, tensor, `file ended after ${position + done} bytes while reading`);
    done += bytesRead;
  }
  return buffer;
}

/** An open safetensors file: a validated header, and tensors read on demand. Call {@link close} when done. */
export class SafetensorsFile {
  /** The path the file was opened from (used in every error message). */
  readonly path: string;
  /** The header's `__metadata__` map. */
  readonly metadata: Readonly<Record<string, string>>;
  private readonly handle: FileHandle;
  private readonly header: SafetensorsHeader;
  private readonly byName: ReadonlyMap<string, SafetensorsEntry>;

  private constructor(path: string, handle: FileHandle, header: SafetensorsHeader) {
    this.path = path;
    this.handle = handle;
    this.header = header;
    this.metadata = header.metadata;
    this.byName = new Map(header.entries.map((e) => [e.name, e]));
  }

  /** Open `path` and validate its header (without reading any tensor data). */
  static async open(path: string): Promise<SafetensorsFile> {
    checkLittleEndian(path);
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (e) {
      throw new SafetensorsError(
        path,
        null,
        `cannot open the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
      );
    }
    try {
      if (!(await handle.stat()).isFile()) throw new SafetensorsError(path, null, 'not a regular file');
      const { size } = await handle.stat();
      const prefix = await readFully(path, handle, Math.min(8, size), 0, null);
      const headerLength = checkHeaderLength(path, prefix, size);
      const headerBytes = await readFully(path, handle, headerLength, 8, null);
      const header = parseHeader(path, headerBytes, headerLength, size - 8 - headerLength);
      return new SafetensorsFile(path, handle, header);
    } catch (e) {
      await handle.close();
      throw e;
    }
  }

  /** Tensor entries (name, dtype, shape, offsets) in file order. */
  get entries(): readonly SafetensorsEntry[] {
    return this.header.entries;
  }

  /** The entry for `name`; the error lists a few names that do exist. */
  entry(name: string): SafetensorsEntry {
    const entry = this.byName.get(name);
    if (!entry) {
      const some = this.header.entries.slice(0, 5).map((e) => e.name);
      throw new SafetensorsError(
        this.path,
        name,
        `no such tensor (the file holds ${this.header.entries.length}: ${some.join(', ')}${this.header.entries.length > 5 ? ', ...' : ''})`,
      );
    }
    return entry;
  }

  /** Read one tensor's raw bytes with a positioned read. */
  async read(name: string): Promise<SafetensorsTensor> {
    const e = this.entry(name);
    const bytes = await readFully(
      this.path,
      this.handle,
      e.end - e.begin,
      this.header.dataStart + e.begin,
      name,
    );
    return { name, dtype: e.dtype, shape: e.shape, bytes };
  }

  /** Read one tensor as a host tensor (F64, F32, F16, BF16, I32 and U8 only). */
  async tensor(name: string): Promise<Tensor> {
    return blobToTensor(this.path, name, await this.read(name));
  }

  /** Close the file handle. */
  async close(): Promise<void> {
    await this.handle.close();
  }
}

/** A whole safetensors image decoded from memory (validated exactly like a file). */
export interface DecodedSafetensors {
  readonly metadata: Readonly<Record<string, string>>;
  readonly tensors: ReadonlyMap<string, SafetensorsTensor>;
}

/** Decode a safetensors image held in memory; `label` names it in errors. */
export function decodeSafetensors(bytes: Uint8Array, label = '<memory>'): DecodedSafetensors {
  checkLittleEndian(label);
  const headerLength = checkHeaderLength(label, bytes.subarray(0, 8), bytes.length);
  const header = parseHeader(
    label,
    bytes.subarray(8, 8 + headerLength),
    headerLength,
    bytes.length - 8 - headerLength,
  );
  const tensors = new Map<string, SafetensorsTensor>();
  for (const e of header.entries) {
    const data = bytes.slice(header.dataStart + e.begin, header.dataStart + e.end);
    tensors.set(e.name, { name: e.name, dtype: e.dtype, shape: e.shape, bytes: data });
  }
  return { metadata: header.metadata, tensors };
}

/** Read every tensor of a file into host tensors (convenience for small files such as exported block masks). */
export async function readSafetensors(
  path: string,
): Promise<{ metadata: Readonly<Record<string, string>>; tensors: Map<string, Tensor> }> {
  const file = await SafetensorsFile.open(path);
  try {
    const tensors = new Map<string, Tensor>();
    for (const e of file.entries) tensors.set(e.name, await file.tensor(e.name));
    return { metadata: file.metadata, tensors };
  } finally {
    await file.close();
  }
}
