/**
 * The key walk of a query block: the CUDA struct that hands the kernel one key tile after another, with how
 * that tile must be masked. It visits exactly the key blocks the plan enumerates: by arithmetic for the closed
 * forms (`dense`, `units`), from the CSR tables otherwise (full blocks first, then partial ones). Plan key
 * blocks are `blockK` keys wide and the kernel's tiles `kTileK`, so each block is walked as
 * `kSubTiles = blockK / kTileK` tiles; tiles that start past the sequence end (a short last block) are skipped.
 */
import type { BlockPlan, Progression } from '../../compiler/plan.js';

/** Mask modes of a key tile (emitted as `kMaskNone` ...). */
export const MASK_MODE = { none: 0, padding: 1, elements: 2 } as const;

/** Whether any key tile can need the padding mask: padded key blocks, or a sequence that ends mid-tile. */
export function keysNeedPaddingMask(plan: BlockPlan, tileK: number): boolean {
  return plan.keyBlockHasPadding.some((x) => x !== 0) || plan.seqLen % tileK !== 0;
}

/** CUDA text of `tp_key_tile_mode(p, block, first)`: full-block tiles mask padding keys only where needed. */
function tileModeFunction(plan: BlockPlan, tileK: number): string {
  const body = keysNeedPaddingMask(plan, tileK)
    ? 'return (p.key_padding[block] != 0 || first + kTileK > kSeqLen) ? kMaskPadding : kMaskNone;'
    : 'return kMaskNone;  // no key block of this plan holds padding';
  return [
    '// How a tile of a full key block is masked: padding keys still have to go.',
    'TP_DEVICE int tp_key_tile_mode(const TpAttnParams& p, int block, int first) {',
    '  (void)p; (void)block; (void)first;',
    `  ${body}`,
    '}',
  ].join('\n');
}

function denseWalk(): string {
  return `// Closed form 'dense': every key block, in order.
struct TpKeyWalk {
  int next_key;
  TP_DEVICE void begin(const TpAttnParams& p, int qb) { (void)p; (void)qb; next_key = 0; }
  TP_DEVICE bool next(const TpAttnParams& p, int& key0, int& mode) {
    if (next_key >= kSeqLen) return false;
    key0 = next_key;
    mode = tp_key_tile_mode(p, key0 / kBlockK, key0);
    next_key += kTileK;
    return true;
  }
};`;
}

function progressionTest(name: string, pr: Progression | null): string {
  if (pr === null) return `TP_DEVICE bool ${name}(int u) { (void)u; return false; }`;
  const inRange = `u >= ${pr.start} && u < ${pr.start + Math.max(0, pr.count - 1) * pr.stride + 1}`;
  const onStride =
    pr.stride === 0 || pr.count <= 1 ? `u == ${pr.start}` : `(u - ${pr.start}) % ${pr.stride} == 0`;
  return `TP_DEVICE bool ${name}(int u) { return ${pr.count > 0 ? `${inRange} && ${onStride}` : 'false'}; }`;
}

function unitsWalk(cf: Extract<NonNullable<BlockPlan['closedForm']>, { kind: 'units' }>): string {
  const band = cf.band === null ? 'false' : `(j - i >= ${cf.band.lo} && j - i <= ${cf.band.hi})`;
  return `// Closed form 'units': ${cf.units} aligned units of ${cf.unitBlocksQ} query / ${cf.unitBlocksK} key blocks;
// query unit i sees key unit j iff the band, a key unit of the progression, or i is a query unit of its progression.
constexpr int kUnits = ${cf.units};
constexpr int kUnitBlocksQ = ${cf.unitBlocksQ};
constexpr int kUnitBlocksK = ${cf.unitBlocksK};
constexpr int kFirstBlockQ = ${cf.firstBlockQ};
constexpr int kFirstBlockK = ${cf.firstBlockK};
${progressionTest('tp_key_unit', cf.keyUnits)}
${progressionTest('tp_query_unit', cf.queryUnits)}
TP_DEVICE bool tp_unit_visible(int i, int j) { return ${band} || tp_key_unit(j) || tp_query_unit(i); }

struct TpKeyWalk {
  int qunit, kunit, tile;  // tile: index of the next tile inside key unit kunit
  TP_DEVICE void advance_unit() {
    do { ++kunit; } while (kunit < kUnits && !tp_unit_visible(qunit, kunit));
    tile = 0;
  }
  TP_DEVICE void begin(const TpAttnParams& p, int qb) {
    (void)p;
    const int rel = qb - kFirstBlockQ;
    qunit = rel / kUnitBlocksQ;
    kunit = -1;
    if (rel < 0 || rel >= kUnits * kUnitBlocksQ) { kunit = kUnits; return; }  // outside the units: no keys
    advance_unit();
  }
  TP_DEVICE bool next(const TpAttnParams& p, int& key0, int& mode) {
    while (kunit < kUnits) {
      if (tile == kUnitBlocksK * kSubTiles) { advance_unit(); continue; }
      const int block = kFirstBlockK + kunit * kUnitBlocksK + tile / kSubTiles;
      const int first = block * kBlockK + (tile % kSubTiles) * kTileK;
      ++tile;
      if (first >= kSeqLen) continue;
      key0 = first;
      mode = tp_key_tile_mode(p, block, first);
      return true;
    }
    return false;
  }
};`;
}

function csrWalk(): string {
  return `// Key blocks from the plan's CSR tables: the full list (no element mask), then the partial list.
// The next block index is loaded one tile ahead, so its global-memory latency hides behind a tile's compute.
struct TpKeyWalk {
  const int* full;
  const int* partial;
  int pos, full_count, end, sub, block_ahead;
  TP_DEVICE int block_at(int i) const { return i < full_count ? full[i] : partial[i - full_count]; }
  TP_DEVICE void begin(const TpAttnParams& p, int qb) {
    const int f0 = p.full_offsets[qb];
    const int p0 = p.partial_offsets[qb];
    full = p.full_indices + f0;
    partial = p.partial_indices + p0;
    full_count = p.full_offsets[qb + 1] - f0;
    end = full_count + (p.partial_offsets[qb + 1] - p0);
    pos = 0;
    sub = 0;
    block_ahead = end > 0 ? block_at(0) : 0;
  }
  TP_DEVICE bool next(const TpAttnParams& p, int& key0, int& mode) {
    while (pos < end) {
      const bool is_partial = pos >= full_count;
      const int block = block_ahead;
      const int first = block * kBlockK + sub * kTileK;
      if (++sub == kSubTiles) {
        sub = 0;
        if (++pos < end) block_ahead = block_at(pos);
      }
      if (first >= kSeqLen) continue;
      key0 = first;
      mode = is_partial ? kMaskElements : tp_key_tile_mode(p, block, first);
      return true;
    }
    return false;
  }
};`;
}

/** CUDA text of `tp_key_tile_mode` and `TpKeyWalk` for a plan. */
export function renderKeyWalk(plan: BlockPlan, tileK: number): string {
  const cf = plan.closedForm;
  const walk = cf?.kind === 'dense' ? denseWalk() : cf?.kind === 'units' ? unitsWalk(cf) : csrWalk();
  return `${tileModeFunction(plan, tileK)}\n\n${walk}`;
}
