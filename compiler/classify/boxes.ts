/**
 * Coordinate boxes: the bridge between token index ranges (what blocks are) and coordinates (what predicates
 * read). A contiguous index range of a {@link ConcreteLayout} holds the real tokens of O(axes) boxes.
 *
 * Why a range splits into true boxes: video indices are a mixed-radix number whose digits are, most
 * significant first, the unit's grid position per axis and then the position inside the tile per axis
 * (`coord[i] = grid digit * tile[i] + tile digit`). Dropping slot padding (positions past `unitTokens` inside
 * a unit) leaves a dense mixed-radix numbering, and a contiguous range of it is a union of digit boxes of the
 * form "a prefix of digits fixed, one digit ranged, every later digit full". In such a box each axis' grid
 * digit and tile digit are either both fixed, or the tile digit is ranged/full with the grid digit fixed, or
 * the grid digit is ranged/full with the tile digit full: every case gives a contiguous coordinate interval.
 * Edge tiles (coordinates past the axis size) are padding, and removing them clips each interval separately.
 */
import type { Segment } from '../ir.js';
import type { ConcreteLayout } from '../layout.js';

/** A set of real tokens of one segment: every coordinate tuple with `lo[i] <= c[i] <= hi[i]` per IR axis. */
export interface CoordBox {
  readonly segment: Segment;
  /** Inclusive lower bound per IR axis (video axes, then the text axis if the layout has one). */
  readonly lo: number[];
  /** Inclusive upper bound per IR axis. */
  readonly hi: number[];
}

/** Number of tokens in a box. */
export function boxVolume(box: CoordBox): number {
  let volume = 1;
  for (let i = 0; i < box.lo.length; i++) volume *= box.hi[i]! - box.lo[i]! + 1;
  return volume;
}

/** Number of IR coordinate axes of a layout: video axes plus the text axis if present. */
export function axisCount(layout: ConcreteLayout): number {
  return layout.axisNames.length;
}

/** Index of the first video slot past the video segment. */
function videoEnd(layout: ConcreteLayout): number {
  return layout.videoStart + layout.unitCount * layout.unitSlot;
}

/** Map a video offset to its rank in the slot-padding-free numbering (edge-tile padding still counted). */
function compactOffset(layout: ConcreteLayout, offset: number): number {
  const unit = Math.floor(offset / layout.unitSlot);
  const inner = offset - unit * layout.unitSlot;
  return unit * layout.unitTokens + Math.min(inner, layout.unitTokens);
}

/**
 * Append to `out` the boxes whose union is exactly the real tokens with index in `[start, end)`, and return
 * `out`. Boxes are disjoint and non-empty; at most one text box and `4 * videoAxes + 1` video boxes.
 */
export function rangeBoxes(
  layout: ConcreteLayout,
  start: number,
  end: number,
  out: CoordBox[] = [],
): CoordBox[] {
  const first = Math.max(start, 0);
  const last = Math.min(end, layout.length);
  if (first >= last) return out;
  const nAxes = axisCount(layout);
  const nv = layout.videoAxes.length;
  if (layout.textLength > 0) {
    const s = Math.max(first, layout.textStart);
    const e = Math.min(last, layout.textStart + layout.textLength);
    if (s < e) {
      const lo = new Array<number>(nAxes).fill(0);
      const hi = new Array<number>(nAxes).fill(0);
      lo[nv] = s - layout.textStart;
      hi[nv] = e - 1 - layout.textStart;
      out.push({ segment: 'text', lo, hi });
    }
  }
  const s = Math.max(first, layout.videoStart);
  const e = Math.min(last, videoEnd(layout));
  if (s < e) {
    const cs = compactOffset(layout, s - layout.videoStart);
    const ce = compactOffset(layout, e - layout.videoStart);
    if (cs < ce) videoDigitBoxes(layout, cs, ce, out);
  }
  return out;
}

/** The digit radices of the compact video numbering: grid digits, then tile digits, most significant first. */
function radices(layout: ConcreteLayout): number[] {
  return [...layout.grid, ...layout.tile];
}

/** Decompose the compact range `[cs, ce)` into digit boxes and convert each to a clipped coordinate box. */
function videoDigitBoxes(layout: ConcreteLayout, cs: number, ce: number, out: CoordBox[]): void {
  const radix = radices(layout);
  const suffix = new Array<number>(radix.length + 1).fill(1);
  for (let j = radix.length - 1; j >= 0; j--) suffix[j] = suffix[j + 1]! * radix[j]!;
  const prefix: number[] = [];
  const emit = (level: number, a: number, b: number): void => {
    const box = digitBoxToCoords(layout, radix, prefix, level, a, b);
    if (box) out.push(box);
  };
  // Walk the levels: at each, the range either stays inside one digit value (descend), or splits into a head
  // suffix range, a run of whole digit values, and a tail prefix range (each of those descends once).
  const walk = (level: number, s: number, e: number): void => {
    const q = suffix[level + 1]!;
    const a = Math.floor(s / q);
    const b = Math.floor((e - 1) / q);
    const sIn = s - a * q;
    const eIn = e - b * q;
    if (a === b) {
      if (sIn === 0 && eIn === q) {
        emit(level, a, a);
        return;
      }
      prefix.push(a);
      walk(level + 1, sIn, eIn);
      prefix.pop();
      return;
    }
    let from = a;
    let to = b;
    if (sIn !== 0) {
      prefix.push(a);
      walk(level + 1, sIn, q);
      prefix.pop();
      from = a + 1;
    }
    if (eIn !== q) to = b - 1;
    if (from <= to) emit(level, from, to);
    if (eIn !== q) {
      prefix.push(b);
      walk(level + 1, 0, eIn);
      prefix.pop();
    }
  };
  walk(0, cs, ce);
}

/** Coordinate box of a digit box (digits before `level` fixed to `prefix`, digit `level` in [a, b], rest full). */
function digitBoxToCoords(
  layout: ConcreteLayout,
  radix: readonly number[],
  prefix: readonly number[],
  level: number,
  a: number,
  b: number,
): CoordBox | null {
  const nv = layout.videoAxes.length;
  const nAxes = axisCount(layout);
  const lo = new Array<number>(nAxes).fill(0);
  const hi = new Array<number>(nAxes).fill(0);
  const digitLo = (p: number): number => (p < level ? prefix[p]! : p === level ? a : 0);
  const digitHi = (p: number): number => (p < level ? prefix[p]! : p === level ? b : radix[p]! - 1);
  for (let i = 0; i < nv; i++) {
    const t = layout.tile[i]!;
    const l = digitLo(i) * t + digitLo(nv + i);
    const h = Math.min(digitHi(i) * t + digitHi(nv + i), layout.videoSizes[i]! - 1);
    if (l > h) return null;
    lo[i] = l;
    hi[i] = h;
  }
  return { segment: 'video', lo, hi };
}

/**
 * The boxes of the block ranges `[b0, b1)` of `blockSize` tokens, each range decomposed once and kept: the
 * classifier and the pair counter ask for the same blocks (and bisection ranges) again and again.
 */
export function blockRangeBoxes(
  layout: ConcreteLayout,
  blockSize: number,
): (b0: number, b1: number) => CoordBox[] {
  const ranges = new Map<number, CoordBox[]>();
  const stride = Math.ceil(layout.length / blockSize) + 1;
  return (b0, b1) => {
    const key = b0 * stride + b1;
    let boxes = ranges.get(key);
    if (boxes === undefined) {
      boxes = rangeBoxes(layout, b0 * blockSize, b1 * blockSize);
      ranges.set(key, boxes);
    }
    return boxes;
  };
}

/** Number of real tokens with index in `[start, end)`, computed from boxes (no per-token work). */
export function countRealTokens(layout: ConcreteLayout, start: number, end: number): number {
  let count = 0;
  for (const box of rangeBoxes(layout, start, end)) count += boxVolume(box);
  return count;
}

/** Real token count of every block of `blockSize` tokens (the last block may be short). */
export function realTokensPerBlock(layout: ConcreteLayout, blockSize: number): Int32Array {
  const blocks = Math.ceil(layout.length / blockSize);
  const counts = new Int32Array(blocks);
  for (let b = 0; b < blocks; b++) counts[b] = countRealTokens(layout, b * blockSize, (b + 1) * blockSize);
  return counts;
}

/** The box of all real tokens of video unit `unit` (a whole tile, clipped at the axis ends). */
export function unitBox(layout: ConcreteLayout, unit: number): CoordBox {
  const nv = layout.videoAxes.length;
  const lo = new Array<number>(axisCount(layout)).fill(0);
  const hi = new Array<number>(axisCount(layout)).fill(0);
  let rest = unit;
  for (let i = nv - 1; i >= 0; i--) {
    const g = layout.grid[i]!;
    const t = layout.tile[i]!;
    const digit = rest % g;
    rest = Math.floor(rest / g);
    lo[i] = digit * t;
    hi[i] = Math.min(digit * t + t - 1, layout.videoSizes[i]! - 1);
  }
  return { segment: 'video', lo, hi };
}

/** The box of all real text tokens, or null without text. */
export function textBox(layout: ConcreteLayout): CoordBox | null {
  if (layout.textLength === 0) return null;
  const nv = layout.videoAxes.length;
  const lo = new Array<number>(axisCount(layout)).fill(0);
  const hi = new Array<number>(axisCount(layout)).fill(0);
  hi[nv] = layout.textLength - 1;
  return { segment: 'text', lo, hi };
}

/** Row-major unit index of the grid position of coordinates `coords` (video axes only). */
export function unitOfCoords(layout: ConcreteLayout, coords: readonly number[]): number {
  let unit = 0;
  for (let i = 0; i < layout.videoAxes.length; i++) {
    unit = unit * layout.grid[i]! + Math.floor(coords[i]! / layout.tile[i]!);
  }
  return unit;
}
