/**
 * A concrete token layout: how token indices 0..length-1 map to segments and coordinates.
 *
 * Video tokens are stored unit by unit. A unit is a tile of `tile[i]` tokens along each video axis; an
 * untiled layout is the special case of tiles that span one frame (`[1, h, w]`), so frame-major order and
 * tiled order are one code path. Units follow each other in row-major order over the tile grid, tokens inside
 * a unit in row-major order over the tile, and every unit occupies `unitSlot` indices (its token count rounded
 * up to the `pad` multiple); slot positions past the unit's tokens, and tile positions past an axis' size
 * (edge tiles of sizes that are not tile multiples), are padding. The text segment, if any, sits before or
 * after the video and is padded the same way. Padding tokens never attend and are never attended; their
 * output rows are zero.
 */
import type { Segment, TokenCoords } from './ir.js';

/** A layout with every size bound to a number. */
export interface ConcreteLayout {
  /** The layout's declared name. */
  readonly name: string;
  /** Video axis names, the frame axis first. */
  readonly videoAxes: readonly string[];
  /** Video axis sizes, same order. */
  readonly videoSizes: readonly number[];
  /** Tile extent per video axis; `[1, h, w]` when the layout is not tiled. */
  readonly tile: readonly number[];
  /** Whether tokens were reordered into tiles by a `tiles(...)` item (affects naming and messages only). */
  readonly tiled: boolean;
  /** Tiles per video axis: ceil(size / tile). */
  readonly grid: readonly number[];
  /** Real token slots in one unit: product of `tile`. */
  readonly unitTokens: number;
  /** Indices one unit occupies: `unitTokens` rounded up to the pad multiple. */
  readonly unitSlot: number;
  /** Number of units: product of `grid`. */
  readonly unitCount: number;
  /** Text axis name, or null without a text segment. */
  readonly textAxis: string | null;
  /** Real text tokens (0 without a text segment). */
  readonly textLength: number;
  /** Indices the text segment occupies (its length rounded up to the text pad multiple). */
  readonly textSlots: number;
  /** Where the text segment sits. */
  readonly textPosition: 'before' | 'after';
  /** First index of the video segment. */
  readonly videoStart: number;
  /** First index of the text segment. */
  readonly textStart: number;
  /** Total token count, padding included: the sequence length kernels see. */
  readonly length: number;
  /** Axis names in IR coordinate order: video axes, then the text axis if present. */
  readonly axisNames: readonly string[];
}

/** What a layout needs to be built; the derived fields are computed by {@link makeLayout}. */
export interface LayoutSpec {
  readonly name: string;
  readonly videoAxes: readonly string[];
  readonly videoSizes: readonly number[];
  /** Tile extents per axis, or null for frame-major order. */
  readonly tile: readonly number[] | null;
  /** Pad each video unit (frame or tile) to a multiple of this (1 = no padding). */
  readonly unitPad: number;
  readonly text: {
    readonly axis: string;
    readonly length: number;
    readonly position: 'before' | 'after';
    readonly pad: number;
  } | null;
}

function roundUp(value: number, multiple: number): number {
  return Math.ceil(value / multiple) * multiple;
}

/**
 * Build a concrete layout. Sizes must already be validated (positive integers, tile extents positive,
 * pad multiples positive) by the checker; this only derives.
 */
export function makeLayout(spec: LayoutSpec): ConcreteLayout {
  const tiled = spec.tile !== null;
  const tile = spec.tile ?? spec.videoSizes.map((size, i) => (i === 0 ? 1 : size));
  const grid = spec.videoSizes.map((size, i) => Math.ceil(size / (tile[i] ?? 1)));
  const unitTokens = tile.reduce((a, b) => a * b, 1);
  const unitSlot = roundUp(unitTokens, spec.unitPad);
  const unitCount = grid.reduce((a, b) => a * b, 1);
  const videoSlots = unitCount * unitSlot;
  const textLength = spec.text?.length ?? 0;
  const textSlots = spec.text ? roundUp(textLength, spec.text.pad) : 0;
  const textFirst = spec.text?.position === 'before';
  return {
    name: spec.name,
    videoAxes: spec.videoAxes,
    videoSizes: spec.videoSizes,
    tile,
    tiled,
    grid,
    unitTokens,
    unitSlot,
    unitCount,
    textAxis: spec.text?.axis ?? null,
    textLength,
    textSlots,
    textPosition: spec.text?.position ?? 'after',
    videoStart: textFirst ? textSlots : 0,
    textStart: textFirst ? 0 : videoSlots,
    length: videoSlots + textSlots,
    axisNames: spec.text ? [...spec.videoAxes, spec.text.axis] : [...spec.videoAxes],
  };
}

/** A decoded token: a real token's segment and coordinates, or `null` for padding. */
export type DecodedToken = TokenCoords | null;

/**
 * Decode token index `index` into its segment and coordinates (the reference decoder; kernels emit the same
 * arithmetic). `out` receives the coordinates and is reused to avoid allocation in brute-force loops.
 */
export function decodeToken(layout: ConcreteLayout, index: number, out: number[] = []): DecodedToken {
  if (index < 0 || index >= layout.length) return null;
  const nv = layout.videoAxes.length;
  if (layout.textSlots > 0 && index >= layout.textStart && index < layout.textStart + layout.textSlots) {
    const offset = index - layout.textStart;
    if (offset >= layout.textLength) return null;
    for (let i = 0; i < nv; i++) out[i] = 0;
    out[nv] = offset;
    return { segment: 'text' satisfies Segment, coords: out };
  }
  const offset = index - layout.videoStart;
  let unit = Math.floor(offset / layout.unitSlot);
  let inner = offset - unit * layout.unitSlot;
  if (inner >= layout.unitTokens) return null;
  // Unravel the unit over the grid and the inner offset over the tile, innermost axis last.
  for (let i = nv - 1; i >= 0; i--) {
    const g = layout.grid[i]!;
    const t = layout.tile[i]!;
    const coord = (unit % g) * t + (inner % t);
    if (coord >= layout.videoSizes[i]!) return null;
    out[i] = coord;
    unit = Math.floor(unit / g);
    inner = Math.floor(inner / t);
  }
  if (layout.textAxis !== null) out[nv] = 0;
  return { segment: 'video', coords: out };
}

/** True when token `index` is a real token (not padding). */
export function isRealToken(layout: ConcreteLayout, index: number): boolean {
  return decodeToken(layout, index) !== null;
}

/** A short size signature for pattern keys, e.g. `t8x45x80`, `t8x45x80_tile6x8x8`, `t8x45x80_l120`. */
export function layoutSignature(layout: ConcreteLayout): string {
  let sig = `${layout.videoAxes[0]}${layout.videoSizes.join('x')}`;
  if (layout.tiled) sig += `_tile${layout.tile.join('x')}`;
  if (layout.unitSlot !== layout.unitTokens) sig += `_pad${layout.unitSlot}`;
  if (layout.textAxis !== null)
    sig += `_${layout.textPosition === 'before' ? 'pre' : ''}${layout.textAxis}${layout.textLength}`;
  if (layout.textSlots !== layout.textLength) sig += `p${layout.textSlots}`;
  return sig;
}
