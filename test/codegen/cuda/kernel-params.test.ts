/**
 * The one kernel-parameter mechanism (codegen/cuda/kernel-params.ts): its layouts against the host C++
 * compiler in both forms (the attention kernels' struct, every op and conversion kernel's parameter list), its
 * declarations, and the packer's errors. nvcc's own parameter lists are checked in op-kernels.test.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  ATTN_PARAM_BYTES,
  ATTN_PARAM_FIELDS,
  ATTN_PARAM_FIELDS_SM90A,
  type KernelParam,
  type ParamForm,
  type ParamValues,
  packParams,
  param,
  paramLayout,
  renderParams,
} from '../../../codegen/cuda/kernel-params.js';
import { CONVERT_KERNELS, MODEL_KERNELS } from '../../../codegen/cuda/ops/index.js';
import { hasCxx, hostHeader } from './host-cxx.js';
import { cxxParamLayouts, markedValues, readBack } from './param-oracle.js';

describe('TpAttnParams', () => {
  // The C compiler is the oracle for the struct layout the host packs by hand: the sm_80 kernel's, and the
  // sm_90a one's, which starts with two 64-byte aligned tensor maps.
  it.skipIf(!hasCxx()).each([
    ['sm_80', ATTN_PARAM_FIELDS, ''],
    ['sm_90a', ATTN_PARAM_FIELDS_SM90A, hostHeader('tessera/tessera.cuh')], // TpTensorMap
  ] as const)('packs the %s fields at the offsets a C++ compiler gives them', (_, fields, prelude) => {
    const [cxx] = cxxParamLayouts([fields], prelude);
    const layout = paramLayout(fields, 'struct');
    expect(cxx!.size).toBe(layout.bytes);
    expect(layout.offsets).toEqual(cxx!.offsets);
    if (fields === ATTN_PARAM_FIELDS) expect(cxx!.size).toBe(ATTN_PARAM_BYTES);
    // Pack distinct values and read each back at the compiler's offset.
    const values = markedValues(fields);
    const packed = packParams(fields, 'struct', values, 'tessera_fwd_test');
    expect(packed.length).toBe(cxx!.size);
    fields.forEach((f, i) => {
      expect(readBack(packed, f, cxx!.offsets[i]!), f.name).toEqual(values[f.name]);
    });
  });
});

describe('op kernel parameter lists', () => {
  const kernels = [...Object.values(MODEL_KERNELS), ...Object.values(CONVERT_KERNELS)];

  it.skipIf(!hasCxx())(
    'pack every model and conversion kernel at the offsets a C++ compiler gives them, ending at the last',
    () => {
      const cxx = cxxParamLayouts(
        kernels.map((k) => k.params),
        'typedef unsigned short bf16;',
      );
      kernels.forEach((spec, k) => {
        const { offsets, end, size } = cxx[k]!;
        expect(paramLayout(spec.params, 'list'), spec.name).toEqual({ offsets, bytes: end });
        expect(paramLayout(spec.params, 'struct').bytes, spec.name).toBe(size);
        const values = markedValues(spec.params);
        const packed = packParams(spec.params, 'list', values, spec.name);
        expect(packed.length, spec.name).toBe(end);
        spec.params.forEach((p, i) => {
          expect(readBack(packed, p, offsets[i]!), `${spec.name}.${p.name}`).toEqual(values[p.name]);
        });
      });
      // Some lists end short of their struct's tail padding, so both ends are exercised.
      expect(cxx.some((l) => l.end !== l.size)).toBe(true);
    },
  );

  it('ends a struct padded to its alignment and a parameter list at its last value', () => {
    // tp_gather_rows(src, dst, token_of, long long total, int tokens, int length, int width): 44 bytes.
    expect(paramLayout(MODEL_KERNELS.gatherRows.params, 'list').bytes).toBe(44);
    expect(paramLayout(MODEL_KERNELS.gatherRows.params, 'struct').bytes).toBe(48);
    // A struct of 32-bit fields is 4-byte aligned; tensor maps make it 64-byte aligned.
    const ints = [param.i32('a'), param.i32('b'), param.f32('c')];
    expect(paramLayout(ints, 'struct').bytes).toBe(12);
    expect(paramLayout([param.tmap('m'), param.i32('n')], 'struct')).toEqual({
      offsets: [0, 128],
      bytes: 192,
    });
    expect(paramLayout([param.tmap('m'), param.i32('n')], 'list').bytes).toBe(132);
  });
});

describe('renderParams', () => {
  const fields = [param.in('x', 'float', 'input'), param.out('y'), param.i64('n')];

  it('declares a struct a field a line, with its doc', () => {
    expect(renderParams(fields, 'struct', 'TpExample')).toBe(
      'struct TpExample {\n  const float* x;  // input\n  bf16* y;\n  long long n;\n};',
    );
  });

  it('declares a kernel signature on one line', () => {
    expect(renderParams(fields, 'list', 'tp_example')).toBe(
      'tp_example(const float* x, bf16* y, long long n)',
    );
  });
});

describe('packParams', () => {
  const fields: readonly KernelParam[] = [
    param.in('src', 'float'),
    param.i64('n'),
    param.i32('count'),
    param.f32('scale'),
    param.tmap('map'),
  ];
  const good = { src: 0x1000n, n: 2n ** 40n, count: 3, scale: 0.5, map: new Uint8Array(128) };
  const pack = (values: ParamValues, form: ParamForm = 'struct') => packParams(fields, form, values, 'tp_k');

  it('takes a bigint or a safe integer for any integer field', () => {
    const a = pack(good);
    const b = pack({ ...good, src: 0x1000, n: 2 ** 40, count: 3n });
    expect(b).toEqual(a);
    // Device addresses are unsigned: the top bit set is still in range.
    expect(() => pack({ ...good, src: 2n ** 64n - 1n })).not.toThrow();
  });

  it('names the kernel and the field of a missing value', () => {
    const { count: _, ...missing } = good;
    expect(() => pack(missing)).toThrow("tp_k: field 'count' (i32) has no value");
    expect(() => pack(missing, 'list')).toThrow("tp_k: parameter 'count' (i32) has no value");
  });

  it.each([
    ['bytes for a number', { count: new Uint8Array(4) }, /'count' \(i32\) needs a number, got bytes/],
    [
      'a number for a tensor map',
      { map: 7n },
      /'map' \(tmap\) needs the 128 bytes of a tensor map, got bigint/,
    ],
    ['a short tensor map', { map: new Uint8Array(64) }, /'map' \(tmap\) needs the 128 bytes .* got 64 bytes/],
    [
      'a fraction for an integer',
      { count: 1.5 },
      /'count' \(i32\) needs a safe integer or a bigint, got 1.5/,
    ],
    ['an integer beyond 2^53 as a number', { n: 2 ** 60 }, /'n' \(i64\) needs a safe integer or a bigint/],
    ['an i32 out of range', { count: 2 ** 31 }, /'count' \(i32\) 2147483648 is outside/],
    ['an i64 out of range', { n: 2n ** 63n }, /'n' \(i64\) 9223372036854775808 is outside/],
    ['a negative address', { src: -16n }, /'src' \(ptr\) -16 is outside/],
  ] as const)('rejects %s', (_, change, message) => {
    expect(() => pack({ ...good, ...change })).toThrow(RangeError);
    expect(() => pack({ ...good, ...change })).toThrow(message);
    expect(() => pack({ ...good, ...change })).toThrow(/^tp_k: field/);
  });
});
