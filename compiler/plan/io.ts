/**
 * Plans to and from JSON: the compile cache stores them, `--dump plan` prints them, and a test can start from
 * a plan fixture. Typed arrays travel as base64 of their little-endian bytes.
 */
import type { BlockPlan } from './plan.js';

type TypedTable = Int32Array | Uint8Array;

function encode(values: TypedTable): { type: 'i32' | 'u8'; base64: string } {
  const type = values instanceof Int32Array ? 'i32' : 'u8';
  return {
    type,
    base64: Buffer.from(values.buffer, values.byteOffset, values.byteLength).toString('base64'),
  };
}

function decode(value: unknown, where: string): TypedTable {
  const v = value as { type?: string; base64?: string } | null;
  if (!v || typeof v.base64 !== 'string' || (v.type !== 'i32' && v.type !== 'u8')) {
    throw new Error(`plan JSON: ${where} is not an encoded table`);
  }
  const bytes = Buffer.from(v.base64, 'base64');
  if (v.type === 'u8') return new Uint8Array(bytes);
  if (bytes.byteLength % 4 !== 0)
    throw new Error(`plan JSON: ${where} has ${bytes.byteLength} bytes, not a multiple of 4`);
  const copy = new Uint8Array(bytes);
  return new Int32Array(copy.buffer, 0, copy.byteLength / 4);
}

/** JSON text of a plan (pattern instance, geometry, tables, closed form, stats). */
export function serializePlan(plan: BlockPlan): string {
  return JSON.stringify({
    format: 'tessera.plan/1',
    ...plan,
    full: { offsets: encode(plan.full.offsets), indices: encode(plan.full.indices) },
    partial: { offsets: encode(plan.partial.offsets), indices: encode(plan.partial.indices) },
    keyBlockHasPadding: encode(plan.keyBlockHasPadding),
    queryBlockHasPadding: encode(plan.queryBlockHasPadding),
    schedule: encode(plan.schedule),
  });
}

/** A plan back from {@link serializePlan}'s JSON (the cache wrote it, so only the shape is checked). */
export function deserializePlan(json: string): BlockPlan {
  const raw = JSON.parse(json) as Record<string, unknown> & { format?: string };
  if (raw.format !== 'tessera.plan/1') throw new Error(`plan JSON: unknown format ${String(raw.format)}`);
  const csr = (name: string) => {
    const t = raw[name] as { offsets: unknown; indices: unknown };
    return {
      offsets: decode(t.offsets, `${name}.offsets`) as Int32Array,
      indices: decode(t.indices, `${name}.indices`) as Int32Array,
    };
  };
  const { format: _format, ...rest } = raw;
  return {
    ...(rest as unknown as BlockPlan),
    full: csr('full'),
    partial: csr('partial'),
    keyBlockHasPadding: decode(raw.keyBlockHasPadding, 'keyBlockHasPadding') as Uint8Array,
    queryBlockHasPadding: decode(raw.queryBlockHasPadding, 'queryBlockHasPadding') as Uint8Array,
    schedule: decode(raw.schedule, 'schedule') as Int32Array,
  };
}
