/**
 * Closed forms: recognising, from the exact block classes, that a plan's key blocks follow from a few integers
 * (dense, or a unit-level band + global key units + global query units), so a kernel can enumerate them by
 * arithmetic with no table. Recognition is semantic: it reads the classification, never the predicate's
 * syntax, and a form is returned only when its enumeration reproduces the classes exactly.
 */
import { EMPTY, FULL } from '../classify/element-mask.js';
import type { PatternInstance } from '../ir.js';
import type { BlockGeometry, ClosedForm, Progression } from './plan.js';

type UnitsForm = Extract<ClosedForm, { kind: 'units' }>;

/** Whether `value` is a member of a progression. */
function inProgression(p: Progression | null, value: number): boolean {
  if (p === null) return false;
  const offset = value - p.start;
  return offset >= 0 && offset % p.stride === 0 && offset / p.stride < p.count;
}

/**
 * Key blocks of query block `qBlock` under a closed form, ascending: the loop a kernel runs instead of reading
 * a CSR row. Units forms walk the band and the key-unit progression in one ascending merge.
 */
export function enumerateClosedFormKeyBlocks(
  cf: ClosedForm,
  geometry: BlockGeometry,
  qBlock: number,
): Int32Array {
  if (cf.kind === 'dense') return Int32Array.from({ length: geometry.numKBlocks }, (_, i) => i);
  const local = qBlock - cf.firstBlockQ;
  if (local < 0 || local >= cf.units * cf.unitBlocksQ) return new Int32Array(0);
  const i = Math.floor(local / cf.unitBlocksQ);
  const units: number[] = [];
  if (inProgression(cf.queryUnits, i)) {
    for (let j = 0; j < cf.units; j++) units.push(j);
  } else {
    let bandLo = cf.band ? Math.max(0, i + cf.band.lo) : 1;
    const bandHi = cf.band ? Math.min(cf.units - 1, i + cf.band.hi) : 0;
    const keys = cf.keyUnits;
    let m = 0;
    // Ascending merge of the band [bandLo, bandHi] with the key-unit progression, skipping duplicates.
    while (bandLo <= bandHi || (keys && m < keys.count)) {
      const fromKeys = keys && m < keys.count ? keys.start + m * keys.stride : Number.POSITIVE_INFINITY;
      const fromBand = bandLo <= bandHi ? bandLo : Number.POSITIVE_INFINITY;
      const next = Math.min(fromKeys, fromBand);
      if (next >= cf.units) break;
      units.push(next);
      if (fromKeys === next) m++;
      if (fromBand === next) bandLo++;
    }
  }
  const blocks = new Int32Array(units.length * cf.unitBlocksK);
  let w = 0;
  for (const j of units) {
    for (let b = 0; b < cf.unitBlocksK; b++) blocks[w++] = cf.firstBlockK + j * cf.unitBlocksK + b;
  }
  return blocks;
}

/** A sorted list as a progression with positive stride, `null` when empty, `undefined` when not one. */
function asProgression(values: readonly number[]): Progression | null | undefined {
  if (values.length === 0) return null;
  const stride = values.length > 1 ? values[1]! - values[0]! : 1;
  for (let m = 1; m < values.length; m++) if (values[m]! - values[m - 1]! !== stride) return undefined;
  return { start: values[0]!, stride, count: values.length };
}

/** The unit-level mask when every unit pair's blocks are uniformly full or uniformly empty, else null. */
function unitMask(
  classes: Uint8Array,
  geometry: BlockGeometry,
  units: number,
  firstQ: number,
  firstK: number,
  perQ: number,
  perK: number,
): Uint8Array | null {
  const mask = new Uint8Array(units * units);
  for (let i = 0; i < units; i++) {
    for (let j = 0; j < units; j++) {
      const want = classes[(firstQ + i * perQ) * geometry.numKBlocks + firstK + j * perK];
      if (want !== FULL && want !== EMPTY) return null;
      for (let qb = 0; qb < perQ; qb++) {
        const row = (firstQ + i * perQ + qb) * geometry.numKBlocks + firstK + j * perK;
        for (let kb = 0; kb < perK; kb++) if (classes[row + kb] !== want) return null;
      }
      mask[i * units + j] = want === FULL ? 1 : 0;
    }
  }
  return mask;
}

/**
 * Fit band + key units + query units to a unit mask. Candidates for the global sets are the all-ones rows and
 * columns; the simplest fit wins (a causal mask stays a band even though its last row sees everything).
 */
function fitUnitsForm(
  mask: Uint8Array,
  units: number,
): Pick<UnitsForm, 'band' | 'keyUnits' | 'queryUnits'> | null {
  const fullRows: number[] = [];
  const fullCols: number[] = [];
  for (let i = 0; i < units; i++) {
    let row = true;
    let col = true;
    for (let j = 0; j < units; j++) {
      if (!mask[i * units + j]) row = false;
      if (!mask[j * units + i]) col = false;
    }
    if (row) fullRows.push(i);
    if (col) fullCols.push(i);
  }
  for (const [rows, cols] of [
    [[], []],
    [[], fullCols],
    [fullRows, []],
    [fullRows, fullCols],
  ] as const) {
    const queryUnits = asProgression(rows);
    const keyUnits = asProgression(cols);
    if (queryUnits === undefined || keyUnits === undefined) continue;
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < units; i++) {
      if (inProgression(queryUnits, i)) continue;
      for (let j = 0; j < units; j++) {
        if (inProgression(keyUnits, j) || !mask[i * units + j]) continue;
        lo = Math.min(lo, j - i);
        hi = Math.max(hi, j - i);
      }
    }
    const band = lo <= hi ? { lo: lo <= -(units - 1) ? -units : lo, hi } : null;
    let exact = true;
    for (let i = 0; i < units && exact; i++) {
      for (let j = 0; j < units; j++) {
        const d = j - i;
        const predicted =
          inProgression(queryUnits, i) ||
          inProgression(keyUnits, j) ||
          (band !== null && d >= band.lo && d <= band.hi);
        if (predicted !== (mask[i * units + j] === 1)) {
          exact = false;
          break;
        }
      }
    }
    if (exact) return { band, keyUnits, queryUnits };
  }
  return null;
}

/** True when enumerating the closed form gives exactly the non-empty blocks of every query block. */
function reproducesClasses(cf: ClosedForm, geometry: BlockGeometry, classes: Uint8Array): boolean {
  for (let qb = 0; qb < geometry.numQBlocks; qb++) {
    const listed = enumerateClosedFormKeyBlocks(cf, geometry, qb);
    let m = 0;
    for (let kb = 0; kb < geometry.numKBlocks; kb++) {
      const c = classes[qb * geometry.numKBlocks + kb];
      if (c === EMPTY) continue;
      if (c !== FULL || listed[m] !== kb) return false;
      m++;
    }
    if (m !== listed.length) return false;
  }
  return true;
}

/**
 * Recognise a closed form for a classified pattern, or null. `dense` when every block pair is full; `units`
 * for video-only layouts whose units are aligned to both block sizes and whose unit-level mask is a band plus
 * global key units plus global query units (Attention Tile, causal and sliding frame windows, strided frames).
 */
export function recognizeClosedForm(
  pattern: PatternInstance,
  geometry: BlockGeometry,
  classes: Uint8Array,
): ClosedForm | null {
  let allFull = true;
  for (let c = 0; c < classes.length && allFull; c++) allFull = classes[c] === FULL;
  if (allFull) return { kind: 'dense' };
  const { layout } = pattern;
  const { blockQ, blockK } = geometry;
  if (layout.textSlots > 0 || layout.unitSlot % blockQ !== 0 || layout.unitSlot % blockK !== 0) return null;
  if (layout.videoStart % blockQ !== 0 || layout.videoStart % blockK !== 0) return null;
  const units = layout.unitCount;
  const perQ = layout.unitSlot / blockQ;
  const perK = layout.unitSlot / blockK;
  const firstQ = layout.videoStart / blockQ;
  const firstK = layout.videoStart / blockK;
  if (firstQ + units * perQ !== geometry.numQBlocks || firstK + units * perK !== geometry.numKBlocks)
    return null;
  const mask = unitMask(classes, geometry, units, firstQ, firstK, perQ, perK);
  if (mask === null) return null;
  const fit = fitUnitsForm(mask, units);
  if (fit === null) return null;
  const cf: ClosedForm = {
    kind: 'units',
    units,
    unitBlocksQ: perQ,
    unitBlocksK: perK,
    firstBlockQ: firstQ,
    firstBlockK: firstK,
    ...fit,
  };
  return reproducesClasses(cf, geometry, classes) ? cf : null;
}
