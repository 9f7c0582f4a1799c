/**
 * The kernel headers (codegen/cuda/kernels/tessera/*.cuh) compile with nvcc like any header: each on its own,
 * the kernel templates after a small stub of the pattern header, with instances for every tuning knob, once with
 * every mask compiled in and once with none (so both sides of every `if constexpr` are built), for sm_80 and
 * sm_90a. Also the rules of module assembly: includes resolved once each, in order, delimited.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  includedHeaders,
  inlineKernelHeaders,
  KERNEL_HEADERS,
  kernelHeader,
} from '../../../codegen/cuda/headers.js';
import {
  ATTN_PARAM_FIELDS,
  ATTN_PARAM_FIELDS_SM90A,
  ATTN_PARAM_STRUCT,
  renderParams,
} from '../../../codegen/cuda/kernel-params.js';
import { compileWithNvcc, findNvcc } from '../../../codegen/cuda/nvcc.js';

const nvcc = findNvcc();

/**
 * A stub pattern header: 512 tokens, one key term, a dense walk; `masked` turns on partial blocks and padding
 * so the kernels compile their mask code.
 */
function stubPattern(masked: boolean): string {
  return `constexpr int kSeqLen = 512;
constexpr int kBlockQ = 128;
constexpr int kBlockK = 128;
constexpr int kNumQBlocks = 4;
constexpr bool kPartialBlocks = ${masked};
constexpr bool kPaddedKeyBlocks = ${masked};
constexpr bool kPaddedQueryBlocks = ${masked};
struct TpToken { int seg; int c0; };
__device__ __forceinline__ TpToken tp_decode(int i) { return TpToken{i >= 0 && i < 500 ? 1 : 0, i / 100}; }
struct TpQueryTerms { int seg; int t0; };
struct TpKeyTerms { int seg; int t0; };
__device__ __forceinline__ TpQueryTerms tp_query_terms(TpToken q) { return TpQueryTerms{q.seg, q.c0}; }
__device__ __forceinline__ TpKeyTerms tp_key_terms(TpToken k) { return TpKeyTerms{k.seg, k.c0}; }
__device__ __forceinline__ bool tp_allowed(TpQueryTerms q, TpKeyTerms k) { return q.seg != 0 & k.seg != 0 & (k.t0 <= q.t0); }
__device__ __forceinline__ TpKeyTerms tp_shfl_up_key_terms(TpKeyTerms k) {
  k.seg = __shfl_up_sync(0xffffffffu, k.seg, 1);
  k.t0 = __shfl_up_sync(0xffffffffu, k.t0, 1);
  return k;
}
__device__ __forceinline__ bool tp_same_key_terms(TpKeyTerms a, TpKeyTerms b) { return a.seg == b.seg && a.t0 == b.t0; }
struct TpKeyWalk { int key0; int mode; int next_key; };
__device__ __forceinline__ void tp_walk_begin(TpKeyWalk& w, const TpAttnParams& p, int qb) { w.next_key = 0; }
template <int kTileK>
__device__ __forceinline__ bool tp_walk_next(TpKeyWalk& w, const TpAttnParams& p) {
  if (w.next_key >= kSeqLen) return false;
  w.key0 = w.next_key;
  w.mode = p.key_padding[w.key0 / kBlockK] != 0 ? kMaskElements : kMaskNone;
  w.next_key += kTileK;
  return true;
}
`;
}

/** Instances of a kernel template: `[name suffix, template arguments, threads]`. */
/** The kernel header of an arch. */
const HEADER = { sm_80: 'attention_sm80.cuh', sm_90a: 'attention_sm90.cuh' } as const;

const INSTANCES = {
  sm_80: [
    ['d64', '64, TpBf16, 64, 16, true, 0'],
    ['d96', '96, TpBf16, 64, 16, true, 0'],
    ['d128', '128, TpFp16, 64, 16, true, 0'],
    ['tk128', '96, TpBf16, 128, 16, true, 0'],
    ['w32', '96, TpFp16, 64, 32, false, 2'],
    ['qsmem', '64, TpBf16, 64, 16, false, 0'],
  ],
  sm_90a: [
    ['d64', '64, TpBf16, 128'],
    ['d96', '96, TpFp16, 128'],
    ['d128', '128, TpBf16, 64'],
    ['tk64', '96, TpBf16, 64'],
  ],
} as const;

/** A translation unit of one kernel template: parameters, the stub pattern, the header, the instances. */
function kernelUnit(arch: 'sm_80' | 'sm_90a', masked: boolean): string {
  const template = arch === 'sm_80' ? 'TpAttentionSm80' : 'TpAttentionSm90';
  const fields = arch === 'sm_80' ? ATTN_PARAM_FIELDS : ATTN_PARAM_FIELDS_SM90A;
  const grid = arch === 'sm_80' ? '' : '__grid_constant__ ';
  return [
    '#include "tessera/tessera.cuh"',
    renderParams(fields, 'struct', ATTN_PARAM_STRUCT),
    stubPattern(masked),
    `#include "tessera/${HEADER[arch]}"`,
    ...INSTANCES[arch].map(
      ([name, args]) =>
        `extern "C" __global__ void stub_${name}(const ${grid}${ATTN_PARAM_STRUCT} p) { ${template}<${args}>::run(p); }`,
    ),
    '',
  ].join('\n');
}

describe('the kernel headers', () => {
  it('are the files in codegen/cuda/kernels/tessera, each included once, in order, when inlined', () => {
    for (const path of KERNEL_HEADERS) expect(kernelHeader(path)).toMatch(/^\/\/ .*\.cuh: /);
    const source = '#include "tessera/tessera.cuh"\nint x;\n#include "tessera/attention_sm90.cuh"\n';
    expect(includedHeaders(source)).toEqual([
      'tessera/tessera.cuh',
      'tessera/key_runs.cuh',
      'tessera/wg_rows.cuh',
      'tessera/wgmma.cuh',
      'tessera/attention_sm90.cuh',
    ]);
    const inlined = inlineKernelHeaders(source);
    expect(inlined).not.toMatch(/#include|#pragma once/);
    for (const path of includedHeaders(source)) {
      expect(inlined.split(`// ---- ${path} (inlined)`)).toHaveLength(2);
      expect(inlined).toContain(`// ---- end of ${path} `);
    }
    expect(inlined.indexOf('int x;')).toBeLessThan(inlined.indexOf('tessera/key_runs.cuh (inlined)'));
  });

  describe.skipIf(nvcc === null)('compile with nvcc', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-headers-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    for (const path of KERNEL_HEADERS) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), kernelHeader(path));
    }
    const compile = async (name: string, text: string, arch: string) => {
      const cu = join(dir, `${name}.cu`);
      writeFileSync(cu, text);
      return compileWithNvcc(cu, arch, nvcc);
    };

    it.each([
      ['tessera.cuh', 'sm_80'],
      ['wgmma.cuh', 'sm_90a'],
    ])('%s on its own for %s', async (header, arch) => {
      const result = await compile(header.replace('.', '_'), `#include "tessera/${header}"\n`, arch);
      expect(result.log).not.toMatch(/error/i);
    });

    for (const arch of ['sm_80', 'sm_90a'] as const) {
      for (const masked of [true, false]) {
        it(`${HEADER[arch]} after a stub pattern header, ${masked ? 'every mask' : 'no mask'}, for ${arch}`, {
          timeout: 180_000,
        }, async () => {
          const result = await compile(`${arch}_${masked}`, kernelUnit(arch, masked), arch);
          expect(result.kernels.map((k) => k.kernel).sort()).toEqual(
            INSTANCES[arch].map(([name]) => `stub_${name}`).sort(),
          );
        });
      }
    }
  });
});
