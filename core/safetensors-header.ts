/**
 * The safetensors header: an 8-byte little-endian length N, N bytes of UTF-8 JSON
 * `{ "__metadata__"?: {string: string}, name: { dtype, shape, data_offsets: [begin, end] }, ... }`, then the
 * data region, with offsets relative to its start. This module validates a header as hostile input (every
 * tensor in bounds, sizes consistent with shape x item size, tensors tiling the data region with no overlap
 * and no gap) and builds headers for the writer. File access lives in `safetensors.ts`.
 */
import { UserError } from './errors.js';

/** Element types of the safetensors format. */
export type SafetensorsDType =
  | 'BOOL'
  | 'U8'
  | 'I8'
  | 'F8_E5M2'
  | 'F8_E4M3'
  | 'I16'
  | 'U16'
  | 'F16'
  | 'BF16'
  | 'I32'
  | 'U32'
  | 'F32'
  | 'F64'
  | 'I64'
  | 'U64';

/** Bytes per element of each safetensors dtype. */
export const SAFETENSORS_ITEM_SIZE: Readonly<Record<SafetensorsDType, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
};

/** The largest header accepted: bounds the JSON a hostile file can make us parse (the reference reader's limit). */
export const MAX_HEADER_BYTES = 100_000_000;

/** A malformed, truncated or hostile safetensors file, or a tensor the writer cannot store. */
export class SafetensorsError extends UserError {
  /** The file (path, or `<memory>`). */
  readonly file: string;
  /** The tensor the problem is about, or null when it is about the file as a whole. */
  readonly tensor: string | null;

  constructor(file: string, tensor: string | null, problem: string) {
    super(tensor === null ? `${file}: ${problem}` : `${file}: tensor '${tensor}': ${problem}`);
    this.file = file;
    this.tensor = tensor;
  }
}

/** One tensor described by a header; `begin` / `end` are byte offsets inside the data region. */
export interface SafetensorsEntry {
  readonly name: string;
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
  readonly begin: number;
  readonly end: number;
}

/** A validated header. */
export interface SafetensorsHeader {
  /** The `__metadata__` string map (empty when absent). */
  readonly metadata: Readonly<Record<string, string>>;
  /** Tensors in data order. */
  readonly entries: readonly SafetensorsEntry[];
  /** File offset of the data region: 8 + header length. */
  readonly dataStart: number;
}

const ENTRY_FIELDS = new Set(['dtype', 'shape', 'data_offsets']);

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function isSize(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

/**
 * Read the header length from the first 8 bytes and check it against the limit and the file size.
 * Returns the length as a number (safe: it is at most {@link MAX_HEADER_BYTES}).
 */
export function checkHeaderLength(file: string, prefix: Uint8Array, fileSize: number): number {
  if (fileSize < 8 || prefix.length < 8) {
    throw new SafetensorsError(
      file,
      null,
      `file is ${fileSize} bytes, too short for the 8-byte header length`,
    );
  }
  const length = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (length > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError(
      file,
      null,
      `header length ${length} exceeds the limit of ${MAX_HEADER_BYTES} bytes`,
    );
  }
  if (length > BigInt(fileSize - 8)) {
    throw new SafetensorsError(
      file,
      null,
      `header length ${length} runs past the end of the file (${fileSize} bytes)`,
    );
  }
  if (length < 2n)
    throw new SafetensorsError(file, null, `header length ${length} is too small for a JSON object`);
  return Number(length);
}

function parseEntry(file: string, name: string, value: unknown, dataLength: number): SafetensorsEntry {
  const fail = (problem: string) => new SafetensorsError(file, name, problem);
  if (!isPlainObject(value)) throw fail('entry must be an object with dtype, shape and data_offsets');
  for (const key of Object.keys(value)) if (!ENTRY_FIELDS.has(key)) throw fail(`unexpected field '${key}'`);
  for (const key of ENTRY_FIELDS) if (!(key in value)) throw fail(`missing field '${key}'`);
  const { dtype, shape, data_offsets: offsets } = value;
  if (typeof dtype !== 'string' || !Object.hasOwn(SAFETENSORS_ITEM_SIZE, dtype)) {
    throw fail(
      `dtype ${JSON.stringify(dtype)} is not a safetensors dtype (${Object.keys(SAFETENSORS_ITEM_SIZE).join(', ')})`,
    );
  }
  if (!Array.isArray(shape) || !shape.every(isSize)) {
    throw fail(`shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every(isSize) ||
    offsets[0]! > offsets[1]!
  ) {
    throw fail(
      `data_offsets must be [begin, end] with integers 0 <= begin <= end, got ${JSON.stringify(offsets)}`,
    );
  }
  const [begin, end] = offsets as [number, number];
  if (end > dataLength)
    throw fail(`data_offsets end ${end} is past the end of the data region (${dataLength} bytes)`);
  const itemSize = SAFETENSORS_ITEM_SIZE[dtype as SafetensorsDType];
  // BigInt: a hostile shape's product can exceed 2^53 and compare equal by rounding.
  const need = shape.reduce((a: bigint, d: number) => a * BigInt(d), BigInt(itemSize));
  if (need !== BigInt(end - begin)) {
    throw fail(`holds ${end - begin} bytes but shape [${shape.join(', ')}] of ${dtype} needs ${need} bytes`);
  }
  return { name, dtype: dtype as SafetensorsDType, shape: [...shape], begin, end };
}

/**
 * Parse and validate the JSON header. `dataLength` is the size of the data region (file size - 8 - header
 * length): every tensor must lie inside it, and together the tensors must cover it exactly.
 */
export function parseHeader(
  file: string,
  headerBytes: Uint8Array,
  headerLength: number,
  dataLength: number,
): SafetensorsHeader {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    throw new SafetensorsError(file, null, 'header is not valid UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new SafetensorsError(file, null, `header is not valid JSON (${(e as Error).message})`);
  }
  if (!isPlainObject(json)) throw new SafetensorsError(file, null, 'header must be a JSON object');
  let metadata: Record<string, string> = {};
  const entries: SafetensorsEntry[] = [];
  for (const [name, value] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (!isPlainObject(value) || !Object.values(value).every((v) => typeof v === 'string')) {
        throw new SafetensorsError(file, null, '__metadata__ must be an object mapping strings to strings');
      }
      metadata = value as Record<string, string>;
      continue;
    }
    entries.push(parseEntry(file, name, value, dataLength));
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  // The tensors must tile the data region: each starts where the previous one ended.
  let cursor = 0;
  let previous: SafetensorsEntry | null = null;
  for (const entry of entries) {
    if (entry.begin < cursor) {
      throw new SafetensorsError(
        file,
        entry.name,
        `data [${entry.begin}, ${entry.end}) overlaps tensor '${previous?.name}'`,
      );
    }
    if (entry.begin > cursor) {
      throw new SafetensorsError(
        file,
        entry.name,
        `${entry.begin - cursor} bytes before it (from offset ${cursor}) belong to no tensor`,
      );
    }
    cursor = entry.end;
    previous = entry;
  }
  if (cursor !== dataLength) {
    throw new SafetensorsError(
      file,
      null,
      `${dataLength - cursor} bytes after the last tensor belong to no tensor`,
    );
  }
  return { metadata, entries, dataStart: 8 + headerLength };
}

/** What the header records of one tensor: its dtype and shape (its byte size follows from them). */
export interface SafetensorsLayout {
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
}

/** One tensor to write: its dtype, shape and raw little-endian bytes. */
export interface SafetensorsBlob extends SafetensorsLayout {
  readonly bytes: Uint8Array;
}

/** Bytes a tensor of `layout` takes in the data region. */
export function layoutBytes(layout: SafetensorsLayout): number {
  return layout.shape.reduce((a, d) => a * d, SAFETENSORS_ITEM_SIZE[layout.dtype]);
}

/**
 * The 8-byte length plus JSON header for tensors stored back to back in the given order, padded with spaces so
 * the data region starts 8-byte aligned. Keys are written in the given order (not JS object key order, which
 * would move integer-like names first), so the same input always gives the same file. A tensor given with its
 * `bytes` is checked against its shape; one given by layout alone is checked by the writer that streams it.
 */
export function encodeHeader(
  file: string,
  tensors: readonly (readonly [string, SafetensorsLayout | SafetensorsBlob])[],
  metadata: Readonly<Record<string, string>>,
): Uint8Array {
  const parts: string[] = [];
  const metaEntries = Object.entries(metadata);
  for (const [key, value] of metaEntries) {
    if (typeof value !== 'string')
      throw new SafetensorsError(file, null, `metadata '${key}' must be a string`);
  }
  if (metaEntries.length > 0) {
    parts.push(
      `"__metadata__":{${metaEntries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`,
    );
  }
  const seen = new Set<string>();
  let offset = 0;
  for (const [name, tensor] of tensors) {
    if (name === '__metadata__') throw new SafetensorsError(file, name, 'the name is reserved for metadata');
    if (seen.has(name)) throw new SafetensorsError(file, name, 'the name appears twice');
    seen.add(name);
    if (!Object.hasOwn(SAFETENSORS_ITEM_SIZE, tensor.dtype))
      throw new SafetensorsError(file, name, `unknown dtype '${tensor.dtype}'`);
    if (!tensor.shape.every((d) => isSize(d)))
      throw new SafetensorsError(
        file,
        name,
        `shape [${tensor.shape.join(', ')}] must hold non-negative integers`,
      );
    const need = layoutBytes(tensor);
    if ('bytes' in tensor && need !== tensor.bytes.byteLength) {
      throw new SafetensorsError(
        file,
        name,
        `shape [${tensor.shape.join(', ')}] of ${tensor.dtype} needs ${need} bytes, got ${tensor.bytes.byteLength}`,
      );
    }
    const entry = { dtype: tensor.dtype, shape: tensor.shape, data_offsets: [offset, offset + need] };
    parts.push(`${JSON.stringify(name)}:${JSON.stringify(entry)}`);
    offset += need;
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded).fill(0x20);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  return out;
}
