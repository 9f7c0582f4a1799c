/**
 * Minimal `.npy` writer (format 1.0, little-endian, C order) so GPU tests and benchmarks can hand arrays to
 * the Python side (FlexAttention) without another dependency.
 */
import { writeFileSync } from 'node:fs';

const DESCR = { float32: '<f4', int32: '<i4', uint16: '<u2' } as const;

/** Write `data` with `shape` to `path` as an .npy file. */
export function writeNpy(
  path: string,
  data: Float32Array | Int32Array | Uint16Array,
  shape: readonly number[],
): void {
  const descr =
    data instanceof Float32Array ? DESCR.float32 : data instanceof Int32Array ? DESCR.int32 : DESCR.uint16;
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${dims}), }`;
  // Magic (6) + version (2) + header length (2) + header, padded with spaces to a multiple of 64, ending in \n.
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, ' ') + '\n';
  const head = new Uint8Array(10 + header.length);
  head.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length & 0xff, header.length >> 8]);
  head.set(new TextEncoder().encode(header), 10);
  writeFileSync(path, Buffer.concat([head, new Uint8Array(data.buffer, data.byteOffset, data.byteLength)]));
}
