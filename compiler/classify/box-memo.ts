/**
 * Memoised box-pair results for the bisection classifier and the allowed-pair counter. Exact counting of a
 * partial block costs bisection down to its boundary, about one interval evaluation per boundary token, and a
 * video pattern has tens of thousands of partial blocks; but most of them are the same problem again:
 *
 * - an axis the predicate reads only through differences of query and key (`q.h - k.h`, `q.w == k.w`,
 *   `(q.h * w + q.w) - (k.h * w + k.w)`) can be shifted on both sides without changing any answer, so a box
 *   pair is keyed by its offsets relative to the key box on such axes;
 * - on the other axes (typically the frame axis, read as `k.t == 0` or `q.t % s`), a box pair whose boxes hold
 *   one value each is keyed by the predicate with those values substituted and folded, so frame pairs that
 *   the pattern treats alike (same distance class, neither a sink) share one entry.
 *
 * Both keys are sound: equal keys mean the same predicate over translated boxes, hence the same result. An axis
 * the (specialised) predicate no longer reads enters a key by its extents only.
 *
 * The specialised predicate is also what the classifier evaluates on such a box pair: folded, it is much
 * smaller than the raw one (radial attention's window width is a constant per frame pair), and interval
 * evaluation of it is as sound and exact on single tokens.
 */
import { constInt, exprKey, foldBool } from '../fold.js';
import type { BoolExpr, IntExpr, Side } from '../ir.js';
import type { CoordBox } from './boxes.js';
import { axesRead } from './ir-deps.js';

/** Coefficients of an affine integer expression in the query and key coordinates. */
interface Affine {
  readonly q: Map<number, number>;
  readonly k: Map<number, number>;
}

function addScaled(out: Affine, x: Affine, scale: number): void {
  for (const side of ['q', 'k'] as const)
    for (const [axis, c] of x[side]) out[side].set(axis, (out[side].get(axis) ?? 0) + scale * c);
}

/** The affine form of `e` (constant terms dropped), or null when `e` is not affine in the coordinates. */
function affineOf(e: IntExpr): Affine | null {
  switch (e.op) {
    case 'const':
      return { q: new Map(), k: new Map() };
    case 'coord': {
      const out: Affine = { q: new Map(), k: new Map() };
      out[e.side].set(e.axis, 1);
      return out;
    }
    case 'neg': {
      const a = affineOf(e.a);
      if (!a) return null;
      const out: Affine = { q: new Map(), k: new Map() };
      addScaled(out, a, -1);
      return out;
    }
    case 'add':
    case 'sub': {
      const a = affineOf(e.a);
      const b = a && affineOf(e.b);
      if (!a || !b) return null;
      const out: Affine = { q: new Map(), k: new Map() };
      addScaled(out, a, 1);
      addScaled(out, b, e.op === 'add' ? 1 : -1);
      return out;
    }
    case 'mul': {
      const [c, x] =
        e.a.op === 'const' ? [e.a.value, e.b] : e.b.op === 'const' ? [e.b.value, e.a] : [null, null];
      if (c === null || x === null) return null;
      const a = affineOf(x);
      if (!a) return null;
      const out: Affine = { q: new Map(), k: new Map() };
      addScaled(out, a, c);
      return out;
    }
    default:
      return null;
  }
}

/**
 * Mark in `moved` the axes whose shift (the same amount on query and key) can change the value of `e`: an
 * affine sub-expression moves with axis a unless its query and key coefficients of a cancel; anything else
 * moves with whatever its operands move with.
 */
function markInt(e: IntExpr, moved: Set<number>): void {
  const affine = affineOf(e);
  if (affine) {
    for (const axis of new Set([...affine.q.keys(), ...affine.k.keys()]))
      if ((affine.q.get(axis) ?? 0) + (affine.k.get(axis) ?? 0) !== 0) moved.add(axis);
    return;
  }
  switch (e.op) {
    case 'select':
      markBool(e.cond, moved);
      markInt(e.a, moved);
      markInt(e.b, moved);
      return;
    case 'neg':
    case 'abs':
    case 'log2':
    case 'pow2':
      markInt(e.a, moved);
      return;
    case 'const':
    case 'coord':
      return;
    default:
      markInt(e.a, moved);
      markInt(e.b, moved);
  }
}

function markBool(e: BoolExpr, moved: Set<number>): void {
  switch (e.op) {
    case 'bool':
    case 'segment':
      return;
    case 'cmp':
      // a cmp b is (a - b) cmp 0: shifting cannot change it when the difference does not move.
      markInt({ op: 'sub', a: e.a, b: e.b }, moved);
      return;
    case 'inset':
      markInt(e.a, moved);
      return;
    case 'not':
      markBool(e.a, moved);
      return;
    case 'and':
    case 'or':
      for (const x of e.args) markBool(x, moved);
  }
}

/** `e` with the coordinates in `values` (by side, then axis) replaced by constants, unfolded. */
function substituteInt(e: IntExpr, values: Readonly<Record<Side, ReadonlyMap<number, number>>>): IntExpr {
  const s = (x: IntExpr) => substituteInt(x, values);
  switch (e.op) {
    case 'const':
      return e;
    case 'coord': {
      const v = values[e.side].get(e.axis);
      return v === undefined ? e : constInt(v);
    }
    case 'select':
      return { op: 'select', cond: substituteBool(e.cond, values), a: s(e.a), b: s(e.b) };
    case 'neg':
    case 'abs':
    case 'log2':
    case 'pow2':
      return { op: e.op, a: s(e.a) };
    default:
      return { op: e.op, a: s(e.a), b: s(e.b) };
  }
}

function substituteBool(e: BoolExpr, values: Readonly<Record<Side, ReadonlyMap<number, number>>>): BoolExpr {
  switch (e.op) {
    case 'bool':
    case 'segment':
      return e;
    case 'cmp':
      return { ...e, a: substituteInt(e.a, values), b: substituteInt(e.b, values) };
    case 'inset':
      return { ...e, a: substituteInt(e.a, values) };
    case 'not':
      return { op: 'not', a: substituteBool(e.a, values) };
    case 'and':
    case 'or':
      return { op: e.op, args: e.args.map((x) => substituteBool(x, values)) };
  }
}

/** The axes `predicate` reads other than through query-key differences (a shift of both can change it). */
export function movingAxes(predicate: BoolExpr): Set<number> {
  const moved = new Set<number>();
  markBool(predicate, moved);
  return moved;
}

/** Moving-axis values below this pack into one number (two values per axis pair); larger ones use text. */
const PACK = 2 ** 26;

/** Keys box pairs so that equal keys have equal results; see the module comment. */
export class BoxPairKeys {
  /** Axes the predicate reads other than through query-key differences. */
  private readonly moving: readonly number[];
  private readonly isMoving: boolean[] = [];
  /** Moving-axis values (packed, or joined as text) to the id of their specialised predicate. */
  private readonly specialised = new Map<number | string, number>();
  /** Folded specialised predicates to small ids, so that keys stay short (a predicate's text is long). */
  private readonly predicateIds = new Map<string, number>();
  /** Per predicate id: the predicate (0: the raw one) and, per axis, whether it still reads that axis. */
  private readonly predicates: BoolExpr[];
  private readonly reads: boolean[][];

  constructor(predicate: BoolExpr) {
    this.moving = [...movingAxes(predicate)].sort((a, b) => a - b);
    for (const a of this.moving) this.isMoving[a] = true;
    this.predicates = [predicate];
    this.reads = [readsByAxis(predicate)];
  }

  /** The predicate with id `id` (see {@link predicateId}); 0 is the raw predicate. */
  predicateOf(id: number): BoolExpr {
    return this.predicates[id]!;
  }

  /** The key of a box pair (same segment layout on both sides) under its {@link predicateId}. */
  key(id: number, q: CoordBox, k: CoordBox): string {
    const reads = this.reads[id]!;
    let key = `${q.segment === 'text' ? 't' : 'v'}${k.segment === 'text' ? 't' : 'v'}${id}`;
    for (let a = 0; a < q.lo.length; a++) {
      const moving = this.isMoving[a] === true;
      // A substituted axis is no longer read (each box holds one value on it).
      if (moving && id !== 0) continue;
      if (reads[a] !== true) {
        // An axis the predicate does not read matters only through the boxes' sizes (allowed-pair counts).
        key += `,~${q.hi[a]! - q.lo[a]!},${k.hi[a]! - k.lo[a]!}`;
        continue;
      }
      // A difference axis counts relative to the key box; a moving one (unspecialised) absolutely.
      const base = moving ? 0 : k.lo[a]!;
      key += `,${q.lo[a]! - base},${q.hi[a]! - base},${k.lo[a]! - base},${k.hi[a]! - base}`;
    }
    return key;
  }

  /**
   * The id of the predicate specialised to the box pair's values on the moving axes, when each box holds one
   * value on every one of them; otherwise 0, the raw predicate, and the key keeps those axes' absolute bounds.
   * Pairs treated alike (same frame-distance class, say) get the same id.
   */
  predicateId(q: CoordBox, k: CoordBox): number {
    const { moving } = this;
    if (moving.length === 0) return 0;
    let values: number | string;
    if (moving.length === 1) {
      const a = moving[0]!;
      const qv = q.lo[a]!;
      const kv = k.lo[a]!;
      if (qv !== q.hi[a] || kv !== k.hi[a]) return 0;
      values = qv >= 0 && kv >= 0 && qv < PACK && kv < PACK ? qv * PACK + kv : `${qv}:${kv}`;
    } else {
      values = '';
      for (const a of moving) {
        if (q.lo[a] !== q.hi[a] || k.lo[a] !== k.hi[a]) return 0;
        values += `${q.lo[a]}:${k.lo[a]}:`;
      }
    }
    let id = this.specialised.get(values);
    if (id === undefined) {
      id = this.specialise(q, k);
      this.specialised.set(values, id);
    }
    return id;
  }

  /** Intern the predicate folded with the box pair's moving-axis values. */
  private specialise(q: CoordBox, k: CoordBox): number {
    const bySide = { q: new Map<number, number>(), k: new Map<number, number>() };
    for (const a of this.moving) {
      bySide.q.set(a, q.lo[a]!);
      bySide.k.set(a, k.lo[a]!);
    }
    const folded = foldBool(substituteBool(this.predicates[0]!, bySide));
    const text = exprKey(folded);
    let id = this.predicateIds.get(text);
    if (id === undefined) {
      id = this.predicates.length;
      this.predicateIds.set(text, id);
      this.predicates.push(folded);
      this.reads.push(readsByAxis(folded));
    }
    return id;
  }
}

/** Per axis, true when the predicate reads it. */
function readsByAxis(predicate: BoolExpr): boolean[] {
  const reads: boolean[] = [];
  for (const axis of axesRead(predicate)) reads[axis] = true;
  return reads;
}

/** The keys of one predicate and its memos by kind of answer. */
interface PredicateMemos {
  readonly keys: BoxPairKeys;
  readonly memos: Map<string, Map<string, unknown>>;
}

/**
 * Keys and memos per predicate, kept while the predicate lives: the plan's classifier and counter and the
 * report's layout alternatives (other block sizes, padded units: the same coordinates) share their answers.
 */
const shared = new WeakMap<BoolExpr, PredicateMemos>();

/**
 * The keys and the memo of answers of kind `kind` (a class, a count) for `predicate`, shared by every caller
 * with the same predicate object: an answer stored must be a function of the predicate and the box pair only.
 */
export function sharedBoxPairMemo<T>(
  predicate: BoolExpr,
  kind: string,
): { keys: BoxPairKeys; memo: Map<string, T> } {
  let entry = shared.get(predicate);
  if (!entry) {
    entry = { keys: new BoxPairKeys(predicate), memos: new Map() };
    shared.set(predicate, entry);
  }
  let memo = entry.memos.get(kind) as Map<string, T> | undefined;
  if (!memo) {
    memo = new Map<string, T>();
    entry.memos.set(kind, memo);
  }
  return { keys: entry.keys, memo };
}
