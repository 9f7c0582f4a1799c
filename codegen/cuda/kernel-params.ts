/**
 * The one kernel-parameter mechanism of the CUDA backend. A kernel's parameters are a table of typed fields;
 * the CUDA declaration (a by-value struct such as the attention kernel's `TpAttnParams`, or a kernel's parameter
 * list) and the host-side byte packing both come from that table, so a launch cannot pass what the kernel does
 * not expect. The attention kernels take one struct; the op kernels (codegen/cuda/ops) take parameter lists.
 */

/** Field types, with their byte size and alignment below. */
export type ParamType = 'ptr' | 'i64' | 'i32' | 'f32' | 'tmap';

/** One struct field or kernel parameter. */
export interface KernelParam {
  readonly name: string;
  readonly type: ParamType;
  /** C type (pointers say what they point to: `const bf16*` for a bf16 input, for readable kernels). */
  readonly ctype: string;
  /** One line for the struct declaration's comment; empty for none. */
  readonly doc: string;
}

/**
 * Where a table's values go: `struct`, a by-value struct parameter (C's struct layout); `list`, a kernel's
 * parameter list (the buffer cuLaunchKernel takes with CU_LAUNCH_PARAM_BUFFER_POINTER).
 */
export type ParamForm = 'struct' | 'list';

const SIZE: Record<ParamType, number> = { ptr: 8, i64: 8, i32: 4, f32: 4, tmap: 128 };
/** A CUtensorMap is 64-byte aligned; everything else is aligned to its size. */
const ALIGN: Record<ParamType, number> = { ptr: 8, i64: 8, i32: 4, f32: 4, tmap: 64 };

/** Shorthands for parameter tables; `type` is the pointee's C type. */
export const param = {
  in: (name: string, type = 'bf16', doc = ''): KernelParam => ({
    name,
    type: 'ptr',
    ctype: `const ${type}*`,
    doc,
  }),
  out: (name: string, type = 'bf16', doc = ''): KernelParam => ({
    name,
    type: 'ptr',
    ctype: `${type}*`,
    doc,
  }),
  i64: (name: string, doc = ''): KernelParam => ({ name, type: 'i64', ctype: 'long long', doc }),
  i32: (name: string, doc = ''): KernelParam => ({ name, type: 'i32', ctype: 'int', doc }),
  f32: (name: string, doc = ''): KernelParam => ({ name, type: 'f32', ctype: 'float', doc }),
  tmap: (name: string, doc = ''): KernelParam => ({ name, type: 'tmap', ctype: 'TpTensorMap', doc }),
};

/** Byte offsets of a table's values and the bytes they take in `form`. */
export interface ParamLayout {
  readonly offsets: readonly number[];
  readonly bytes: number;
}

/**
 * Each value at its natural alignment, in declaration order. A struct ends padded to its alignment, as C's
 * `sizeof` does; a parameter list ends at its last value, because cuLaunchKernel rejects a parameter buffer
 * longer than the kernel's parameter list (CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES).
 */
export function paramLayout(params: readonly KernelParam[], form: ParamForm): ParamLayout {
  let end = 0;
  let align = 1;
  const offsets = params.map((p) => {
    const at = roundUp(end, ALIGN[p.type]);
    align = Math.max(align, ALIGN[p.type]);
    end = at + SIZE[p.type];
    return at;
  });
  return { offsets, bytes: form === 'struct' ? roundUp(end, align) : end };
}

const roundUp = (n: number, to: number) => Math.ceil(n / to) * to;

/**
 * The CUDA declaration of a table: `struct <name> { ... };` (a field a line, with its doc) for a struct, or
 * `<name>(<parameter list>)` for a kernel's signature.
 */
export function renderParams(params: readonly KernelParam[], form: ParamForm, name: string): string {
  if (form === 'list') return `${name}(${params.map((p) => `${p.ctype} ${p.name}`).join(', ')})`;
  const lines = [`struct ${name} {`];
  for (const p of params) lines.push(`  ${p.ctype} ${p.name};${p.doc ? `  // ${p.doc}` : ''}`);
  lines.push('};');
  return lines.join('\n');
}

/** Values by name: device addresses and 64-bit values as bigint (or safe integers), tensor maps as bytes. */
export type ParamValues = Readonly<Record<string, bigint | number | Uint8Array>>;

const INT_RANGE: Record<'ptr' | 'i64' | 'i32', readonly [bigint, bigint]> = {
  ptr: [0n, 2n ** 64n - 1n],
  i64: [-(2n ** 63n), 2n ** 63n - 1n],
  i32: [-(2n ** 31n), 2n ** 31n - 1n],
};

/**
 * Pack `values` as the bytes of `params` in `form` (little-endian, as on every CUDA host). Every value is
 * checked: present, of the field's kind (bytes only for a tensor map, exactly its 128), an integer in range
 * for integer fields; errors name `kernel` and the field.
 */
export function packParams(
  params: readonly KernelParam[],
  form: ParamForm,
  values: ParamValues,
  kernel: string,
): Uint8Array {
  const { offsets, bytes: size } = paramLayout(params, form);
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  params.forEach((p, i) => {
    const v = values[p.name];
    const at = offsets[i]!;
    const fail = (why: string) =>
      new RangeError(
        `${kernel}: ${form === 'struct' ? 'field' : 'parameter'} '${p.name}' (${p.type}) ${why}`,
      );
    if (v === undefined) throw fail('has no value');
    if (p.type === 'tmap') {
      if (!(v instanceof Uint8Array))
        throw fail(`needs the ${SIZE.tmap} bytes of a tensor map, got ${typeof v}`);
      if (v.length !== SIZE.tmap)
        throw fail(`needs the ${SIZE.tmap} bytes of a tensor map, got ${v.length} bytes`);
      bytes.set(v, at);
      return;
    }
    if (v instanceof Uint8Array) throw fail('needs a number, got bytes');
    if (p.type === 'f32') {
      view.setFloat32(at, Number(v), true);
      return;
    }
    if (typeof v === 'number' && !Number.isSafeInteger(v))
      throw fail(`needs a safe integer or a bigint, got ${v}`);
    const n = BigInt(v);
    const [low, high] = INT_RANGE[p.type];
    if (n < low || n > high) throw fail(`${n} is outside [${low}, ${high}]`);
    if (p.type === 'i32') view.setInt32(at, Number(n), true);
    else if (p.type === 'ptr') view.setBigUint64(at, n, true);
    else view.setBigInt64(at, n, true);
  });
  return bytes;
}

/** Fields of `TpAttnParams`, in declaration order (naturally aligned and ordered by size: no hidden padding). */
export const ATTN_PARAM_FIELDS: readonly KernelParam[] = [
  param.in('q', 'unsigned short', 'queries, 16-bit elements'),
  param.in('k', 'unsigned short', 'keys'),
  param.in('v', 'unsigned short', 'values'),
  param.out('o', 'unsigned short', 'output, same layout rules as q'),
  param.out('lse', 'float', 'log-sum-exp, fp32 [B, H, S]'),
  param.in('schedule', 'int', 'query blocks, heaviest first'),
  param.in('full_offsets', 'int', 'CSR of full key blocks'),
  param.in('full_indices', 'int'),
  param.in('partial_offsets', 'int', 'CSR of partial key blocks'),
  param.in('partial_indices', 'int'),
  param.in('key_padding', 'unsigned char', 'per key block: holds padding'),
  param.in('head_map', 'int', 'per head of the launch: the head of q, k, v, o it computes (null: the same)'),
  ...['q', 'k', 'v', 'o'].flatMap((t) => [
    param.i64(`${t}_batch`, `element strides of ${t}`),
    param.i64(`${t}_head`),
    param.i64(`${t}_seq`),
  ]),
  param.i32('heads', 'heads per batch entry of the launch (gridDim.x = kNumQBlocks * batch * heads)'),
  param.i32('heavy_blocks', 'leading schedule entries that are heavy (cta-order.ts)'),
  param.i32('lookahead', 'heads the heavy blocks run ahead of the light ones'),
  param.f32('scale_log2', 'softmax scale times log2(e)'),
];

/**
 * The sm_90a kernel's fields: tensor maps of K and V for its bulk tensor copies (first, at the 64-byte aligned
 * start of the struct), then the common ones.
 */
export const ATTN_PARAM_FIELDS_SM90A: readonly KernelParam[] = [
  param.tmap('tmap_k', 'K as [B, H, S, D] boxes of 32 x kTileK, 64-byte swizzle'),
  param.tmap('tmap_v', 'V, the same'),
  param.out('work_counter', 'int', 'persistent grid: [next item, CTAs done], zero between launches'),
  ...ATTN_PARAM_FIELDS,
  param.i32('tma_dim_seq', 'tensor-map dimension (1-3) of the sequence'),
  param.i32('tma_dim_head', 'of the head'),
  param.i32('tma_dim_batch', 'of the batch'),
  param.i32('ctas', 'work items: query blocks x batch x heads (a persistent grid is smaller)'),
];

/** The struct's name in the kernel source. */
export const ATTN_PARAM_STRUCT = 'TpAttnParams';

/** Byte size of the sm_80 kernel's packed struct (a multiple of 8, its alignment). */
export const ATTN_PARAM_BYTES = paramLayout(ATTN_PARAM_FIELDS, 'struct').bytes;
