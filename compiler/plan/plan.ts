/**
 * The block plan: the single hand-off from the compiler to code generation and to the runtimes.
 *
 * The sequence (length `layout.length`, padding included) is cut into query blocks of `blockQ` tokens and key
 * blocks of `blockK` tokens (the last block of each may be short). Every (query block, key block) pair is
 *   - full:    every pair of *real* tokens in it is allowed by the pattern (kernels skip the element mask;
 *              they still mask padding keys when the key block holds padding, see `keyBlockHasPadding`),
 *   - partial: some real pairs allowed and some not (kernels evaluate the element mask),
 *   - empty:   no real pair allowed (kernels skip the block).
 * A pair whose query or key block holds no real token at all is empty.
 *
 * Per query block, the CSR tables list full and partial key blocks separately, each list sorted ascending.
 * The rebuild loop that defines the format: allowed(qi, ki) = real(qi) && real(ki) && (
 *   kb in full[qb] || (kb in partial[qb] && predicate(qi, ki)))   with qb = qi / blockQ, kb = ki / blockK.
 */
import type { PatternInstance } from '../ir.js';

/** Block sizes and the sizes they imply. */
export interface BlockGeometry {
  readonly blockQ: number;
  readonly blockK: number;
  readonly seqLen: number;
  readonly numQBlocks: number;
  readonly numKBlocks: number;
}

/** Compressed sparse rows: `indices[offsets[r] .. offsets[r+1])` are row r's key blocks, ascending. */
export interface BlockCsr {
  readonly offsets: Int32Array;
  readonly indices: Int32Array;
}

/**
 * The work of query block `qb`: how many key blocks it visits, full and partial. The schedule orders query
 * blocks by it, and the CUDA launch order (codegen/cuda/cta-order.ts) balances it.
 */
export function queryBlockWork(
  plan: { readonly full: BlockCsr; readonly partial: BlockCsr },
  qb: number,
): number {
  const { full, partial } = plan;
  return full.offsets[qb + 1]! - full.offsets[qb]! + partial.offsets[qb + 1]! - partial.offsets[qb]!;
}

/** An arithmetic progression `start + m * stride` for `m < count`. */
export interface Progression {
  readonly start: number;
  readonly stride: number;
  readonly count: number;
}

/**
 * Closed forms: the key blocks of a query block enumerated by arithmetic inside a kernel, with no table.
 * Only emitted when it is exact: units (frames or tiles) are aligned to both block sizes, so every block pair
 * is full or empty, and the enumeration equals the CSR table (checked by tests and by `verifyPlan`).
 */
export type ClosedForm =
  | { readonly kind: 'dense' }
  | {
      /**
       * Unit level mask on `units` video units (frames, or tiles along the frame axis) of `unitBlocksQ` query
       * blocks and `unitBlocksK` key blocks each, starting at block `firstBlockQ` / `firstBlockK`:
       * query unit i sees key unit j iff  lo <= j - i <= hi (the band, if any)  or  j in keyUnits
       * or  i in queryUnits. `causal` bands use lo = -Infinity encoded as -units.
       */
      readonly kind: 'units';
      readonly units: number;
      readonly unitBlocksQ: number;
      readonly unitBlocksK: number;
      readonly firstBlockQ: number;
      readonly firstBlockK: number;
      readonly band: { readonly lo: number; readonly hi: number } | null;
      readonly keyUnits: Progression | null;
      readonly queryUnits: Progression | null;
    };

/** Block counts, for reports. */
export interface PlanStats {
  readonly full: number;
  readonly partial: number;
  readonly empty: number;
  /** Block pairs in the grid: numQBlocks * numKBlocks. */
  readonly total: number;
  /** Skipped share at this block size: empty / total. */
  readonly sparsity: number;
  /** Allowed real (q, k) pairs, counted exactly from the classification (for FLOP counts). */
  readonly allowedPairs: number;
  /** Real tokens (padding excluded). */
  readonly realTokens: number;
}

/** A compiled pattern at given block sizes. */
export interface BlockPlan extends BlockGeometry {
  /** Pattern identity plus block sizes, e.g. `attention_tile_a2_t8x45x80_b128x128`. */
  readonly key: string;
  readonly pattern: PatternInstance;
  readonly full: BlockCsr;
  readonly partial: BlockCsr;
  /** Per key block: 1 if it holds any padding token (kernels then mask padding keys even in full blocks). */
  readonly keyBlockHasPadding: Uint8Array;
  /** Per query block: 1 if it holds any padding token (kernels zero those output rows). */
  readonly queryBlockHasPadding: Uint8Array;
  /** Query blocks ordered by descending work (full + partial count), for kernel scheduling. */
  readonly schedule: Int32Array;
  readonly closedForm: ClosedForm | null;
  readonly stats: PlanStats;
}

/** Block geometry for a sequence length and block sizes. */
export function blockGeometry(seqLen: number, blockQ: number, blockK: number): BlockGeometry {
  return {
    blockQ,
    blockK,
    seqLen,
    numQBlocks: Math.ceil(seqLen / blockQ),
    numKBlocks: Math.ceil(seqLen / blockK),
  };
}
