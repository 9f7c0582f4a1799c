/**
 * Fast exact classification for predicates that are constant on classes of tokens (frames, or whole units):
 * evaluate the small class-by-class table once, describe each block by the class intervals its real tokens
 * cover, and decide each block pair from 2D prefix sums over the table. Blocks with the same class intervals
 * share one answer, so the work is (distinct block descriptions)^2 rectangle sums plus one copy per pair.
 *
 * Exactness: a block's real tokens are a union of coordinate boxes, each covering every combination of its
 * class range with the rest of its coordinates; when the predicate depends on the class only, a block pair
 * is full iff every class pair in the product of their intervals is allowed, empty iff none is.
 */
import type { PatternInstance } from '../ir.js';
import type { ConcreteLayout } from '../layout.js';
import { boxVolume, type CoordBox, rangeBoxes, textBox, unitBox, unitOfCoords } from './boxes.js';
import { compilePredicate, SEGMENT_CODE } from './compile-predicate.js';
import { EMPTY, FULL, PARTIAL } from './element-mask.js';
import { UNKNOWN } from './interval.js';
import { compileBoxPredicate } from './interval-compile.js';
import { readsOnlyFrameAxis } from './ir-deps.js';

/** Class tables larger than this many classes are not attempted (the table is classes^2). */
const MAX_CLASSES = 1024;

/** A class-level view of a pattern: the allowed table and how a token box maps to a class interval. */
interface ClassView {
  readonly classes: number;
  /** Row-major classes x classes, 1 where allowed. */
  readonly table: Uint8Array;
  /** Inclusive class interval covered by a box of real tokens. */
  readonly boxClasses: (box: CoordBox) => readonly [number, number];
}

/** Blocks grouped by identical class interval lists. */
interface BlockDescriptions {
  /** Per block: index into `lists`. */
  readonly id: Int32Array;
  /** Distinct flat interval lists `[lo0, hi0, lo1, hi1, ...]`, merged and sorted; empty = no real token. */
  readonly lists: number[][];
}

function describeBlocks(layout: ConcreteLayout, blockSize: number, view: ClassView): BlockDescriptions {
  const blocks = Math.ceil(layout.length / blockSize);
  const id = new Int32Array(blocks);
  const lists: number[][] = [];
  const seen = new Map<string, number>();
  const boxes: CoordBox[] = [];
  for (let b = 0; b < blocks; b++) {
    boxes.length = 0;
    rangeBoxes(layout, b * blockSize, (b + 1) * blockSize, boxes);
    const intervals = boxes.map(view.boxClasses).sort((x, y) => x[0] - y[0]);
    const flat: number[] = [];
    for (const [lo, hi] of intervals) {
      const last = flat.length - 1;
      if (last > 0 && lo <= flat[last]! + 1) flat[last] = Math.max(flat[last]!, hi);
      else flat.push(lo, hi);
    }
    const key = flat.join(',');
    let index = seen.get(key);
    if (index === undefined) {
      index = lists.length;
      seen.set(key, index);
      lists.push(flat);
    }
    id[b] = index;
  }
  return { id, lists };
}

/** Allowed-entry count of any table rectangle [q0..q1] x [k0..k1] (inclusive), via 2D prefix sums. */
function rectangleSums(view: ClassView): (q0: number, q1: number, k0: number, k1: number) => number {
  const c = view.classes;
  const stride = c + 1;
  // prefix[(i + 1) * stride + (j + 1)] = allowed count in table rows <= i, cols <= j.
  const prefix = new Int32Array(stride * stride);
  for (let i = 0; i < c; i++) {
    let row = 0;
    for (let j = 0; j < c; j++) {
      row += view.table[i * c + j]!;
      prefix[(i + 1) * stride + j + 1] = prefix[i * stride + j + 1]! + row;
    }
  }
  return (q0, q1, k0, k1) =>
    prefix[(q1 + 1) * stride + k1 + 1]! -
    prefix[q0 * stride + k1 + 1]! -
    prefix[(q1 + 1) * stride + k0]! +
    prefix[q0 * stride + k0]!;
}

/** Classify every block pair from a class view. */
function classifyWithView(
  pattern: PatternInstance,
  blockQ: number,
  blockK: number,
  view: ClassView,
): Uint8Array {
  const { layout } = pattern;
  const rect = rectangleSums(view);
  const qd = describeBlocks(layout, blockQ, view);
  const kd = blockK === blockQ ? qd : describeBlocks(layout, blockK, view);
  const nkd = kd.lists.length;
  const pairClass = new Uint8Array(qd.lists.length * nkd);
  qd.lists.forEach((ql, a) => {
    kd.lists.forEach((kl, b) => {
      if (ql.length === 0 || kl.length === 0) return;
      let allAllowed = true;
      let anyAllowed = false;
      for (let i = 0; i < ql.length; i += 2) {
        for (let j = 0; j < kl.length; j += 2) {
          const area = (ql[i + 1]! - ql[i]! + 1) * (kl[j + 1]! - kl[j]! + 1);
          const allowed = rect(ql[i]!, ql[i + 1]!, kl[j]!, kl[j + 1]!);
          if (allowed !== area) allAllowed = false;
          if (allowed > 0) anyAllowed = true;
        }
      }
      pairClass[a * nkd + b] = allAllowed ? FULL : anyAllowed ? PARTIAL : EMPTY;
    });
  });
  const nq = qd.id.length;
  const nk = kd.id.length;
  const out = new Uint8Array(nq * nk);
  for (let qb = 0; qb < nq; qb++) {
    const base = qd.id[qb]! * nkd;
    const row = qb * nk;
    for (let kb = 0; kb < nk; kb++) out[row + kb] = pairClass[base + kd.id[kb]!]!;
  }
  return out;
}

/**
 * Classes = frames (axis 0 values) plus one text class, for predicates that read no coordinate but the frame
 * axis. The table is evaluated on one representative token per class (other coordinates are never read).
 * Returns null when the predicate reads another axis.
 */
export function classifyByFrameTable(
  pattern: PatternInstance,
  blockQ: number,
  blockK: number,
): Uint8Array | null {
  const view = frameView(pattern);
  return view && classifyWithView(pattern, blockQ, blockK, view);
}

/** The frame-class view of a pattern, or null when the predicate reads another axis. */
function frameView(pattern: PatternInstance): ClassView | null {
  const { layout, predicate } = pattern;
  if (!readsOnlyFrameAxis(predicate) || layout.videoAxes.length === 0) return null;
  const frames = layout.videoSizes[0]!;
  const classes = frames + (layout.textLength > 0 ? 1 : 0);
  if (classes > MAX_CLASSES) return null;
  const point = compilePredicate(predicate);
  const axes = layout.axisNames.length;
  const rep = (cls: number): number[] => {
    const coords = new Array<number>(axes).fill(0);
    if (cls < frames) coords[0] = cls;
    return coords;
  };
  const seg = (cls: number): number => (cls < frames ? SEGMENT_CODE.video : SEGMENT_CODE.text);
  const table = new Uint8Array(classes * classes);
  for (let i = 0; i < classes; i++) {
    const qi = rep(i);
    for (let j = 0; j < classes; j++) table[i * classes + j] = point(seg(i), qi, seg(j), rep(j)) ? 1 : 0;
  }
  const boxClasses = (box: CoordBox): readonly [number, number] =>
    box.segment === 'text' ? [frames, frames] : [box.lo[0]!, box.hi[0]!];
  return { classes, table, boxClasses };
}

/**
 * Exact allowed-pair counter for block pairs of a frame-axis predicate, or null when the frame view does not
 * apply. A box holds the same number of tokens in each frame of its range (it is a product), so a box pair
 * contributes (tokens per frame)^2-weighted rectangle sums; answers are cached per pair of block descriptions.
 */
export function frameTablePairCounter(
  pattern: PatternInstance,
  blockQ: number,
  blockK: number,
): ((qb: number, kb: number) => number) | null {
  const view = frameView(pattern);
  if (!view) return null;
  const rect = rectangleSums(view);
  const { layout } = pattern;
  const lists: number[][] = [];
  const seen = new Map<string, number>();
  // Per block: an interned id of its flat (classLo, classHi, tokensPerClass) triples, so equal blocks share.
  const describer = (blockSize: number) => {
    const ids = new Map<number, number>();
    return (block: number): number => {
      let id = ids.get(block);
      if (id !== undefined) return id;
      const flat: number[] = [];
      for (const box of rangeBoxes(layout, block * blockSize, (block + 1) * blockSize)) {
        const [lo, hi] = view.boxClasses(box);
        flat.push(lo, hi, boxVolume(box) / (hi - lo + 1));
      }
      const key = flat.join(',');
      id = seen.get(key);
      if (id === undefined) {
        id = lists.length;
        seen.set(key, id);
        lists.push(flat);
      }
      ids.set(block, id);
      return id;
    };
  };
  const qIds = describer(blockQ);
  const kIds = describer(blockK);
  const cache = new Map<number, number>();
  return (qb, kb) => {
    const qId = qIds(qb);
    const kId = kIds(kb);
    const key = qId * (layout.length + 1) + kId;
    const cached = cache.get(key);
    if (cached !== undefined) return cached;
    const ql = lists[qId]!;
    const kl = lists[kId]!;
    let pairs = 0;
    for (let i = 0; i < ql.length; i += 3) {
      for (let j = 0; j < kl.length; j += 3)
        pairs += ql[i + 2]! * kl[j + 2]! * rect(ql[i]!, ql[i + 1]!, kl[j]!, kl[j + 1]!);
    }
    cache.set(key, pairs);
    return pairs;
  };
}

/**
 * Classes = video units (tiles, or frames when untiled) plus one text class, for predicates that interval
 * evaluation proves constant on every pair of whole units. Returns null when some unit pair is not decided
 * (the predicate varies inside a unit) or there are too many units.
 */
export function classifyByUnitTable(
  pattern: PatternInstance,
  blockQ: number,
  blockK: number,
): Uint8Array | null {
  const { layout, predicate } = pattern;
  const text = textBox(layout);
  const classes = layout.unitCount + (text ? 1 : 0);
  if (classes > MAX_CLASSES || layout.videoAxes.length === 0) return null;
  const tri = compileBoxPredicate(predicate);
  const boxes: CoordBox[] = [];
  for (let u = 0; u < layout.unitCount; u++) boxes.push(unitBox(layout, u));
  if (text) boxes.push(text);
  const table = new Uint8Array(classes * classes);
  for (let i = 0; i < classes; i++) {
    for (let j = 0; j < classes; j++) {
      const t = tri(boxes[i]!, boxes[j]!);
      if (t === UNKNOWN) return null;
      table[i * classes + j] = t;
    }
  }
  const boxClasses = (box: CoordBox): readonly [number, number] =>
    box.segment === 'text'
      ? [layout.unitCount, layout.unitCount]
      : [unitOfCoords(layout, box.lo), unitOfCoords(layout, box.hi)];
  return classifyWithView(pattern, blockQ, blockK, { classes, table, boxClasses });
}
