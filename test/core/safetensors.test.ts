import { mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  decodeSafetensors,
  encodeSafetensors,
  readSafetensors,
  SafetensorsError,
  SafetensorsFile,
  type SafetensorsSource,
  writeSafetensors,
  writeSafetensorsStream,
} from '../../core/safetensors.js';
import { decodeValues, fromValues, type Tensor } from '../../core/tensor.js';
import { seededRandom, testRuns } from '../runtime/cpu/support.js';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-safetensors-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Assemble a file by hand: little-endian u64 length, header text, data (independent of the writer). */
function craft(
  header: string | Uint8Array,
  data: Uint8Array = new Uint8Array(),
  length?: bigint,
): Uint8Array {
  const h = typeof header === 'string' ? new TextEncoder().encode(header) : header;
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, length ?? BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

/** Named tensors in file order (an array: object literals would reorder '0' and swallow '__proto__'). */
function sampleEntries(): [string, Tensor][] {
  const rand = seededRandom(3);
  const values = (n: number) => Array.from({ length: n }, () => rand() * 200 - 100);
  return [
    ['blocks.0.attn1.to_q.weight', fromValues('float32', [3, 4], values(12))],
    ['f64', fromValues('float64', [2, 2], values(4))],
    ['half', fromValues('float16', [5], values(5))],
    ['brain', fromValues('bfloat16', [1, 3], values(3))],
    ['ints', fromValues('int32', [4], [-7, 0, 2147483647, -2147483648])],
    ['bytes', fromValues('uint8', [3], [0, 17, 255])],
    ['empty', fromValues('float32', [0, 4], [])],
    ['scalar', fromValues('float32', [], [2.5])],
    ['0', fromValues('int32', [1], [42])],
    ['__proto__', fromValues('uint8', [1], [9])],
  ];
}

describe('safetensors round trip', () => {
  it('writes a file that a hand-written parser reads back (spec layout, aligned data, values)', async () => {
    const path = join(dir, 'roundtrip.safetensors');
    const tensors = sampleEntries();
    await writeSafetensors(path, tensors, { format: 'pt', pattern: 'attention_tile_a2' });
    const bytes = new Uint8Array(await readFile(path));
    const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
    expect((8 + n) % 8).toBe(0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    expect(header.__metadata__).toEqual({ format: 'pt', pattern: 'attention_tile_a2' });
    const f32 = header['blocks.0.attn1.to_q.weight'];
    expect(f32.dtype).toBe('F32');
    expect(f32.shape).toEqual([3, 4]);
    const view = new DataView(bytes.buffer, bytes.byteOffset + 8 + n + f32.data_offsets[0], 48);
    const original = tensors[0]![1].data as Float32Array;
    for (let i = 0; i < 12; i++) expect(view.getFloat32(i * 4, true)).toBe(original[i]);
    expect(header['0'].dtype).toBe('I32');
    // Keys keep the caller's order in the header text, and '__proto__' is an ordinary tensor.
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    expect(text.indexOf('"scalar"')).toBeLessThan(text.indexOf('"0"'));
    expect(Object.hasOwn(header, '__proto__')).toBe(true);
    expect(header.scalar.shape).toEqual([]);
  });

  it('reads back every dtype, shape and the metadata, from a file and from memory', async () => {
    const path = join(dir, 'all.safetensors');
    const tensors = sampleEntries();
    await writeSafetensors(path, tensors, { note: 'ok' });
    const fromFile = await readSafetensors(path);
    const fromMemory = decodeSafetensors(encodeSafetensors(tensors, { note: 'ok' }));
    expect(fromFile.metadata).toEqual({ note: 'ok' });
    expect(fromMemory.metadata).toEqual({ note: 'ok' });
    for (const [name, t] of tensors) {
      const back = fromFile.tensors.get(name)!;
      expect(back.dtype).toBe(t.dtype);
      expect(back.shape).toEqual(t.shape);
      expect(Array.from(back.data)).toEqual(Array.from(t.data));
      expect(Array.from(fromMemory.tensors.get(name)!.bytes)).toEqual(
        Array.from(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)),
      );
    }
  });

  it('writes raw blobs of dtypes without a host type and strided tensors in logical order', async () => {
    const i64 = new Uint8Array(16);
    new DataView(i64.buffer).setBigInt64(8, -5n, true);
    const base = fromValues('float64', [2, 3], [1, 2, 3, 4, 5, 6]);
    const transposed: Tensor = { ...base, shape: [3, 2], strides: [1, 3] };
    const file = decodeSafetensors(
      encodeSafetensors({ big: { dtype: 'I64', shape: [2], bytes: i64 }, t: transposed }),
    );
    expect(file.tensors.get('big')!.dtype).toBe('I64');
    expect(new DataView(file.tensors.get('big')!.bytes.buffer).getBigInt64(8, true)).toBe(-5n);
    const t = file.tensors.get('t')!;
    expect(Array.from(new Float64Array(t.bytes.buffer, t.bytes.byteOffset, 6))).toEqual([1, 4, 2, 5, 3, 6]);
  });

  it('reads lazily with positioned reads: a file truncated after open fails cleanly on the missing tensor', async () => {
    const path = join(dir, 'shrinks.safetensors');
    await writeSafetensors(path, {
      a: fromValues('float32', [4], [1, 2, 3, 4]),
      b: fromValues('float32', [1024], new Float32Array(1024).fill(1)),
    });
    const file = await SafetensorsFile.open(path);
    try {
      const size = (await readFile(path)).length;
      await truncate(path, size - 100);
      expect(Array.from(decodeValues(await file.tensor('a')))).toEqual([1, 2, 3, 4]);
      await expect(file.read('b')).rejects.toThrow(/tensor 'b': file ended after/);
      await expect(file.read('c')).rejects.toThrow(/tensor 'c': no such tensor \(the file holds 2: a, b\)/);
    } finally {
      await file.close();
    }
  });

  it('rejects what it cannot write, naming the tensor', () => {
    expect(() => encodeSafetensors({ x: { dtype: 'F32', shape: [3], bytes: new Uint8Array(8) } })).toThrow(
      "<memory>: tensor 'x': shape [3] of F32 needs 12 bytes, got 8",
    );
    expect(() => encodeSafetensors({ __metadata__: fromValues('uint8', [1], [1]) })).toThrow(/reserved/);
    expect(() =>
      encodeSafetensors([
        ['a', fromValues('uint8', [1], [1])],
        ['a', fromValues('uint8', [1], [1])],
      ]),
    ).toThrow(/twice/);
    expect(() => encodeSafetensors({}, { n: 3 as unknown as string })).toThrow(
      /metadata 'n' must be a string/,
    );
  });
});

describe('streaming safetensors writer', () => {
  /** The bytes in chunks of `size` (and one empty chunk), through one reused buffer as a generator would. */
  function* refilled(bytes: Uint8Array, size: number): Generator<Uint8Array> {
    const scratch = new Uint8Array(size);
    yield scratch.subarray(0, 0);
    for (let start = 0; start < bytes.length; start += size) {
      const n = Math.min(size, bytes.length - start);
      scratch.set(bytes.subarray(start, start + n));
      yield scratch.subarray(0, n);
    }
  }
  async function* later(chunks: Iterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    for (const chunk of chunks) yield await Promise.resolve(chunk);
  }

  it('writes tensors produced in chunks (sync and async, one buffer refilled) byte for byte as encodeSafetensors', async () => {
    const tensors = sampleEntries();
    const metadata = { format: 'pt' };
    const expected = encodeSafetensors(tensors, metadata);
    const blobs = decodeSafetensors(expected).tensors;
    const sources = tensors.map(([name], i): [string, SafetensorsSource] => {
      const blob = blobs.get(name)!;
      const size = [1, 3, 7, 64][i % 4]!;
      return [
        name,
        {
          dtype: blob.dtype,
          shape: blob.shape,
          chunks: () => (i % 2 === 0 ? refilled(blob.bytes, size) : later(refilled(blob.bytes, size))),
        },
      ];
    });
    const path = join(dir, 'streamed.safetensors');
    await writeSafetensorsStream(path, sources, metadata);
    expect(new Uint8Array(await readFile(path))).toEqual(expected);
  });

  it('rejects a source that yields too few or too many bytes, or fails, naming the tensor and leaving no file', async () => {
    const out = await mkdtemp(join(dir, 'stream-errors-'));
    const path = join(out, 'bad.safetensors');
    const source = (chunks: () => Iterable<Uint8Array>): [string, SafetensorsSource][] => [
      ['a', { dtype: 'F32', shape: [1], chunks: () => [new Uint8Array(4)] }],
      ['b', { dtype: 'F32', shape: [2], chunks }],
    ];
    const cases: [() => Iterable<Uint8Array>, RegExp][] = [
      [() => [new Uint8Array(4)], /tensor 'b': shape \[2\] of F32 needs 8 bytes, the source produced 4$/],
      [
        () => [new Uint8Array(4), new Uint8Array(8)],
        /tensor 'b': shape \[2\] of F32 needs 8 bytes, the source produced more$/,
      ],
      [
        function* () {
          yield new Uint8Array(4);
          throw new Error('generator broke');
        },
        /generator broke/,
      ],
    ];
    for (const [chunks, message] of cases) {
      await expect(writeSafetensorsStream(path, source(chunks))).rejects.toThrow(message);
      expect(await readdir(out)).toEqual([]);
    }
    // A bad layout fails in the header, before the file is opened.
    await expect(
      writeSafetensorsStream(path, [['c', { dtype: 'F32', shape: [-1], chunks: () => [] }]]),
    ).rejects.toThrow(/tensor 'c': shape \[-1\] must hold non-negative integers/);
    expect(await readdir(out)).toEqual([]);
  });
});

const f32x2 = (offsets: string) => `{"dtype":"F32","shape":[2],"data_offsets":${offsets}}`;

/** [what, file bytes, expected message fragment]. */
const HOSTILE: [string, Uint8Array, RegExp][] = [
  ['an empty file', new Uint8Array(0), /file is 0 bytes, too short/],
  ['a 5-byte file', new Uint8Array(5), /file is 5 bytes, too short/],
  [
    'a header length of 2^63',
    craft('{}', new Uint8Array(), 2n ** 63n),
    /header length 9223372036854775808 exceeds the limit/,
  ],
  [
    'a header length just over the limit',
    craft('{}', new Uint8Array(), 100_000_001n),
    /exceeds the limit of 100000000 bytes/,
  ],
  [
    'a header length past the end',
    craft('{}', new Uint8Array(), 1000n),
    /header length 1000 runs past the end of the file \(10 bytes\)/,
  ],
  ['a zero header length', craft('', new Uint8Array(), 0n), /header length 0 is too small/],
  ['bad JSON', craft('{"a": '), /header is not valid JSON/],
  ['invalid UTF-8', craft(Uint8Array.from([0x7b, 0xff, 0xfe, 0x7d])), /header is not valid UTF-8/],
  ['an array header', craft('[1, 2]'), /header must be a JSON object/],
  ['a null header', craft('null'), /header must be a JSON object/],
  ['a string header', craft('"hello"'), /header must be a JSON object/],
  ['an entry that is a number', craft('{"w": 3}'), /tensor 'w': entry must be an object/],
  [
    'an unknown dtype',
    craft('{"w":{"dtype":"F99","shape":[1],"data_offsets":[0,4]}}', new Uint8Array(4)),
    /tensor 'w': dtype "F99" is not a safetensors dtype/,
  ],
  [
    'a negative dimension',
    craft('{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}', new Uint8Array(4)),
    /tensor 'w': shape must be an array of non-negative integers, got \[-1\]/,
  ],
  [
    'a fractional dimension',
    craft('{"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}', new Uint8Array(4)),
    /shape must be an array of non-negative integers, got \[1.5\]/,
  ],
  [
    'a string dimension',
    craft('{"w":{"dtype":"F32","shape":["2"],"data_offsets":[0,8]}}', new Uint8Array(8)),
    /shape must be an array/,
  ],
  [
    'a shape that is not an array',
    craft('{"w":{"dtype":"F32","shape":2,"data_offsets":[0,8]}}', new Uint8Array(8)),
    /shape must be an array/,
  ],
  [
    'a missing field',
    craft('{"w":{"dtype":"F32","data_offsets":[0,8]}}', new Uint8Array(8)),
    /tensor 'w': missing field 'shape'/,
  ],
  [
    'an unexpected field',
    craft('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}}', new Uint8Array(8)),
    /unexpected field 'x'/,
  ],
  [
    'offsets past the end of the file',
    craft(`{"w":${f32x2('[0,8]')}}`, new Uint8Array(4)),
    /tensor 'w': data_offsets end 8 is past the end of the data region \(4 bytes\)/,
  ],
  [
    'offsets far past the end',
    craft(`{"w":${f32x2('[9007199254740000,9007199254740008]')}}`),
    /past the end of the data region/,
  ],
  [
    'reversed offsets',
    craft(`{"w":${f32x2('[8,0]')}}`, new Uint8Array(8)),
    /data_offsets must be \[begin, end\]/,
  ],
  ['fractional offsets', craft(`{"w":${f32x2('[0,7.5]')}}`, new Uint8Array(8)), /data_offsets must be/],
  ['negative offsets', craft(`{"w":${f32x2('[-8,0]')}}`, new Uint8Array(8)), /data_offsets must be/],
  ['three offsets', craft(`{"w":${f32x2('[0,4,8]')}}`, new Uint8Array(8)), /data_offsets must be/],
  [
    'a size that does not match the shape',
    craft(`{"w":${f32x2('[0,4]')}}`, new Uint8Array(4)),
    /tensor 'w': holds 4 bytes but shape \[2\] of F32 needs 8 bytes/,
  ],
  [
    'a shape whose size overflows 2^53',
    craft('{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}', new Uint8Array(4)),
    /needs 73786976294838206464 bytes/,
  ],
  [
    'overlapping tensors',
    craft(`{"a":${f32x2('[0,8]')},"b":${f32x2('[4,12]')}}`, new Uint8Array(12)),
    /tensor 'b': data \[4, 12\) overlaps tensor 'a'/,
  ],
  [
    'a gap between tensors',
    craft(`{"a":${f32x2('[0,8]')},"b":${f32x2('[12,20]')}}`, new Uint8Array(20)),
    /tensor 'b': 4 bytes before it \(from offset 8\) belong to no tensor/,
  ],
  [
    'trailing bytes',
    craft(`{"a":${f32x2('[0,8]')}}`, new Uint8Array(12)),
    /4 bytes after the last tensor belong to no tensor/,
  ],
  [
    'non-string metadata',
    craft('{"__metadata__":{"a":1}}'),
    /__metadata__ must be an object mapping strings to strings/,
  ],
  ['array metadata', craft('{"__metadata__":["a"]}'), /__metadata__ must be/],
];

describe('safetensors reader on hostile input', () => {
  it.each(HOSTILE)('rejects %s (in memory)', (_what, bytes, message) => {
    expect(() => decodeSafetensors(bytes, 'hostile.safetensors')).toThrow(SafetensorsError);
    expect(() => decodeSafetensors(bytes, 'hostile.safetensors')).toThrow(message);
  });

  it.each(HOSTILE)('rejects %s (from a file, naming the path)', async (what, bytes, message) => {
    const path = join(dir, `${what.replace(/\W+/g, '-')}.safetensors`);
    await writeFile(path, bytes);
    const opened = SafetensorsFile.open(path);
    await expect(opened).rejects.toThrow(SafetensorsError);
    await expect(SafetensorsFile.open(path)).rejects.toThrow(message);
    await expect(SafetensorsFile.open(path)).rejects.toThrow(path);
  });

  it('reports a missing file or a directory as a SafetensorsError', async () => {
    await expect(SafetensorsFile.open(join(dir, 'missing.safetensors'))).rejects.toThrow(
      /missing.safetensors: cannot open the file \(ENOENT\)/,
    );
    await expect(SafetensorsFile.open(dir)).rejects.toThrow(SafetensorsError);
  });

  it('rejects a valid file truncated at any length', () => {
    const good = encodeSafetensors(sampleEntries());
    for (let cut = 0; cut < good.length; cut++) {
      expect(() => decodeSafetensors(good.subarray(0, cut))).toThrow(SafetensorsError);
    }
  });

  it('never crashes on random mutations of a valid file: it decodes or throws SafetensorsError', () => {
    const good = encodeSafetensors(sampleEntries(), { k: 'v' });
    const mutation = fc.record({
      edits: fc.array(fc.tuple(fc.nat({ max: good.length - 1 }), fc.nat({ max: 255 })), {
        minLength: 1,
        maxLength: 8,
      }),
      cut: fc.option(fc.nat({ max: good.length }), { nil: undefined }),
      // Most interesting bytes are in the length prefix and the header; aim a share of edits there.
      headerOnly: fc.boolean(),
    });
    fc.assert(
      fc.property(mutation, ({ edits, cut, headerOnly }) => {
        const bytes = good.slice(0, cut ?? good.length);
        const headerEnd = Math.min(bytes.length, 200);
        for (const [at, value] of edits) {
          const position = headerOnly ? at % Math.max(1, headerEnd) : at;
          if (position < bytes.length) bytes[position] = value;
        }
        try {
          const decoded = decodeSafetensors(bytes);
          // Whatever decoded must lie inside the input.
          let total = 0;
          for (const t of decoded.tensors.values()) total += t.bytes.length;
          expect(total).toBeLessThanOrEqual(bytes.length);
        } catch (e) {
          expect(e).toBeInstanceOf(SafetensorsError);
        }
      }),
      { numRuns: testRuns(500) },
    );
  });
});
