/**
 * Build the block plan of a pattern at given block sizes: exact classification, the CSR tables of full and
 * partial key blocks, padding flags, a work-ordered schedule, exact statistics and the closed form if any.
 * Nothing here is quadratic in tokens: only partial block pairs are ever examined below block level.
 */

import { TesseraError } from '../../dsl/diagnostics.js';
import { START_OF_FILE } from '../../dsl/source.js';
import { realTokensPerBlock } from '../classify/boxes.js';
import { allowedPairCounter, classifyBlocks } from '../classify/classify.js';
import type { PatternInstance } from '../ir.js';
import { type ProgressCallback, partProgress, thinnedProgress } from '../progress.js';
import { recognizeClosedForm } from './closed-form.js';
import { type BlockCsr, type BlockPlan, blockGeometry, queryBlockWork } from './plan.js';

/** Reject block sizes that are not positive integers, as a user-facing diagnostic. */
export function checkBlockSizes(blockQ: number, blockK: number): void {
  for (const [name, value] of [
    ['blockQ', blockQ],
    ['blockK', blockK],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new TesseraError([
        {
          code: 'TP312',
          severity: 'error',
          message: `block size ${name} must be a positive integer, got ${value}`,
          range: START_OF_FILE,
          file: '<options>',
          hint: 'pass block sizes such as 64 or 128 (multiples of 16 suit tensor cores)',
        },
      ]);
    }
  }
}

/**
 * The most block pairs a plan may have: its class table holds a byte per pair and a dense plan's CSR four bytes
 * per pair, so 2^27 pairs is 128 MiB and 512 MiB (about 1.48 M tokens at blocks of 128, 2.97 M at 256).
 */
export const MAX_BLOCK_PAIRS = 2 ** 27;

/** Reject a layout with more block pairs than {@link MAX_BLOCK_PAIRS}, naming the limit and a way out. */
export function checkBlockPairs(pattern: PatternInstance, blockQ: number, blockK: number): void {
  const n = pattern.layout.length;
  const rows = Math.ceil(n / blockQ);
  const cols = Math.ceil(n / blockK);
  if (rows * cols <= MAX_BLOCK_PAIRS) return;
  const side = Math.ceil(n / Math.sqrt(MAX_BLOCK_PAIRS));
  const block = 2 ** Math.ceil(Math.log2(side));
  throw new TesseraError([
    {
      code: 'TP313',
      severity: 'error',
      message:
        `layout \`${pattern.layout.name}\` has ${n.toLocaleString('en-US')} tokens: ${rows.toLocaleString('en-US')} x ` +
        `${cols.toLocaleString('en-US')} blocks of ${blockQ} x ${blockK} is ${(rows * cols).toLocaleString('en-US')} block pairs, ` +
        `more than the ${MAX_BLOCK_PAIRS.toLocaleString('en-US')} (2^27) a block plan holds`,
      range: pattern.declaration?.range ?? START_OF_FILE,
      file: pattern.declaration?.file ?? pattern.key,
      hint: `use blocks of at least ${block} x ${block} (--block ${block}) or a smaller layout`,
    },
  ]);
}

/** Both CSR tables in one pass over the classes (class codes: 2 full, 1 partial, 0 empty). */
function csrTables(classes: Uint8Array, numQ: number, numK: number): { full: BlockCsr; partial: BlockCsr } {
  let fullCount = 0;
  let partialCount = 0;
  for (let c = 0; c < classes.length; c++) {
    const v = classes[c]!;
    fullCount += v >> 1;
    partialCount += v & 1;
  }
  const fullOffsets = new Int32Array(numQ + 1);
  const fullIndices = new Int32Array(fullCount);
  const partialOffsets = new Int32Array(numQ + 1);
  const partialIndices = new Int32Array(partialCount);
  let f = 0;
  let p = 0;
  for (let qb = 0; qb < numQ; qb++) {
    const row = qb * numK;
    for (let kb = 0; kb < numK; kb++) {
      const v = classes[row + kb]!;
      if (v === 2) fullIndices[f++] = kb;
      else if (v === 1) partialIndices[p++] = kb;
    }
    fullOffsets[qb + 1] = f;
    partialOffsets[qb + 1] = p;
  }
  return {
    full: { offsets: fullOffsets, indices: fullIndices },
    partial: { offsets: partialOffsets, indices: partialIndices },
  };
}

/** Allowed pairs of the full blocks: every real pair of each, summed per row. */
function fullBlockPairs(full: BlockCsr, realQ: Int32Array, realK: Int32Array): number {
  let pairs = 0;
  for (let qb = 0; qb < realQ.length; qb++) {
    let keys = 0;
    for (let m = full.offsets[qb]!, end = full.offsets[qb + 1]!; m < end; m++)
      keys += realK[full.indices[m]!]!;
    pairs += realQ[qb]! * keys;
  }
  return pairs;
}

/**
 * Allowed pairs inside partial blocks, counted exactly by the classifier's counter (partial blocks are few).
 * `onProgress` hears the partial blocks counted so far.
 */
function partialBlockPairs(
  pattern: PatternInstance,
  partial: BlockCsr,
  blockQ: number,
  blockK: number,
  onProgress?: ProgressCallback,
): number {
  if (partial.indices.length === 0) return 0;
  const count = allowedPairCounter(pattern, blockQ, blockK);
  const report = thinnedProgress(partial.indices.length, onProgress);
  let pairs = 0;
  for (let qb = 0; qb + 1 < partial.offsets.length; qb++) {
    for (let m = partial.offsets[qb]!; m < partial.offsets[qb + 1]!; m++)
      pairs += count(qb, partial.indices[m]!);
    report(partial.offsets[qb + 1]!);
  }
  return pairs;
}

/** Per block: 1 when it holds fewer real tokens than slots. */
function paddingFlags(real: Int32Array, blockSize: number, seqLen: number): Uint8Array {
  const flags = new Uint8Array(real.length);
  for (let b = 0; b < real.length; b++) {
    const slots = Math.min(blockSize, seqLen - b * blockSize);
    flags[b] = real[b]! < slots ? 1 : 0;
  }
  return flags;
}

/** Query blocks by descending full + partial count; ties keep block order (stable). */
function scheduleOf(full: BlockCsr, partial: BlockCsr, numQ: number): Int32Array {
  const work = (qb: number): number => queryBlockWork({ full, partial }, qb);
  const order = Array.from({ length: numQ }, (_, i) => i);
  order.sort((a, b) => work(b) - work(a) || a - b);
  return Int32Array.from(order);
}

/**
 * Build the plan of `pattern` at block sizes `blockQ x blockK`. `classes` may pass the classification the
 * pipeline's classify stage already made (row-major, {@link classifyBlocks}'s format) to avoid redoing it.
 * `onProgress` hears the fraction done (classifying, when not given, is the first half; counting the allowed
 * pairs of partial blocks the rest).
 */
export function buildPlan(
  pattern: PatternInstance,
  blockQ: number,
  blockK: number,
  classes?: Uint8Array,
  onProgress?: ProgressCallback,
): BlockPlan {
  checkBlockSizes(blockQ, blockK);
  const { layout } = pattern;
  const geometry = blockGeometry(layout.length, blockQ, blockK);
  const { numQBlocks: nq, numKBlocks: nk } = geometry;
  if (classes !== undefined && classes.length !== nq * nk) {
    throw new Error(`internal: ${classes.length} block classes given for a ${nq} x ${nk} grid`);
  }
  const classifying = classes === undefined;
  classes ??= classifyBlocks(pattern, blockQ, blockK, partProgress(onProgress, 0, 2));
  const counting = classifying ? partProgress(onProgress, 1, 2) : onProgress;
  const { full, partial } = csrTables(classes, nq, nk);
  const realQ = realTokensPerBlock(layout, blockQ);
  const realK = blockK === blockQ ? realQ : realTokensPerBlock(layout, blockK);
  const allowedPairs =
    fullBlockPairs(full, realQ, realK) + partialBlockPairs(pattern, partial, blockQ, blockK, counting);

  const total = nq * nk;
  const empty = total - full.indices.length - partial.indices.length;
  return {
    ...geometry,
    key: `${pattern.key}_b${blockQ}x${blockK}`,
    pattern,
    full,
    partial,
    keyBlockHasPadding: paddingFlags(realK, blockK, layout.length),
    queryBlockHasPadding: paddingFlags(realQ, blockQ, layout.length),
    schedule: scheduleOf(full, partial, nq),
    closedForm: recognizeClosedForm(pattern, geometry, classes),
    stats: {
      full: full.indices.length,
      partial: partial.indices.length,
      empty,
      total,
      sparsity: empty / total,
      allowedPairs,
      realTokens: realQ.reduce((s, x) => s + x, 0),
    },
  };
}
