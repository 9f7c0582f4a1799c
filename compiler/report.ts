/**
 * The numbers `tessera compile` and `tessera inspect` print: sparsity at the block size, full and partial
 * counts, FLOPs against dense attention and the speedup they predict, the closed form, and the layout
 * alternatives that remove partial blocks. One data structure, printed as text or as JSON.
 */
import { type PaddingCounts, paddingCounts, queriesWithoutKeys } from './plan/coverage.js';
import type { BlockPlan, ClosedForm } from './plan/plan.js';

/** Model shape assumed for FLOP counts (Open-Sora-Plan 1.2 by default: 24 heads of 96). */
export interface FlopShape {
  readonly heads: number;
  readonly headDim: number;
  readonly batch: number;
}

/** Default FLOP shape: SPEC §2's reference model. */
export const OPEN_SORA_SHAPE: FlopShape = { heads: 24, headDim: 96, batch: 1 };

/** A layout alternative as the report shows it. */
export interface LayoutAlternative {
  readonly label: string;
  readonly blockQ: number;
  readonly blockK: number;
  readonly seqLen: number;
  readonly full: number;
  readonly partial: number;
  readonly empty: number;
  /** Element pairs the kernel computes, relative to the plain choice. */
  readonly relativeWork: number;
}

/** Everything in a compile report. */
export interface CompileReport {
  readonly key: string;
  readonly source: string;
  readonly layout: {
    readonly name: string;
    readonly sizes: Record<string, number>;
    readonly tokens: number;
    readonly realTokens: number;
  };
  /** Padding slots and the full blocks that touch them (the Flex export computes those as partial). */
  readonly padding: PaddingCounts;
  /** Real queries no key is allowed to reach: their output is 0. */
  readonly queriesWithoutKeys: number;
  readonly blocks: {
    readonly blockQ: number;
    readonly blockK: number;
    readonly numQBlocks: number;
    readonly numKBlocks: number;
  };
  readonly counts: {
    readonly full: number;
    readonly partial: number;
    readonly empty: number;
    readonly total: number;
  };
  readonly sparsity: number;
  readonly allowedShare: number;
  readonly flops: {
    readonly dense: number;
    readonly computed: number;
    readonly ideal: number;
    readonly shape: FlopShape;
  };
  /** Dense over computed FLOPs; null when the plan computes no block at all (no key for any query). */
  readonly predictedSpeedup: number | null;
  /** Dense over allowed-pair FLOPs; null when no pair is allowed. */
  readonly idealSpeedup: number | null;
  readonly closedForm: string;
  readonly alternatives: readonly LayoutAlternative[];
  readonly seconds: Readonly<Record<string, number>>;
}

/** Element pairs inside the plan's computed (full + partial) blocks: what a block-sparse kernel multiplies. */
export function computedPairs(plan: BlockPlan): number {
  let pairs = 0;
  const rows = (qb: number) => Math.min(plan.blockQ, plan.seqLen - qb * plan.blockQ);
  const cols = (kb: number) => Math.min(plan.blockK, plan.seqLen - kb * plan.blockK);
  for (let qb = 0; qb < plan.numQBlocks; qb++) {
    let width = 0;
    for (const csr of [plan.full, plan.partial]) {
      for (let i = csr.offsets[qb]!; i < csr.offsets[qb + 1]!; i++) width += cols(csr.indices[i]!);
    }
    pairs += rows(qb) * width;
  }
  return pairs;
}

/** Attention FLOPs for a number of (query, key) pairs: QK^T and PV, 2 multiply-adds each per head dim. */
export function attentionFlops(pairs: number, shape: FlopShape): number {
  return 4 * pairs * shape.headDim * shape.heads * shape.batch;
}

/** A one-line description of a closed form. */
export function describeClosedForm(cf: ClosedForm | null): string {
  if (cf === null) return 'none: kernels walk the CSR block tables';
  if (cf.kind === 'dense') return 'dense: every block pair is full';
  if (cf.kind !== 'units') return (cf as { kind: string }).kind;
  const parts: string[] = [];
  if (cf.band) parts.push(`band ${cf.band.lo}..${cf.band.hi}`);
  if (cf.keyUnits)
    parts.push(`global key units ${cf.keyUnits.start} + ${cf.keyUnits.stride}m (m < ${cf.keyUnits.count})`);
  if (cf.queryUnits)
    parts.push(
      `global query units ${cf.queryUnits.start} + ${cf.queryUnits.stride}m (m < ${cf.queryUnits.count})`,
    );
  return `units of ${cf.unitBlocksQ}x${cf.unitBlocksK} blocks: ${parts.join(', ') || 'nothing'}`;
}

/** Build the report of a plan. */
export function makeReport(
  plan: BlockPlan,
  source: string,
  alternatives: readonly LayoutAlternative[],
  seconds: Record<string, number>,
  shape: FlopShape = OPEN_SORA_SHAPE,
): CompileReport {
  const layout = plan.pattern.layout;
  const sizes: Record<string, number> = {};
  layout.videoAxes.forEach((axis, i) => {
    sizes[axis] = layout.videoSizes[i]!;
  });
  if (layout.textAxis !== null) sizes[layout.textAxis] = layout.textLength;
  const real = plan.stats.realTokens;
  const dense = attentionFlops(real * real, shape);
  const computed = attentionFlops(computedPairs(plan), shape);
  const ideal = attentionFlops(plan.stats.allowedPairs, shape);
  return {
    key: plan.key,
    source,
    layout: { name: layout.name, sizes, tokens: layout.length, realTokens: real },
    padding: paddingCounts(plan),
    queriesWithoutKeys: queriesWithoutKeys(plan),
    blocks: {
      blockQ: plan.blockQ,
      blockK: plan.blockK,
      numQBlocks: plan.numQBlocks,
      numKBlocks: plan.numKBlocks,
    },
    counts: {
      full: plan.stats.full,
      partial: plan.stats.partial,
      empty: plan.stats.empty,
      total: plan.stats.total,
    },
    sparsity: plan.stats.sparsity,
    allowedShare: real === 0 ? 0 : plan.stats.allowedPairs / (real * real),
    flops: { dense, computed, ideal, shape },
    predictedSpeedup: computed === 0 ? null : dense / computed,
    idealSpeedup: ideal === 0 ? null : dense / ideal,
    closedForm: describeClosedForm(plan.closedForm),
    alternatives,
    seconds,
  };
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const tflop = (x: number) => `${(x / 1e12).toFixed(2)} TFLOP`;
const int = (x: number) => x.toLocaleString('en-US');

function formatClasses(r: CompileReport): string {
  const withPadding = r.padding.fullBlocksWithPadding;
  const full =
    withPadding > 0
      ? `${int(r.counts.full)} full (${int(withPadding)} of them hold padding, masked inside; the Flex export counts those as partial: ${int(r.counts.full - withPadding)} full, ${int(r.counts.partial + withPadding)} partial)`
      : `${int(r.counts.full)} full`;
  return `${full}, ${int(r.counts.partial)} partial, ${int(r.counts.empty)} empty`;
}

function formatSpeedup(r: CompileReport): string {
  if (r.predictedSpeedup === null) return 'none: no block is computed (no query has an allowed key)';
  const ideal =
    r.idealSpeedup === null
      ? 'no pair is allowed'
      : `${r.idealSpeedup.toFixed(2)}x if only allowed pairs cost`;
  return `${r.predictedSpeedup.toFixed(2)}x predicted from computed blocks (${ideal})`;
}

/** The warning about queries without keys (their attention output is 0), or null when every query has one. */
export function describeQueriesWithoutKeys(missing: number, queries: number): string | null {
  if (missing === 0) return null;
  return `${int(missing)} of ${int(queries)} queries (${pct(queries === 0 ? 0 : missing / queries)}) have no allowed key: their attention output is 0`;
}

/** The report as aligned text. */
export function formatReport(r: CompileReport): string {
  const sizes = Object.entries(r.layout.sizes)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  const lines = [
    `${r.key}  (${r.source})`,
    `  layout      ${r.layout.name}(${sizes}): ${int(r.layout.tokens)} tokens${r.padding.slots > 0 ? ` (${int(r.layout.realTokens)} real, ${int(r.padding.slots)} padding slots = ${pct(r.padding.share)})` : ''}`,
    `  blocks      ${r.blocks.blockQ} x ${r.blocks.blockK}: ${int(r.blocks.numQBlocks)} x ${int(r.blocks.numKBlocks)} = ${int(r.counts.total)} block pairs`,
    `  classes     ${formatClasses(r)}`,
    `  sparsity    ${pct(r.sparsity)} of block pairs skipped; ${pct(r.allowedShare)} of token pairs allowed`,
    `  FLOPs       ${tflop(r.flops.computed)} computed vs ${tflop(r.flops.dense)} dense (${r.flops.shape.heads} heads x ${r.flops.shape.headDim}, batch ${r.flops.shape.batch})`,
    `  speedup     ${formatSpeedup(r)}`,
    `  closed form ${r.closedForm}`,
  ];
  const noKeys = describeQueriesWithoutKeys(r.queriesWithoutKeys, r.layout.realTokens);
  if (noKeys) lines.push(`  warning     ${noKeys}`);
  if (r.alternatives.length > 0) {
    lines.push(
      '  layouts     choice                          blocks     tokens   full  partial    empty  work',
    );
    for (const a of r.alternatives) {
      lines.push(
        `              ${a.label.padEnd(31)} ${`${a.blockQ}x${a.blockK}`.padEnd(9)} ${String(a.seqLen).padStart(7)} ${String(a.full).padStart(6)} ${String(a.partial).padStart(8)} ${String(a.empty).padStart(8)}  ${a.relativeWork.toFixed(3)}`,
      );
    }
  }
  const timing = Object.entries(r.seconds)
    .map(([stage, s]) => `${stage} ${(s * 1000).toFixed(1)} ms`)
    .join(', ');
  if (timing) lines.push(`  time        ${timing}`);
  return lines.join('\n');
}
