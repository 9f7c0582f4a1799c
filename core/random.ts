/**
 * Seeded noise that is the same on every backend and platform: Philox4x32-10 (Salmon, Moraes, Dror & Shaw,
 * "Parallel random numbers: as easy as 1, 2, 3", SC 2011) turned into standard normals by Box-Muller.
 *
 * Philox is counter-based: block `b` of stream `s` under seed `k` is a pure function of (b, s, k), computed
 * with 32-bit integer arithmetic only, so any element of a noise tensor can be produced independently and in
 * any order. The noise is generated on the host and uploaded, so every backend sees the same bits.
 *
 * The one float transform (documented here, restated by the tests):
 *   u = (w + 0.5) / 2^32 for each 32-bit word w (in (0, 1), exact in float64),
 *   r = sqrt(-2 ln u0), z0 = r cos(2 pi u1), z1 = r sin(2 pi u1), rounded to float32.
 * Node's Math.log/cos/sin are V8's fdlibm ports (the same code on every platform), and the result is rounded
 * to float32, so the values are reproducible wherever tessera runs.
 */
import { UserError } from './errors.js';

/** Philox4x32 round multipliers and Weyl key increments (Random123's PHILOX_M4x32_* and PHILOX_W32_*). */
const PHILOX_M0 = 0xd2511f53;
const PHILOX_M1 = 0xcd9e8d57;
const PHILOX_W0 = 0x9e3779b9;
const PHILOX_W1 = 0xbb67ae85;
const PHILOX_ROUNDS = 10;

/** Normals produced per Philox block (4 words, two Box-Muller pairs). */
export const NORMALS_PER_BLOCK = 4;

/** Streams used by the samplers, so draws for different purposes never share counters. */
export const NOISE_STREAM = {
  /** The initial latent x_T. */
  initial: 0,
  /** Fresh noise of an ancestral step k is stream `ancestral + k`. */
  ancestral: 1,
} as const;

/** A bad seed, stream or length (not a non-negative safe integer): a caller's bug, checked to fail loudly. */
export class RandomError extends UserError {
  constructor(message: string) {
    super(message);
  }
}

/** High 32 bits of the 64-bit product a * b of two uint32 (exact: 16-bit limbs keep every partial < 2^53). */
function mulHi(a: number, b: number): number {
  const aLo = a & 0xffff;
  const aHi = a >>> 16;
  const bLo = b & 0xffff;
  const bHi = b >>> 16;
  const lolo = aLo * bLo;
  const lohi = aLo * bHi;
  const hilo = aHi * bLo;
  const carry = Math.floor((Math.floor(lolo / 65536) + (lohi % 65536) + (hilo % 65536)) / 65536);
  return (aHi * bHi + Math.floor(lohi / 65536) + Math.floor(hilo / 65536) + carry) >>> 0;
}

/**
 * One Philox4x32-10 block: four uint32 words from a 128-bit counter and a 64-bit key, written into `out`.
 * Words are uint32 numbers (0 .. 2^32 - 1).
 */
export function philox4x32(
  counter: readonly [number, number, number, number],
  key: readonly [number, number],
  out: Uint32Array = new Uint32Array(4),
): Uint32Array {
  let [c0, c1, c2, c3] = counter;
  let [k0, k1] = key;
  for (let round = 0; round < PHILOX_ROUNDS; round++) {
    if (round > 0) {
      k0 = (k0 + PHILOX_W0) >>> 0;
      k1 = (k1 + PHILOX_W1) >>> 0;
    }
    const hi0 = mulHi(PHILOX_M0, c0);
    const lo0 = Math.imul(PHILOX_M0, c0) >>> 0;
    const hi1 = mulHi(PHILOX_M1, c2);
    const lo1 = Math.imul(PHILOX_M1, c2) >>> 0;
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
  return out;
}

const TWO_POW_32 = 4294967296;

/** A 32-bit word as a uniform number in the open interval (0, 1). */
export function wordToUniform(word: number): number {
  return (word + 0.5) / TWO_POW_32;
}

/** Split a non-negative safe integer into [low 32 bits, high 32 bits]. */
function splitSafeInteger(what: string, value: number): [number, number] {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RandomError(`${what} must be an integer from 0 to 2^53 - 1, found ${String(value)}`);
  }
  return [value % TWO_POW_32, Math.floor(value / TWO_POW_32)];
}

/**
 * `count` standard normal float32 values: element n comes from Philox block floor(n / 4) of `stream` under
 * `seed` (counter = [block low, block high, stream low, stream high], key = [seed low, seed high]); words 0,1
 * give elements 4b, 4b+1 and words 2,3 give 4b+2, 4b+3. A prefix of a longer draw equals the shorter draw.
 */
export function gaussianNoise(seed: number, stream: number, count: number): Float32Array {
  const key = splitSafeInteger('the seed', seed);
  const [s0, s1] = splitSafeInteger('the noise stream', stream);
  if (!Number.isSafeInteger(count) || count < 0) throw new RandomError(`bad noise length ${String(count)}`);
  const out = new Float32Array(count);
  const words = new Uint32Array(4);
  for (let block = 0; block * NORMALS_PER_BLOCK < count; block++) {
    philox4x32([block % TWO_POW_32, Math.floor(block / TWO_POW_32), s0, s1], key, words);
    for (let pair = 0; pair < 2; pair++) {
      const n = block * NORMALS_PER_BLOCK + 2 * pair;
      const r = Math.sqrt(-2 * Math.log(wordToUniform(words[2 * pair] as number)));
      const theta = 2 * Math.PI * wordToUniform(words[2 * pair + 1] as number);
      if (n < count) out[n] = r * Math.cos(theta);
      if (n + 1 < count) out[n + 1] = r * Math.sin(theta);
    }
  }
  return out;
}

/**
 * A small sequential uniform [0, 1) generator (mulberry32) for test data, random weights and verification
 * inputs: reproducible from a seed on every machine. Not the sampler noise, which is {@link gaussianNoise}.
 */
export function seededUniform(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
