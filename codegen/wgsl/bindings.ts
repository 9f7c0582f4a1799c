/**
 * The interface between a generated attention kernel and whoever launches it (runtime/webgpu, or the typed
 * binding module emitted next to the shader): binding numbers, the uniform block and the dispatch grid.
 * Kept in one place so the renderer and the launchers cannot disagree.
 */
import type { BlockPlan } from '../../compiler/plan/plan.js';

/** Binding numbers in group 0. */
export const WGSL_BINDINGS = { params: 0, q: 1, k: 2, v: 3, out: 4, lse: 5, tables: 6 } as const;

/** Storage buffers a kernel binds per stage (q, k, v, out, lse, tables): the limit the device must grant. */
export const WGSL_STORAGE_BUFFERS = 6;

/** Element strides of Q, K, V (shared) and of the output, per logical axis; the head dim is contiguous. */
export interface WgslStrides {
  readonly batch: number;
  readonly seq: number;
  readonly head: number;
}

/**
 * The key-block visits one dispatch makes: visits `begin <= i < end` of each query block's enumeration (the
 * i-th key block it walks). A call split over several dispatches (to fit a device's loop budget, see
 * loop-budget.ts) gives each a consecutive range; every dispatch but the first merges its partial softmax
 * into the output and lse the previous ones stored.
 */
export interface WgslVisitRange {
  readonly begin: number;
  readonly end: number;
}

/** Every visit in one dispatch. */
export const ALL_VISITS: WgslVisitRange = { begin: 0, end: 0xffffffff };

/** Values of the uniform block `TpParams`. */
export interface WgslParams {
  readonly heads: number;
  /** Logit scale, usually 1 / sqrt(headDim). */
  readonly scale: number;
  readonly input: WgslStrides;
  readonly output: WgslStrides;
  /** Default {@link ALL_VISITS}. */
  readonly visits?: WgslVisitRange;
}

/** Bytes of the uniform block: twelve 32-bit words (a multiple of 16, as uniform blocks must be). */
export const WGSL_PARAMS_BYTES = 48;

/** The WGSL declaration of the uniform block; field order is the byte order of {@link encodeWgslParams}. */
export const WGSL_PARAMS_STRUCT = `struct TpParams {
  heads: u32,
  scaleLog2e: f32,   // logit scale times log2(e): scores live in the exp2 domain
  inBatch: u32,
  inSeq: u32,
  inHead: u32,
  outBatch: u32,
  outSeq: u32,
  outHead: u32,
  visitBegin: u32,   // this dispatch makes visits [visitBegin, visitEnd) of each query block
  visitEnd: u32,
  merge: u32,        // 1: merge into the output and lse of earlier dispatches (visitBegin > 0)
  unused: u32,
}`;

/** The uniform block's bytes. */
export function encodeWgslParams(p: WgslParams): ArrayBuffer {
  const bytes = new ArrayBuffer(WGSL_PARAMS_BYTES);
  const u = new Uint32Array(bytes);
  const f = new Float32Array(bytes);
  u[0] = p.heads;
  f[1] = p.scale * Math.LOG2E;
  u[2] = p.input.batch;
  u[3] = p.input.seq;
  u[4] = p.input.head;
  u[5] = p.output.batch;
  u[6] = p.output.seq;
  u[7] = p.output.head;
  const visits = p.visits ?? ALL_VISITS;
  u[8] = visits.begin;
  u[9] = Math.min(visits.end, ALL_VISITS.end);
  u[10] = visits.begin > 0 ? 1 : 0;
  return bytes;
}

/** Workgroups to dispatch: one per (query block, batch x head). */
export function wgslDispatchSize(plan: BlockPlan, batch: number, heads: number): [number, number, number] {
  return [plan.numQBlocks, batch * heads, 1];
}
