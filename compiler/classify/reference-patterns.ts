/**
 * Pattern instances built directly as IR, for tests and benchmarks of the analysis before (and
 * independently of) the `.tile` front end: the Attention Tile family of SPEC §1.2 and a 3D sliding-tile
 * window. Each is written from the formula in the spec, not from the compiler's output.
 */
import type { BoolExpr, IntExpr, PatternInstance } from '../ir.js';
import { type ConcreteLayout, layoutSignature, makeLayout } from '../layout.js';
import {
  add,
  and,
  clamp,
  div,
  eq,
  ge,
  inSegment,
  int,
  kc,
  le,
  lt,
  max,
  mod,
  or,
  qc,
  sub,
} from './ir-builder.js';

/** A frame-major video layout `t x h x w`, optionally with each frame padded to a multiple of `unitPad`. */
export function videoLayout(t: number, h: number, w: number, unitPad = 1): ConcreteLayout {
  return makeLayout({
    name: 'video',
    videoAxes: ['t', 'h', 'w'],
    videoSizes: [t, h, w],
    tile: null,
    unitPad,
    text: null,
  });
}

/** The Attention Tile predicate over frame coordinate `frame` of each side, for T frames and a global frames. */
export function attentionTilePredicate(frames: number, globals: number, frameAxis = 0): BoolExpr {
  const stride = Math.ceil(frames / globals);
  const isGlobal = (f: IntExpr): BoolExpr => and(eq(mod(f, stride), 0), lt(div(f, stride), globals));
  return or(eq(qc(frameAxis), kc(frameAxis)), isGlobal(kc(frameAxis)), isGlobal(qc(frameAxis)));
}

/** Attention Tile `a:(T-a)` on a layout whose frame axis is axis 0. */
export function attentionTilePattern(layout: ConcreteLayout, globals: number): PatternInstance {
  const frames = layout.videoSizes[0]!;
  return {
    key: `attention_tile_a${globals}_${layoutSignature(layout)}`,
    name: 'attention_tile',
    params: { a: globals },
    layout,
    predicate: attentionTilePredicate(frames, globals),
  };
}

/** Full attention on a layout. */
export function fullPattern(layout: ConcreteLayout): PatternInstance {
  return {
    key: `full_${layoutSignature(layout)}`,
    name: 'full',
    params: {},
    layout,
    predicate: { op: 'bool', value: true },
  };
}

/**
 * 3D sliding-tile window: tokens grouped into tiles of `tile` tokens per axis; a query tile sees the key tiles
 * of a `window`-tile cube centred on it, the cube shifted to stay inside the tile grid at the edges.
 */
export function slidingTilePredicate(
  layout: ConcreteLayout,
  tile: readonly number[],
  window: readonly number[],
): BoolExpr {
  const terms: BoolExpr[] = [];
  for (let axis = 0; axis < tile.length; axis++) {
    const tiles = Math.ceil(layout.videoSizes[axis]! / tile[axis]!);
    const w = window[axis]!;
    const qTile = div(qc(axis), tile[axis]!);
    const kTile = div(kc(axis), tile[axis]!);
    // Window start: centred, then clamped into [0, tiles - w] (or 0 when the grid is narrower than the window).
    const start = max(clamp(sub(qTile, Math.floor(w / 2)), 0, tiles - w), 0);
    terms.push(ge(kTile, start), le(kTile, add(start, int(w - 1))));
  }
  return and(inSegment('q', 'video'), inSegment('k', 'video'), ...terms);
}

/** The sliding-tile pattern on a tiled `t x h x w` layout. */
export function slidingTilePattern(
  sizes: readonly [number, number, number],
  tile: readonly [number, number, number],
  window: readonly [number, number, number],
): PatternInstance {
  const layout = makeLayout({
    name: 'video',
    videoAxes: ['t', 'h', 'w'],
    videoSizes: sizes,
    tile,
    unitPad: 1,
    text: null,
  });
  return {
    key: `sliding_tile_w${window.join('x')}_${layoutSignature(layout)}`,
    name: 'sliding_tile',
    params: { wt: window[0], wh: window[1], ww: window[2] },
    layout,
    predicate: slidingTilePredicate(layout, tile, window),
  };
}
