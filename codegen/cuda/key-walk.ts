/**
 * The key walk of a query block: hands the kernel one key tile after another, with how that tile must be
 * masked. It visits exactly the key blocks the plan enumerates: by arithmetic for the closed forms (`dense`,
 * `units`), from the CSR tables otherwise (full blocks first, then partial ones). Plan key blocks are `blockK`
 * keys wide and the kernel's tiles `kTileK`, so each block is walked as `kSubTiles = blockK / kTileK` tiles;
 * tiles that start past the sequence end (a short last block) are skipped.
 *
 * The walk is rendered through a {@link Dialect} (plain functions over an integer state struct, no pointers or
 * reference outputs), so the very text the kernel runs can also be rendered as JavaScript and executed on the
 * CPU by the tests. Interface, in every dialect:
 *
 *   struct TpKeyWalk { key0, mode, ...state }      key0: first key of the current tile; mode: MASK_MODE
 *   tp_walk_begin(w, p, qb)                        start the walk of query block qb
 *   bool tp_walk_next(w, p)                        advance to the next tile (false when none is left)
 *
 * In CUDA, `tp_walk_next` and the tile-mode helper are templates over the kernel's tile size `kTileK` (one walk
 * serves every instance of a module); targets without templates read `kTileK` from the scope. `p` is the kernel
 * parameter struct (only its table fields are read); the pattern header's constants (kSeqLen, kBlockK,
 * kPaddedKeyBlocks) and tessera.cuh's kMask* are in scope where the walk is emitted.
 */
import type { BlockPlan, Progression } from '../../compiler/plan/plan.js';
import type { Dialect } from '../common/dialect.js';
import { type IndexExpr, lit, mod, ref, renderIndex, sub } from '../common/index-expr.js';
import { cudaDialect } from './dialect.js';

/** Mask modes of a key tile (emitted as `kMaskNone` ...). */
export const MASK_MODE = { none: 0, padding: 1, elements: 2 } as const;

/** Names of the emitted walk symbols, so the kernel body and the tests refer to one spelling. */
export const KEY_WALK_SYMBOLS = { state: 'TpKeyWalk', begin: 'tp_walk_begin', next: 'tp_walk_next' } as const;

/** Whether any key tile can need the padding mask: padded key blocks, or a sequence that ends mid-tile. */
export function keysNeedPaddingMask(plan: BlockPlan, tileK: number): boolean {
  return plan.keyBlockHasPadding.some((x) => x !== 0) || plan.seqLen % tileK !== 0;
}

type Param = { readonly name: string; readonly type: string };
const P: Param = { name: 'p', type: 'const TpAttnParams&' };
const W: Param = { name: 'w', type: `${KEY_WALK_SYMBOLS.state}&` };
const int = (name: string): Param => ({ name, type: 'int' });

/** The compile-time parameter of the walk's templates. */
const TILE = ['kTileK'];

/**
 * A function: dialect header (after `template <int kTileK>` when it reads the tile size, in dialects with
 * templates), body lines indented, closing brace.
 */
function fn(
  d: Dialect,
  name: string,
  params: readonly Param[],
  ret: string,
  body: readonly string[],
  perTile = false,
): string {
  const template = perTile && d.templateParams ? [d.templateParams(TILE)] : [];
  return [...template, d.functionHeader(name, params, ret), ...body.map((l) => `  ${l}`), '}'].join('\n');
}

/** A call of a function that takes the tile size: `name<kTileK>` where the dialect has templates. */
const perTile = (d: Dialect, name: string) => `${name}${d.templateArgs?.(TILE) ?? ''}`;

/** `kSubTiles`: the tiles of one plan key block. */
const subTiles = (d: Dialect) => d.declare('kSubTiles', d.intType, 'kBlockK / kTileK', false);

/**
 * `tp_key_tile_mode(p, block, first)`: full-block tiles mask padding keys, which only plans with padded key
 * blocks, or a sequence that ends inside a tile, have.
 */
function tileModeFunction(d: Dialect): string {
  return [
    '// How a tile of a full key block is masked: padding keys still have to go.',
    fn(
      d,
      'tp_key_tile_mode',
      [P, int('block'), int('first')],
      d.intType,
      [
        'if (!kPaddedKeyBlocks && kSeqLen % kTileK == 0) return kMaskNone;  // no tile holds a padding key',
        `return ${d.select('p.key_padding[block] != 0 || first + kTileK > kSeqLen', 'kMaskPadding', 'kMaskNone')};`,
      ],
      true,
    ),
  ].join('\n');
}

/** The state struct: the current tile, then the walk's own fields. */
function stateStruct(d: Dialect, fields: readonly string[]): string {
  return d.struct(KEY_WALK_SYMBOLS.state, ['key0', 'mode', ...fields]);
}

function denseWalk(d: Dialect): string {
  return [
    "// Closed form 'dense': every key block, in order.",
    stateStruct(d, ['next_key']),
    fn(d, KEY_WALK_SYMBOLS.begin, [W, P, int('qb')], 'void', ['w.next_key = 0;']),
    fn(
      d,
      KEY_WALK_SYMBOLS.next,
      [W, P],
      d.boolType,
      [
        'if (w.next_key >= kSeqLen) return false;',
        'w.key0 = w.next_key;',
        `w.mode = ${perTile(d, 'tp_key_tile_mode')}(p, ${d.intDiv('w.key0', 'kBlockK')}, w.key0);`,
        'w.next_key = w.next_key + kTileK;',
        'return true;',
      ],
      true,
    ),
  ].join('\n');
}

function progressionTest(d: Dialect, name: string, pr: Progression | null): string {
  let test = 'false';
  if (pr !== null && pr.count > 0) {
    const last = pr.start + (pr.count - 1) * pr.stride;
    const num = d.intLiteral;
    const offset: IndexExpr = sub(ref('u'), lit(pr.start));
    const onStride =
      pr.stride === 0 || pr.count <= 1
        ? `u == ${num(pr.start)}`
        : `${renderIndex(mod(offset, lit(pr.stride)), d)} == 0`;
    test = `u >= ${num(pr.start)} && u <= ${num(last)} && ${onStride}`;
  }
  return fn(d, name, [int('u')], d.boolType, [`return ${test};`]);
}

function unitsWalk(cf: Extract<NonNullable<BlockPlan['closedForm']>, { kind: 'units' }>, d: Dialect): string {
  const band = cf.band === null ? 'false' : `(j - i >= ${cf.band.lo} && j - i <= ${cf.band.hi})`;
  const constant = (name: string, value: number) => d.declare(name, d.intType, String(value), false);
  return [
    `// Closed form 'units': ${cf.units} aligned units of ${cf.unitBlocksQ} query / ${cf.unitBlocksK} key blocks;`,
    '// query unit i sees key unit j iff the band, a key unit of the progression, or i is a query unit of its progression.',
    constant('kUnits', cf.units),
    constant('kUnitBlocksQ', cf.unitBlocksQ),
    constant('kUnitBlocksK', cf.unitBlocksK),
    constant('kFirstBlockQ', cf.firstBlockQ),
    constant('kFirstBlockK', cf.firstBlockK),
    progressionTest(d, 'tp_key_unit', cf.keyUnits),
    progressionTest(d, 'tp_query_unit', cf.queryUnits),
    fn(d, 'tp_unit_visible', [int('i'), int('j')], d.boolType, [
      `return ${band} || tp_key_unit(j) || tp_query_unit(i);`,
    ]),
    '// tile: index of the next tile inside key unit kunit.',
    stateStruct(d, ['qunit', 'kunit', 'tile']),
    fn(d, 'tp_walk_advance_unit', [W], 'void', [
      'do { w.kunit = w.kunit + 1; } while (w.kunit < kUnits && !tp_unit_visible(w.qunit, w.kunit));',
      'w.tile = 0;',
    ]),
    fn(d, KEY_WALK_SYMBOLS.begin, [W, P, int('qb')], 'void', [
      d.declare('rel', d.intType, 'qb - kFirstBlockQ', false),
      `w.qunit = ${d.intDiv('rel', 'kUnitBlocksQ')};`,
      'w.kunit = -1;',
      'w.tile = 0;',
      'if (rel < 0 || rel >= kUnits * kUnitBlocksQ) { w.kunit = kUnits; return; }  // outside the units: no keys',
      'tp_walk_advance_unit(w);',
    ]),
    fn(
      d,
      KEY_WALK_SYMBOLS.next,
      [W, P],
      d.boolType,
      [
        subTiles(d),
        'while (w.kunit < kUnits) {',
        '  if (w.tile == kUnitBlocksK * kSubTiles) { tp_walk_advance_unit(w); continue; }',
        `  ${d.declare('block', d.intType, `kFirstBlockK + w.kunit * kUnitBlocksK + ${d.intDiv('w.tile', 'kSubTiles')}`, false)}`,
        `  ${d.declare('first', d.intType, 'block * kBlockK + (w.tile % kSubTiles) * kTileK', false)}`,
        '  w.tile = w.tile + 1;',
        '  if (first >= kSeqLen) continue;',
        '  w.key0 = first;',
        `  w.mode = ${perTile(d, 'tp_key_tile_mode')}(p, block, first);`,
        '  return true;',
        '}',
        'return false;',
      ],
      true,
    ),
  ].join('\n');
}

function csrWalk(d: Dialect): string {
  return [
    "// Key blocks from the plan's CSR tables: the full list (no element mask), then the partial list.",
    "// The next block index is loaded one tile ahead, so its global-memory latency hides behind a tile's compute.",
    stateStruct(d, ['full0', 'partial0', 'full_count', 'end', 'pos', 'sub', 'block_ahead']),
    fn(d, 'tp_walk_block_at', [W, P, int('i')], d.intType, [
      `return ${d.select('i < w.full_count', 'p.full_indices[w.full0 + i]', 'p.partial_indices[w.partial0 + i - w.full_count]')};`,
    ]),
    fn(d, KEY_WALK_SYMBOLS.begin, [W, P, int('qb')], 'void', [
      'w.full0 = p.full_offsets[qb];',
      'w.partial0 = p.partial_offsets[qb];',
      'w.full_count = p.full_offsets[qb + 1] - w.full0;',
      'w.end = w.full_count + (p.partial_offsets[qb + 1] - w.partial0);',
      'w.pos = 0;',
      'w.sub = 0;',
      `w.block_ahead = ${d.select('w.end > 0', 'tp_walk_block_at(w, p, 0)', '0')};`,
    ]),
    fn(
      d,
      KEY_WALK_SYMBOLS.next,
      [W, P],
      d.boolType,
      [
        subTiles(d),
        'while (w.pos < w.end) {',
        `  ${d.declare('is_partial', d.boolType, 'w.pos >= w.full_count', false)}`,
        `  ${d.declare('block', d.intType, 'w.block_ahead', false)}`,
        `  ${d.declare('first', d.intType, 'block * kBlockK + w.sub * kTileK', false)}`,
        '  w.sub = w.sub + 1;',
        '  if (w.sub == kSubTiles) {',
        '    w.sub = 0;',
        '    w.pos = w.pos + 1;',
        '    if (w.pos < w.end) w.block_ahead = tp_walk_block_at(w, p, w.pos);',
        '  }',
        '  if (first >= kSeqLen) continue;',
        '  w.key0 = first;',
        `  w.mode = ${d.select('is_partial', 'kMaskElements', `${perTile(d, 'tp_key_tile_mode')}(p, block, first)`)};`,
        '  return true;',
        '}',
        'return false;',
      ],
      true,
    ),
  ].join('\n');
}

/** Which walk a plan gets. */
export function keyWalkKind(plan: BlockPlan): 'dense' | 'units' | 'csr' {
  return plan.closedForm?.kind ?? 'csr';
}

/** Source of `tp_key_tile_mode` and the key walk for a plan, in `d` (CUDA by default). */
export function renderKeyWalk(plan: BlockPlan, d: Dialect = cudaDialect): string {
  const cf = plan.closedForm;
  const walk = cf?.kind === 'dense' ? denseWalk(d) : cf?.kind === 'units' ? unitsWalk(cf, d) : csrWalk(d);
  return `${tileModeFunction(d)}\n\n${walk}`;
}
