/**
 * The host C++ compiler as the oracle of kernel-parameter layouts (codegen/cuda/kernel-params.ts): each table is
 * declared as a C struct by the same renderer the kernels use, and the compiler reports where every field lands,
 * where the last one ends (a parameter list's extent: CUDA places parameters at their natural alignment, as a
 * struct places its fields) and the struct's `sizeof` (the struct form, padded to its alignment).
 */
import { type KernelParam, renderParams } from '../../../codegen/cuda/kernel-params.js';
import { runCxx } from './host-cxx.js';

/** Where a C++ compiler puts a table's fields. */
export interface CxxParamLayout {
  readonly offsets: readonly number[];
  /** One past the last field: the parameter list's bytes. */
  readonly end: number;
  /** `sizeof` of the struct: the struct form's bytes. */
  readonly size: number;
}

/** The layouts of `tables` (non-empty), in one compile; `prelude` declares the C types they use. */
export function cxxParamLayouts(tables: readonly (readonly KernelParam[])[], prelude = ''): CxxParamLayout[] {
  const structs = tables.map((fields, i) => renderParams(fields, 'struct', `S${i}`));
  const prints = tables.map((fields, i) => {
    const last = fields.at(-1)!.name;
    return [
      ...fields.map((f) => `std::printf("%zu ", offsetof(S${i}, ${f.name}));`),
      `std::printf("%zu %zu\\n", offsetof(S${i}, ${last}) + sizeof(S${i}::${last}), sizeof(S${i}));`,
    ].join('\n');
  });
  const program = [
    '#include <cstddef>',
    '#include <cstdio>',
    prelude,
    ...structs,
    'int main() {',
    ...prints,
    '}',
    '',
  ].join('\n');
  return runCxx(program)
    .trim()
    .split('\n')
    .map((line) => {
      const numbers = line.trim().split(' ').map(Number);
      return { offsets: numbers.slice(0, -2), end: numbers.at(-2)!, size: numbers.at(-1)! };
    });
}

/** Distinct values per field (so a shifted offset reads back as another field's), of each field's kind. */
export function markedValues(fields: readonly KernelParam[]): Record<string, bigint | number | Uint8Array> {
  return Object.fromEntries(
    fields.map((f, i) => [
      f.name,
      f.type === 'tmap' ? new Uint8Array(128).fill(i + 1) : f.type === 'f32' ? 0.5 + i : BigInt(1000 + i),
    ]),
  );
}

/** `field`'s value read back from `packed` at byte `at`, in the kind {@link markedValues} gives it. */
export function readBack(packed: Uint8Array, field: KernelParam, at: number): bigint | number | Uint8Array {
  const view = new DataView(packed.buffer, packed.byteOffset, packed.byteLength);
  switch (field.type) {
    case 'tmap':
      return packed.slice(at, at + 128);
    case 'f32':
      return view.getFloat32(at, true);
    case 'i32':
      return BigInt(view.getInt32(at, true));
    default:
      return view.getBigInt64(at, true);
  }
}
