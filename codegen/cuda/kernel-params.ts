/**
 * The attention kernel's single by-value parameter, `TpAttnParams`, described once as a field table: the
 * generated CUDA struct and the host-side byte packing both come from this table, so they cannot drift.
 * Every field is naturally aligned and the table is ordered by size, so the C layout has no hidden padding.
 */

/** Field types the struct uses, with their C spelling and byte size. */
export type ParamFieldType = 'ptr' | 'i64' | 'i32' | 'f32';

/** One struct field. */
export interface ParamField {
  readonly name: string;
  readonly type: ParamFieldType;
  /** C type of the field (pointers say what they point to, for readable kernels). */
  readonly ctype: string;
  readonly doc: string;
}

const SIZE: Record<ParamFieldType, number> = { ptr: 8, i64: 8, i32: 4, f32: 4 };

/** Fields of `TpAttnParams`, in declaration order. */
export const ATTN_PARAM_FIELDS: readonly ParamField[] = [
  { name: 'q', type: 'ptr', ctype: 'const unsigned short*', doc: 'queries, 16-bit elements' },
  { name: 'k', type: 'ptr', ctype: 'const unsigned short*', doc: 'keys' },
  { name: 'v', type: 'ptr', ctype: 'const unsigned short*', doc: 'values' },
  { name: 'o', type: 'ptr', ctype: 'unsigned short*', doc: 'output, same layout rules as q' },
  { name: 'lse', type: 'ptr', ctype: 'float*', doc: 'log-sum-exp, fp32 [B, H, S]' },
  { name: 'schedule', type: 'ptr', ctype: 'const int*', doc: 'query blocks, heaviest first' },
  { name: 'full_offsets', type: 'ptr', ctype: 'const int*', doc: 'CSR of full key blocks' },
  { name: 'full_indices', type: 'ptr', ctype: 'const int*', doc: '' },
  { name: 'partial_offsets', type: 'ptr', ctype: 'const int*', doc: 'CSR of partial key blocks' },
  { name: 'partial_indices', type: 'ptr', ctype: 'const int*', doc: '' },
  { name: 'key_padding', type: 'ptr', ctype: 'const unsigned char*', doc: 'per key block: holds padding' },
  { name: 'q_batch', type: 'i64', ctype: 'long long', doc: 'element strides of q' },
  { name: 'q_head', type: 'i64', ctype: 'long long', doc: '' },
  { name: 'q_seq', type: 'i64', ctype: 'long long', doc: '' },
  { name: 'k_batch', type: 'i64', ctype: 'long long', doc: 'element strides of k' },
  { name: 'k_head', type: 'i64', ctype: 'long long', doc: '' },
  { name: 'k_seq', type: 'i64', ctype: 'long long', doc: '' },
  { name: 'v_batch', type: 'i64', ctype: 'long long', doc: 'element strides of v' },
  { name: 'v_head', type: 'i64', ctype: 'long long', doc: '' },
  { name: 'v_seq', type: 'i64', ctype: 'long long', doc: '' },
  { name: 'o_batch', type: 'i64', ctype: 'long long', doc: 'element strides of o' },
  { name: 'o_head', type: 'i64', ctype: 'long long', doc: '' },
  { name: 'o_seq', type: 'i64', ctype: 'long long', doc: '' },
  { name: 'heads', type: 'i32', ctype: 'int', doc: 'heads per batch entry (gridDim.y = batch * heads)' },
  { name: 'scale_log2', type: 'f32', ctype: 'float', doc: 'softmax scale times log2(e)' },
];

/** Byte size of the packed struct (a multiple of 8, its alignment). */
export const ATTN_PARAM_BYTES = Math.ceil(ATTN_PARAM_FIELDS.reduce((n, f) => n + SIZE[f.type], 0) / 8) * 8;

/** CUDA declaration of `TpAttnParams`. */
export function renderParamStruct(): string {
  const lines = ['struct TpAttnParams {'];
  for (const f of ATTN_PARAM_FIELDS) lines.push(`  ${f.ctype} ${f.name};${f.doc ? `  // ${f.doc}` : ''}`);
  lines.push('};');
  return lines.join('\n');
}

/** Values for every field: device addresses and 64-bit strides as bigint, the rest as numbers. */
export type AttnParamValues = Readonly<Record<string, bigint | number>>;

/** Pack field values into the struct's bytes (little-endian, as on every CUDA host). */
export function packAttnParams(values: AttnParamValues): Uint8Array {
  const bytes = new Uint8Array(ATTN_PARAM_BYTES);
  const view = new DataView(bytes.buffer);
  let offset = 0;
  for (const f of ATTN_PARAM_FIELDS) {
    const v = values[f.name];
    if (v === undefined) throw new RangeError(`TpAttnParams: no value for field '${f.name}'`);
    if (f.type === 'ptr' || f.type === 'i64') view.setBigInt64(offset, BigInt(v), true);
    else if (f.type === 'i32') view.setInt32(offset, Number(v), true);
    else view.setFloat32(offset, Number(v), true);
    offset += SIZE[f.type];
  }
  return bytes;
}
