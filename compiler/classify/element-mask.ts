/**
 * The element-level oracle: allowed(q, k) on token indices, padding included, and brute-force block classes
 * from it. Tests compare every fast path against these; nothing in the compiler's hot path calls them.
 */
import { evalBool, type PatternInstance } from '../ir.js';
import { decodeToken } from '../layout.js';
import { compilePredicate, SEGMENT_CODE } from './compile-predicate.js';

/** Block class codes used in classification arrays. */
export const EMPTY = 0;
/** Some real pairs allowed and some not. */
export const PARTIAL = 1;
/** Every real pair allowed. */
export const FULL = 2;

/**
 * The reference mask: real(qi) && real(ki) && predicate, evaluated with `decodeToken` and `evalBool`
 * (the IR's reference semantics, no compilation).
 */
export function elementMask(pattern: PatternInstance): (qi: number, ki: number) => boolean {
  const qBuf: number[] = [];
  const kBuf: number[] = [];
  return (qi, ki) => {
    const q = decodeToken(pattern.layout, qi, qBuf);
    if (q === null) return false;
    const k = decodeToken(pattern.layout, ki, kBuf);
    if (k === null) return false;
    return evalBool(pattern.predicate, q, k);
  };
}

/** Every token decoded once: segment code (-1 for padding) and coordinates, flat. */
interface DecodedTokens {
  readonly segment: Int8Array;
  readonly coords: Int32Array;
  readonly axes: number;
}

function decodeAll(pattern: PatternInstance): DecodedTokens {
  const { layout } = pattern;
  const axes = layout.axisNames.length;
  const segment = new Int8Array(layout.length);
  const coords = new Int32Array(layout.length * axes);
  const buf: number[] = [];
  for (let i = 0; i < layout.length; i++) {
    const token = decodeToken(layout, i, buf);
    segment[i] = token === null ? -1 : SEGMENT_CODE[token.segment];
    if (token) for (let a = 0; a < axes; a++) coords[i * axes + a] = token.coords[a]!;
  }
  return { segment, coords, axes };
}

/**
 * A fast element mask for oracles over many pairs: tokens decoded once, predicate compiled (the compiled
 * predicate is itself property-tested against `evalBool`).
 */
export function compiledElementMask(pattern: PatternInstance): (qi: number, ki: number) => boolean {
  const { segment, coords, axes } = decodeAll(pattern);
  const predicate = compilePredicate(pattern.predicate);
  return (qi, ki) => {
    const qs = segment[qi] ?? -1;
    const ks = segment[ki] ?? -1;
    if (qs < 0 || ks < 0) return false;
    return predicate(
      qs,
      coords.subarray(qi * axes, qi * axes + axes),
      ks,
      coords.subarray(ki * axes, ki * axes + axes),
    );
  };
}

/**
 * Block classes by evaluating every element pair (the test oracle): row-major `numQBlocks x numKBlocks`,
 * {@link EMPTY} / {@link PARTIAL} / {@link FULL}, classified on real tokens only.
 */
export function bruteForceClasses(pattern: PatternInstance, blockQ: number, blockK: number): Uint8Array {
  const n = pattern.layout.length;
  const nq = Math.ceil(n / blockQ);
  const nk = Math.ceil(n / blockK);
  const { segment } = decodeAll(pattern);
  const mask = compiledElementMask(pattern);
  const allowed = new Float64Array(nq * nk);
  const realPairs = new Float64Array(nq * nk);
  for (let qi = 0; qi < n; qi++) {
    if (segment[qi]! < 0) continue;
    const row = Math.floor(qi / blockQ) * nk;
    for (let ki = 0; ki < n; ki++) {
      if (segment[ki]! < 0) continue;
      const cell = row + Math.floor(ki / blockK);
      realPairs[cell]!++;
      if (mask(qi, ki)) allowed[cell]!++;
    }
  }
  const classes = new Uint8Array(nq * nk);
  for (let c = 0; c < classes.length; c++) {
    const a = allowed[c]!;
    classes[c] = a === 0 ? EMPTY : a === realPairs[c] ? FULL : PARTIAL;
  }
  return classes;
}

/** Allowed real pairs counted element by element (the oracle for `PlanStats.allowedPairs`). */
export function bruteForceAllowedPairs(pattern: PatternInstance): number {
  const n = pattern.layout.length;
  const mask = compiledElementMask(pattern);
  let count = 0;
  for (let qi = 0; qi < n; qi++) for (let ki = 0; ki < n; ki++) if (mask(qi, ki)) count++;
  return count;
}
