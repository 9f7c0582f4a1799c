/**
 * The attention kernel's single by-value parameter, `TpAttnParams`, described once as a field table: the
 * generated CUDA struct and the host-side byte packing both come from this table, so they cannot drift.
 * Every field is naturally aligned and the table is ordered by size, so the C layout has no hidden padding.
 */

/** Field types the struct uses, with their C spelling and byte size. */
export type ParamFieldType = 'ptr' | 'i64' | 'i32' | 'f32' | 'tmap';

/** One struct field. */
export interface ParamField {
  readonly name: string;
  readonly type: ParamFieldType;
  /** C type of the field (pointers say what they point to, for readable kernels). */
  readonly ctype: string;
  readonly doc: string;
}

const SIZE: Record<ParamFieldType, number> = { ptr: 8, i64: 8, i32: 4, f32: 4, tmap: 128 };
/** A CUtensorMap is 64-byte aligned; everything else is aligned to its size. */
const ALIGN: Record<ParamFieldType, number> = { ptr: 8, i64: 8, i32: 4, f32: 4, tmap: 64 };

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
  {
    name: 'heads',
    type: 'i32',
    ctype: 'int',
    doc: 'heads per batch entry (gridDim.x = kNumQBlocks * batch * heads)',
  },
  {
    name: 'heavy_blocks',
    type: 'i32',
    ctype: 'int',
    doc: 'leading schedule entries that are heavy (cta-order.ts)',
  },
  { name: 'lookahead', type: 'i32', ctype: 'int', doc: 'heads the heavy blocks run ahead of the light ones' },
  { name: 'scale_log2', type: 'f32', ctype: 'float', doc: 'softmax scale times log2(e)' },
];

/**
 * The sm_90a kernel's fields: tensor maps of K and V for its bulk tensor copies (first, at the 64-byte aligned
 * start of the struct), then the common ones.
 */
export const ATTN_PARAM_FIELDS_SM90A: readonly ParamField[] = [
  {
    name: 'tmap_k',
    type: 'tmap',
    ctype: 'TpTensorMap',
    doc: 'K as [B, H, S, D] boxes of 32 x kTileK, 64-byte swizzle',
  },
  { name: 'tmap_v', type: 'tmap', ctype: 'TpTensorMap', doc: 'V, the same' },
  ...ATTN_PARAM_FIELDS,
  { name: 'tma_dim_seq', type: 'i32', ctype: 'int', doc: 'tensor-map dimension (1-3) of the sequence' },
  { name: 'tma_dim_head', type: 'i32', ctype: 'int', doc: 'of the head' },
  { name: 'tma_dim_batch', type: 'i32', ctype: 'int', doc: 'of the batch' },
];

/** Byte offsets of each field and the struct's size (padded to its alignment). */
function layoutOf(fields: readonly ParamField[]): { offsets: number[]; bytes: number } {
  let offset = 0;
  let align = 8;
  const offsets = fields.map((f) => {
    offset = Math.ceil(offset / ALIGN[f.type]) * ALIGN[f.type];
    align = Math.max(align, ALIGN[f.type]);
    const at = offset;
    offset += SIZE[f.type];
    return at;
  });
  return { offsets, bytes: Math.ceil(offset / align) * align };
}

/** Byte size of a struct of `fields`. */
export function paramBytes(fields: readonly ParamField[] = ATTN_PARAM_FIELDS): number {
  return layoutOf(fields).bytes;
}

/** Byte size of the packed struct (a multiple of 8, its alignment). */
export const ATTN_PARAM_BYTES = paramBytes(ATTN_PARAM_FIELDS);

/** CUDA declaration of `TpAttnParams` with `fields` (default: the sm_80 kernel's). */
export function renderParamStruct(fields: readonly ParamField[] = ATTN_PARAM_FIELDS): string {
  const lines = ['struct TpAttnParams {'];
  for (const f of fields) lines.push(`  ${f.ctype} ${f.name};${f.doc ? `  // ${f.doc}` : ''}`);
  lines.push('};');
  return lines.join('\n');
}

/** Values for every field: device addresses and 64-bit strides as bigint, tensor maps as bytes, the rest numbers. */
export type AttnParamValues = Readonly<Record<string, bigint | number | Uint8Array>>;

/** Pack field values into the struct's bytes (little-endian, as on every CUDA host). */
export function packAttnParams(
  values: AttnParamValues,
  fields: readonly ParamField[] = ATTN_PARAM_FIELDS,
): Uint8Array {
  const { offsets, bytes: size } = layoutOf(fields);
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  fields.forEach((f, i) => {
    const v = values[f.name];
    const offset = offsets[i]!;
    if (v === undefined) throw new RangeError(`TpAttnParams: no value for field '${f.name}'`);
    if (f.type === 'tmap') {
      if (!(v instanceof Uint8Array) || v.length !== SIZE.tmap)
        throw new RangeError(`TpAttnParams: field '${f.name}' needs the ${SIZE.tmap} bytes of a tensor map`);
      bytes.set(v, offset);
    } else if (v instanceof Uint8Array) {
      throw new RangeError(`TpAttnParams: field '${f.name}' is a ${f.type}, got bytes`);
    } else if (f.type === 'ptr' || f.type === 'i64') view.setBigInt64(offset, BigInt(v), true);
    else if (f.type === 'i32') view.setInt32(offset, Number(v), true);
    else view.setFloat32(offset, Number(v), true);
  });
  return bytes;
}
