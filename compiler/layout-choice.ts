/**
 * Layout and block-size choices that remove partial blocks (SPEC §1.2: frames of 3,600 tokens do not align
 * with 128-token blocks). Next to the plain choice, report (a) padding every unit to a multiple of the block
 * sizes, and (b) block sizes that divide the unit's token count (multiples of 16 between 64 and 256). The
 * predicate is over coordinates, so re-laying the tokens out never changes which real pairs are allowed.
 */
import { realTokensPerBlock } from './classify/boxes.js';
import { classifyBlocks } from './classify/classify.js';
import { FULL, PARTIAL } from './classify/element-mask.js';
import type { PatternInstance } from './ir.js';
import { type ConcreteLayout, type LayoutSpec, layoutSignature, makeLayout } from './layout.js';
import { checkBlockSizes, MAX_BLOCK_PAIRS } from './plan/build.js';
import type { PlanStats } from './plan/plan.js';
import { type ProgressCallback, partProgress } from './progress.js';

/** One layout / block-size choice with its block counts and costs. */
export interface LayoutChoice {
  /** `plain`, `pad units to N`, or `blocks N x N`. */
  readonly label: string;
  readonly layout: ConcreteLayout;
  readonly blockQ: number;
  readonly blockK: number;
  /** Sequence length kernels see (padding included). */
  readonly seqLen: number;
  readonly full: number;
  readonly partial: number;
  readonly empty: number;
  /** Element pairs the kernel computes: (full + partial blocks) x blockQ x blockK. */
  readonly computedPairs: number;
  /** computedPairs relative to the plain choice. */
  readonly relativeCompute: number;
  /** Padding tokens per real token: (seqLen - real) / real. */
  readonly paddingOverhead: number;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** The spec that rebuilds `layout` with units (and text) padded to multiples of `pad`. */
export function paddedSpec(layout: ConcreteLayout, pad: number): LayoutSpec {
  return {
    name: layout.name,
    videoAxes: layout.videoAxes,
    videoSizes: layout.videoSizes,
    tile: layout.tiled ? layout.tile : null,
    // Replaces any existing unit padding: the unit's tokens rounded up to the block multiple.
    unitPad: pad,
    text:
      layout.textAxis === null
        ? null
        : { axis: layout.textAxis, length: layout.textLength, position: layout.textPosition, pad },
  };
}

/** Block counts of one choice: what the plan already knows for the plain choice. */
export type ChoiceCounts = Pick<PlanStats, 'full' | 'partial' | 'total' | 'realTokens'>;

/** Classify `pattern` at the block sizes and count the classes. */
function countClasses(
  pattern: PatternInstance,
  blockQ: number,
  blockK: number,
  onProgress?: ProgressCallback,
): ChoiceCounts {
  const classes = classifyBlocks(pattern, blockQ, blockK, onProgress);
  let full = 0;
  let partial = 0;
  for (const c of classes) {
    if (c === FULL) full++;
    else if (c === PARTIAL) partial++;
  }
  const realTokens = realTokensPerBlock(pattern.layout, blockQ).reduce((s, x) => s + x, 0);
  return { full, partial, total: classes.length, realTokens };
}

function evaluate(
  label: string,
  pattern: PatternInstance,
  blockQ: number,
  blockK: number,
  counts: ChoiceCounts,
): Omit<LayoutChoice, 'relativeCompute'> {
  const { full, partial, realTokens: real } = counts;
  const seqLen = pattern.layout.length;
  return {
    label,
    layout: pattern.layout,
    blockQ,
    blockK,
    seqLen,
    full,
    partial,
    empty: counts.total - full - partial,
    computedPairs: (full + partial) * blockQ * blockK,
    paddingOverhead: real === 0 ? 0 : (seqLen - real) / real,
  };
}

/** Alternatives may have at most this many times the plan's block pairs (blocks of 80 for 128: 2.6x). */
export const ALTERNATIVE_PAIRS_FACTOR = 4;

/** One choice to evaluate: its label, the pattern on its layout, and its block sizes. */
interface ChoiceJob {
  readonly label: string;
  readonly pattern: PatternInstance;
  readonly blockQ: number;
  readonly blockK: number;
}

/** The alternatives to the plain choice worth classifying (see {@link layoutChoices}). */
function alternativeJobs(pattern: PatternInstance, blockQ: number, blockK: number): ChoiceJob[] {
  const { layout } = pattern;
  const jobs: ChoiceJob[] = [];
  const lcm = (blockQ / gcd(blockQ, blockK)) * blockK;
  const padded = makeLayout(paddedSpec(layout, lcm));
  if (padded.length !== layout.length || padded.unitSlot !== layout.unitSlot) {
    const repadded: PatternInstance = {
      ...pattern,
      key: `${pattern.name}_${layoutSignature(padded)}_from_${pattern.key}`,
      layout: padded,
    };
    jobs.push({ label: `pad units to ${lcm}`, pattern: repadded, blockQ, blockK });
  }
  // An alternative with many more block pairs than the plan would cost more to classify than the plan did
  // (blocks of 80 for a plan of 512 have 41x the pairs: minutes and gigabytes at 3 M tokens); leave it out.
  const pairs = (b: number) => Math.ceil(layout.length / b) ** 2;
  const limit = Math.min(
    MAX_BLOCK_PAIRS,
    ALTERNATIVE_PAIRS_FACTOR * Math.ceil(layout.length / blockQ) * Math.ceil(layout.length / blockK),
  );
  for (let block = 64; block <= 256; block += 16) {
    if (layout.unitTokens % block !== 0 || (block === blockQ && block === blockK)) continue;
    if (pairs(block) > limit) continue;
    jobs.push({ label: `blocks ${block} x ${block}`, pattern, blockQ: block, blockK: block });
  }
  return jobs;
}

/**
 * The plain choice first, then the alternatives that can remove partial blocks: units padded to the least
 * common multiple of the block sizes (when that changes the layout), and square block sizes that divide the
 * unit's token count. Each with block counts, computed element pairs relative to plain, and padding overhead.
 * `plain` passes the counts of the plan already built at these block sizes (its stats), so the plain choice
 * is not classified again. `onProgress` hears the fraction of the classifying done.
 */
export function layoutChoices(
  pattern: PatternInstance,
  blockQ: number,
  blockK: number,
  plain?: ChoiceCounts,
  onProgress?: ProgressCallback,
): LayoutChoice[] {
  checkBlockSizes(blockQ, blockK);
  const jobs: ChoiceJob[] = [
    ...(plain ? [] : [{ label: 'plain', pattern, blockQ, blockK }]),
    ...alternativeJobs(pattern, blockQ, blockK),
  ];
  const rows = jobs.map((job, i) => {
    const counts = countClasses(
      job.pattern,
      job.blockQ,
      job.blockK,
      partProgress(onProgress, i, jobs.length),
    );
    return evaluate(job.label, job.pattern, job.blockQ, job.blockK, counts);
  });
  if (plain) rows.unshift(evaluate('plain', pattern, blockQ, blockK, plain));
  const plainPairs = rows[0]!.computedPairs;
  return rows.map((row) => ({
    ...row,
    relativeCompute: plainPairs === 0 ? 0 : row.computedPairs / plainPairs,
  }));
}
