/**
 * `--verify`: check a compiled plan three ways before its artefacts are trusted.
 *  1. the plan's invariants (sorted, in bounds, disjoint, closed form = tables, stats consistent);
 *  2. exactness: sampled block pairs re-classified by brute force over their elements;
 *  3. numbers: the best backend present runs the block-sparse kernel on fresh random inputs and is compared
 *     with dense float64 attention on the CPU (SPEC §4): at the requested size when the backend can run it
 *     (every query row against the reference when it is small, else sampled rows, each exact), otherwise on
 *     a shrunken instance, which the report says (`size`).
 */
import { compiledElementMask } from '../compiler/classify/element-mask.js';
import { isRealToken } from '../compiler/layout.js';
import type { BlockPlan } from '../compiler/plan/plan.js';
import { verifyPlan } from '../compiler/plan/verify.js';
import { seededUniform } from '../core/random.js';
import type { AttentionBackend, KernelDtype } from '../runtime/attention-backend.js';
import { preferredDtype } from '../runtime/attention-backend.js';
import { denseAttention } from '../runtime/cpu/attention.js';
import type { AttentionInputs } from '../runtime/cpu/attention-inputs.js';
import { TOLERANCE } from './tolerances.js';

/** What verification found. */
export interface VerifyReport {
  readonly invariantErrors: readonly string[];
  readonly sampledPairs: number;
  readonly misclassified: readonly { qBlock: number; kBlock: number; plan: string; truth: string }[];
  readonly numeric: {
    readonly backend: string;
    readonly dtype: KernelDtype;
    readonly tokens: number;
    readonly heads: number;
    readonly headDim: number;
    readonly outError: number;
    readonly lseError: number;
    readonly tolerance: number;
    readonly nonFinite: number;
    /** Query rows compared with the reference: every row, or this many sampled rows. */
    readonly rowsChecked: number | 'all';
    /** Tokens of the plan that was asked for; `tokens` is smaller when the check ran shrunken. */
    readonly requestedTokens: number;
    /** Why the check ran at `tokens` (and on which rows), in words. */
    readonly size: string;
  } | null;
  readonly ok: boolean;
}

const CLASS_NAME = ['empty', 'partial', 'full'] as const;

/** Class of every pair in the plan, from its CSR tables. */
function planClassOf(plan: BlockPlan, qBlock: number, kBlock: number): number {
  const find = (csr: BlockPlan['full']) => {
    for (let i = csr.offsets[qBlock]!; i < csr.offsets[qBlock + 1]!; i++)
      if (csr.indices[i] === kBlock) return true;
    return false;
  };
  return find(plan.full) ? 2 : find(plan.partial) ? 1 : 0;
}

/** The true class of one block pair, by evaluating each of its element pairs (real tokens only). */
function bruteForceClassOfPair(
  plan: BlockPlan,
  allowed: (qi: number, ki: number) => boolean,
  qBlock: number,
  kBlock: number,
): number {
  const layout = plan.pattern.layout;
  let seenTrue = false;
  let seenFalse = false;
  const qEnd = Math.min(plan.seqLen, (qBlock + 1) * plan.blockQ);
  const kEnd = Math.min(plan.seqLen, (kBlock + 1) * plan.blockK);
  for (let qi = qBlock * plan.blockQ; qi < qEnd; qi++) {
    if (!isRealToken(layout, qi)) continue;
    for (let ki = kBlock * plan.blockK; ki < kEnd; ki++) {
      if (!isRealToken(layout, ki)) continue;
      if (allowed(qi, ki)) seenTrue = true;
      else seenFalse = true;
      if (seenTrue && seenFalse) return 1;
    }
  }
  return seenTrue ? 2 : 0;
}

/** Sample up to `budget` block pairs (every pair when the grid is small) and compare with brute force. */
export function sampleExactness(
  plan: BlockPlan,
  budget: number,
  seed: number,
): VerifyReport['misclassified'] {
  const total = plan.numQBlocks * plan.numKBlocks;
  const random = seededUniform(seed);
  const mask = compiledElementMask(plan.pattern);
  const out: { qBlock: number; kBlock: number; plan: string; truth: string }[] = [];
  const pairs = Math.min(total, budget);
  for (let i = 0; i < pairs; i++) {
    const index = total <= budget ? i : Math.floor(random() * total);
    const qBlock = Math.floor(index / plan.numKBlocks);
    const kBlock = index % plan.numKBlocks;
    const truth = bruteForceClassOfPair(plan, mask, qBlock, kBlock);
    const got = planClassOf(plan, qBlock, kBlock);
    if (truth !== got) out.push({ qBlock, kBlock, plan: CLASS_NAME[got]!, truth: CLASS_NAME[truth]! });
  }
  return out;
}

/** Relative error ||a - b|| / ||b|| over finite reference entries; -Infinity must match exactly. */
export function compareWithReference(
  got: ArrayLike<number>,
  ref: ArrayLike<number>,
): { error: number; nonFinite: number } {
  let num = 0;
  let den = 0;
  let nonFinite = 0;
  for (let i = 0; i < ref.length; i++) {
    const r = ref[i]!;
    const g = got[i]!;
    if (!Number.isFinite(r)) {
      if (g !== r) nonFinite++;
      continue;
    }
    if (!Number.isFinite(g)) {
      nonFinite++;
      continue;
    }
    num += (g - r) ** 2;
    den += r * r;
  }
  return { error: den === 0 ? Math.sqrt(num) : Math.sqrt(num / den), nonFinite };
}

/** Random normal-ish inputs (never zeros) for a plan's sequence, [B, S, H, D]. */
export function randomInputs(seqLen: number, heads: number, headDim: number, seed: number): AttentionInputs {
  const random = seededUniform(seed);
  const n = seqLen * heads * headDim;
  const fill = () => Float64Array.from({ length: n }, () => (random() + random() + random() - 1.5) * 2);
  return { q: fill(), k: fill(), v: fill(), layout: 'bshd', batch: 1, heads, seqLen, headDim };
}

/**
 * Verify `plan`; the numeric check runs on `numericPlan` (the same pattern at a size the dense oracle can
 * afford; pass `plan` itself when it is small) on `backend`.
 */
export async function verifyCompiled(
  plan: BlockPlan,
  numericPlan: BlockPlan | null,
  backend: AttentionBackend,
  options: {
    samplePairs?: number;
    seed?: number;
    heads?: number;
    headDim?: number;
    /** Query rows to compare (all when absent): for sequences too long for the whole dense reference. */
    rows?: readonly number[];
    /** Why `numericPlan` has the size it has, for the report. */
    size?: string;
  } = {},
): Promise<VerifyReport> {
  const seed = options.seed ?? 1;
  const invariantErrors = verifyPlan(plan);
  const samplePairs = Math.min(options.samplePairs ?? 400, plan.numQBlocks * plan.numKBlocks);
  const misclassified = sampleExactness(plan, samplePairs, seed);
  let numeric: VerifyReport['numeric'] = null;
  if (numericPlan) {
    const heads = options.heads ?? 2;
    const headDim = options.headDim ?? 64;
    const inputs = randomInputs(numericPlan.seqLen, heads, headDim, seed + 1);
    const dtype = preferredDtype(backend);
    const got = await backend.attention(numericPlan, inputs, dtype);
    const rows = options.rows;
    const ref = denseAttention(inputs, compiledElementMask(numericPlan.pattern), {
      precision: 'float64',
      ...(rows ? { rows } : {}),
    });
    const pick = rows
      ? (a: ArrayLike<number>, index: (row: number) => number[]) => rows.flatMap(index).map((i) => a[i]!)
      : (a: ArrayLike<number>) => a;
    const outIndex = (row: number) =>
      Array.from({ length: heads * headDim }, (_, j) => row * heads * headDim + j);
    const lseIndex = (row: number) => Array.from({ length: heads }, (_, h) => h * numericPlan.seqLen + row);
    const out = compareWithReference(pick(got.out, outIndex), pick(ref.out, outIndex));
    const lse = compareWithReference(pick(got.lse, lseIndex), pick(ref.lse, lseIndex));
    numeric = {
      backend: backend.name,
      dtype,
      tokens: numericPlan.seqLen,
      heads,
      headDim,
      outError: out.error,
      lseError: lse.error,
      tolerance: TOLERANCE[dtype],
      nonFinite: out.nonFinite + lse.nonFinite,
      rowsChecked: rows ? rows.length : 'all',
      requestedTokens: plan.seqLen,
      size:
        options.size ??
        (numericPlan.seqLen === plan.seqLen
          ? 'the requested size'
          : `shrunk to ${numericPlan.seqLen} tokens from ${plan.seqLen}`),
    };
  }
  const numericOk =
    numeric === null ||
    (numeric.outError < numeric.tolerance && numeric.lseError < numeric.tolerance && numeric.nonFinite === 0);
  return {
    invariantErrors,
    sampledPairs: samplePairs,
    misclassified,
    numeric,
    ok: invariantErrors.length === 0 && misclassified.length === 0 && numericOk,
  };
}
