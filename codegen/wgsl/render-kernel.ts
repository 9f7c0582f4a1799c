/**
 * The block-sparse flash-attention forward in WGSL: one workgroup per (query block, batch x head), one query
 * row per invocation (or per 4 invocations in the subgroup variant, each owning a quarter of the head dim).
 * Key blocks are staged tile by tile in workgroup memory; each row keeps an online softmax (running max in
 * the exp2 domain, running sum, f32 accumulator) and rescales once per tile. Full blocks skip the element
 * mask and only drop padding keys when the plan says the block holds padding; partial blocks evaluate
 * `tp_allowed` on decoded tokens. A row that never sees an allowed key writes 0 and lse = -inf.
 *
 * The loops over head dims run per key are unrolled here, in the generated text: Mesa's llvmpipe (the
 * software GPU of CI) stops *all* loops of an invocation after 65,535 iterations in total (loop-budget.ts),
 * so the per-key work spends one loop pass per key, not one per element. A call that still needs more is
 * split by the runtime into dispatches over ranges of key blocks (`params.visitBegin/visitEnd`); each
 * dispatch after the first merges its softmax into the output and lse the earlier ones stored.
 */
import type { BlockPlan } from '../../compiler/plan/plan.js';
import { WGSL_BINDINGS, WGSL_PARAMS_STRUCT } from './bindings.js';
import type { WgslKernelConfig } from './kernel-config.js';
import { STAGE_CHUNK } from './loop-budget.js';
import { planTableLayout } from './plan-tables.js';

/**
 * `count` copies of `statement(i)` (i = 0, 1, ...), four to a line: straight-line code where a loop would
 * spend the llvmpipe loop budget once per element.
 */
function unrolled(count: number, statement: (i: number) => string, indent: string): string {
  const lines: string[] = [];
  for (let i = 0; i < count; i += 4) {
    const group = Array.from({ length: Math.min(4, count - i) }, (_, g) => statement(i + g));
    lines.push(`${indent}${group.join(' ')}`);
  }
  return lines.join('\n');
}

/** `enable` and `diagnostic` directives; WGSL wants them before any declaration. */
export function renderDirectives(config: WgslKernelConfig): string[] {
  const lines: string[] = [];
  if (config.io === 'f16') lines.push('enable f16;');
  if (config.subgroups) {
    lines.push('enable subgroups;');
    // The four lanes of a row always take the same branches, which the analysis cannot prove.
    lines.push('diagnostic(off, subgroup_uniformity);');
  }
  return lines;
}

/** Compile-time constants: geometry, table section starts and numeric constants, all named. */
export function renderConstants(plan: BlockPlan, config: WgslKernelConfig): string {
  const at = planTableLayout(plan);
  return `const kHeadDim: u32 = ${config.headDim}u;
const kLanes: u32 = ${config.lanesPerRow}u;        // invocations per query row
const kLaneDims: u32 = ${config.headDim / config.lanesPerRow}u;    // head dims each of them owns
const kKeyTile: u32 = ${config.keyTile}u;      // keys staged in workgroup memory at a time
const kStageChunk: u32 = ${STAGE_CHUNK}u;    // consecutive elements one invocation stages per step
const kWorkgroupSize: u32 = ${config.workgroupSize}u;
const kBlockQ: i32 = ${plan.blockQ}i;
const kBlockK: i32 = ${plan.blockK}i;
const kSeqLen: i32 = ${plan.seqLen}i;
const kNumKBlocks: i32 = ${plan.numKBlocks}i;

// Sections of the packed plan table (binding ${WGSL_BINDINGS.tables}).
const kScheduleAt: i32 = ${at.schedule}i;
const kFullOffsetsAt: i32 = ${at.fullOffsets}i;
const kFullIndicesAt: i32 = ${at.fullIndices}i;
const kPartialOffsetsAt: i32 = ${at.partialOffsets}i;
const kPartialIndicesAt: i32 = ${at.partialIndices}i;
const kKeyPaddingAt: i32 = ${at.keyPadding}i;

// How a key tile is masked.
const kMaskNone: i32 = 0i;       // full block, no padding keys
const kMaskPadding: i32 = 1i;    // full block holding padding keys
const kMaskElements: i32 = 2i;   // partial block: the pattern decides per element

const kLn2: f32 = 0.6931471805599453;
const kLog2e: f32 = 1.4426950408889634;
// Running max before any key: far below any score, so exp2(kNoScore - max) is exactly 0, never NaN.
const kNoScore: f32 = -3.0e38;
// lse is stored as f32 bits; -inf is written as bits because WGSL has no infinite float constant.
const kNegInfBits: u32 = 0xff800000u;`;
}

/** Bindings, workgroup tiles and per-invocation state. */
export function renderResources(config: WgslKernelConfig): string {
  const t = config.io;
  const b = WGSL_BINDINGS;
  return `${WGSL_PARAMS_STRUCT}

@group(0) @binding(${b.params}) var<uniform> params: TpParams;
@group(0) @binding(${b.q}) var<storage, read> q: array<${t}>;
@group(0) @binding(${b.k}) var<storage, read> k: array<${t}>;
@group(0) @binding(${b.v}) var<storage, read> v: array<${t}>;
@group(0) @binding(${b.out}) var<storage, read_write> out: array<${t}>;
@group(0) @binding(${b.lse}) var<storage, read_write> lse: array<u32>;
@group(0) @binding(${b.tables}) var<storage, read> tables: array<i32>;

var<workgroup> kTile: array<f32, kKeyTile * kHeadDim>;
var<workgroup> vTile: array<f32, kKeyTile * kHeadDim>;
var<workgroup> keyTokens: array<TpToken, kKeyTile>;

var<private> invocation: u32;
var<private> laneDim0: u32;      // first head dim this invocation owns
var<private> kvBase: u32;        // element offset of (batch, head) in q, k and v
var<private> queryToken: TpToken;
var<private> rowLive: bool;      // a real query token inside the sequence
var<private> qRow: array<f32, kLaneDims>;
var<private> acc: array<f32, kLaneDims>;
var<private> rowMax: f32;
var<private> rowSum: f32;
var<private> earlierLse: u32;    // lse bits stored by earlier dispatches of a split call (merge only)`;
}

/** The dot product of this row with staged key `j`, summed over the row's lanes. */
function renderDot(config: WgslKernelConfig): string {
  const reduce = config.subgroups
    ? `
    // The 4 lanes of a row are adjacent invocations of one subgroup: butterfly-sum their partial dots.
    dot += subgroupShuffleXor(dot, 1u);
    dot += subgroupShuffleXor(dot, 2u);`
    : '';
  const laneDims = config.headDim / config.lanesPerRow;
  return `    var dot = 0.0;
    let kAt = j * kHeadDim + laneDim0;
${unrolled(laneDims, (d) => `dot += qRow[${d}] * kTile[kAt + ${d}u];`, '    ')}${reduce}`;
}

/** Staging, the online-softmax update of one key tile, and the walk over one key block. */
export function renderKeyBlock(config: WgslKernelConfig): string {
  const laneDims = config.headDim / config.lanesPerRow;
  return `// Copy keys [t0, t0 + n) of this head into workgroup memory; decode their tokens when the tile is masked.
// Each step copies kStageChunk consecutive elements; kHeadDim is a multiple of it, so a chunk is one key's.
fn tp_stage_keys(t0: i32, n: i32, decode: bool) {
  let chunks = u32(n) * (kHeadDim / kStageChunk);
  for (var c = invocation; c < chunks; c += kWorkgroupSize) {
    let e = c * kStageChunk;
    let src = kvBase + u32(t0 + i32(e / kHeadDim)) * params.inSeq + e % kHeadDim;
${unrolled(STAGE_CHUNK, (i) => `kTile[e + ${i}u] = f32(k[src + ${i}u]);`, '    ')}
${unrolled(STAGE_CHUNK, (i) => `vTile[e + ${i}u] = f32(v[src + ${i}u]);`, '    ')}
  }
  if (decode) {
    for (var j = invocation; j < u32(n); j += kWorkgroupSize) {
      keyTokens[j] = tp_decode(t0 + i32(j));
    }
  }
}

// Fold n staged keys into this row's online softmax; rescales the accumulator once per tile.
fn tp_consume_keys(n: i32, mode: i32) {
  var score: array<f32, kKeyTile>;
  var live: array<bool, kKeyTile>;
  var tileMax = kNoScore;
  for (var j = 0u; j < u32(n); j++) {
${renderDot(config)}
    var allowed = rowLive;
    if (mode == kMaskElements) {
      allowed = allowed && tp_allowed(queryToken, keyTokens[j]);
    } else if (mode == kMaskPadding) {
      allowed = allowed && keyTokens[j].seg != 0i;
    }
    live[j] = allowed;
    score[j] = dot;
    if (allowed) {
      tileMax = max(tileMax, dot);
    }
  }
  if (tileMax == kNoScore) {
    return;
  }
  let newMax = max(rowMax, tileMax);
  let alpha = exp2(rowMax - newMax);
  rowSum *= alpha;
${unrolled(laneDims, (d) => `acc[${d}] *= alpha;`, '  ')}
  for (var j = 0u; j < u32(n); j++) {
    if (!live[j]) {
      continue;
    }
    let p = exp2(score[j] - newMax);
    rowSum += p;
    let vAt = j * kHeadDim + laneDim0;
${unrolled(laneDims, (d) => `acc[${d}] += p * vTile[vAt + ${d}u];`, '    ')}
  }
  rowMax = newMax;
}

// Visit key block kb: every invocation of the workgroup calls this with the same arguments.
fn tp_key_block(kb: i32, partial: bool) {
  let paddedKeys = tables[kKeyPaddingAt + kb] != 0i;
  let mode = select(select(kMaskNone, kMaskPadding, paddedKeys), kMaskElements, partial);
  let start = kb * kBlockK;
  let end = min(start + kBlockK, kSeqLen);
  for (var t0 = start; t0 < end; t0 += i32(kKeyTile)) {
    let n = min(i32(kKeyTile), end - t0);
    workgroupBarrier();  // the previous tile has been read by everyone
    tp_stage_keys(t0, n, mode != kMaskNone);
    workgroupBarrier();
    tp_consume_keys(n, mode);
  }
}

// The visit-th key block of this query block: walked when this dispatch's range holds it. Returns visit + 1.
fn tp_visit(visit: u32, kb: i32, partial: bool) -> u32 {
  if (visit >= params.visitBegin && visit < params.visitEnd) {
    tp_key_block(kb, partial);
  }
  return visit + 1u;
}`;
}

/** Loading the query row and storing the output row and its log-sum-exp. */
export function renderRowIo(config: WgslKernelConfig): string {
  return `fn tp_load_query(qi: i32) {
  if (qi >= kSeqLen) {
    return;
  }
  let at = kvBase + u32(qi) * params.inSeq + laneDim0;
  for (var d = 0u; d < kLaneDims; d++) {
    qRow[d] = f32(q[at + d]) * params.scaleLog2e;
  }
}

fn tp_lse_at(qi: i32, b: u32, h: u32) -> u32 {
  return (b * params.heads + h) * u32(kSeqLen) + u32(qi);
}

// Split calls: the row's lse as earlier dispatches left it, read before any lane of the row rewrites it.
fn tp_load_earlier(qi: i32, b: u32, h: u32) {
  if (params.merge != 0u && qi < kSeqLen) {
    earlierLse = lse[tp_lse_at(qi, b, h)];
  }
}

fn tp_store_row(qi: i32, b: u32, h: u32) {
  if (qi >= kSeqLen) {
    return;
  }
  let seen = rowSum > 0.0;
  if (params.merge != 0u && !seen) {
    return;  // no key in this dispatch: what earlier dispatches of the call stored stands
  }
  // out = earlier out * keep + acc * scale; total is log2 of the row's sum of exp2(scores) so far.
  let merging = params.merge != 0u && earlierLse != kNegInfBits;
  var keep = 0.0;
  var scale = select(0.0, 1.0 / rowSum, seen);
  var total = rowMax + log2(rowSum);
  if (merging) {
    let earlier = bitcast<f32>(earlierLse) * kLog2e;
    let top = max(earlier, total);
    total = top + log2(exp2(earlier - top) + exp2(total - top));
    keep = exp2(earlier - total);
    scale = exp2(rowMax - total);
  }
  let at = b * params.outBatch + u32(qi) * params.outSeq + h * params.outHead + laneDim0;
  // A loop, unlike the per-key code: it runs once per row, and unrolled it would double llvmpipe's compile time.
  for (var d = 0u; d < kLaneDims; d++) {
    var value = acc[d] * scale;
    if (merging) {
      value += f32(out[at + d]) * keep;
    }
    out[at + d] = ${config.io}(value);
  }
  if (laneDim0 == 0u) {
    lse[tp_lse_at(qi, b, h)] = select(kNegInfBits, bitcast<u32>(total * kLn2), seen);
  }
}`;
}

/** The entry point; `enumeration` is the code that calls `tp_visit` for each key block of query block `qb`. */
export function renderEntryPoint(enumeration: string): string {
  return `@compute @workgroup_size(kWorkgroupSize)
fn main(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_index) index: u32) {
  // Heaviest query blocks first: the schedule orders them by work.
  let qb = tables[kScheduleAt + i32(group.x)];
  let b = group.y / params.heads;
  let h = group.y % params.heads;
  invocation = index;
  laneDim0 = (index % kLanes) * kLaneDims;
  kvBase = b * params.inBatch + h * params.inHead;
  let qi = qb * kBlockQ + i32(index / kLanes);
  queryToken = tp_decode(qi);
  rowLive = queryToken.seg != 0i;
  rowMax = kNoScore;
  rowSum = 0.0;
  tp_load_query(qi);
  tp_load_earlier(qi, b, h);
  // Every lane has read the lse of earlier dispatches before the row's first lane may rewrite it.
  storageBarrier();
  var visit = 0u;
${enumeration}
  tp_store_row(qi, b, h);
}`;
}
