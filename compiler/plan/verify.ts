/**
 * Invariants of a block plan, checked after every pass in tests (and by `--verify`): the CSR tables are
 * well-formed, full and partial are disjoint, padding flags and statistics agree with the layout, the
 * schedule is a work-ordered permutation, and the closed form enumerates exactly the CSR union.
 * Returns human-readable violations; an empty list means the plan is sound.
 */
import { realTokensPerBlock } from '../classify/boxes.js';
import { enumerateClosedFormKeyBlocks } from './closed-form.js';
import { type BlockCsr, type BlockPlan, queryBlockWork } from './plan.js';

/** Structural checks of one CSR table. */
function checkCsr(name: string, csr: BlockCsr, rows: number, cols: number, problems: string[]): void {
  const { offsets, indices } = csr;
  if (offsets.length !== rows + 1) {
    problems.push(`${name}: offsets has ${offsets.length} entries, expected ${rows + 1}`);
    return;
  }
  if (offsets[0] !== 0) problems.push(`${name}: offsets[0] is ${offsets[0]}, expected 0`);
  if (offsets[rows] !== indices.length)
    problems.push(`${name}: offsets[${rows}] is ${offsets[rows]}, indices has ${indices.length}`);
  for (let r = 0; r < rows; r++) {
    const a = offsets[r]!;
    const b = offsets[r + 1]!;
    if (b < a) {
      problems.push(`${name}: offsets decrease at row ${r}`);
      continue;
    }
    for (let m = a; m < b; m++) {
      const v = indices[m]!;
      if (v < 0 || v >= cols) problems.push(`${name}: row ${r} lists key block ${v}, out of [0, ${cols})`);
      if (m > a && v <= indices[m - 1]!)
        problems.push(`${name}: row ${r} is not strictly ascending at position ${m - a}`);
    }
  }
}

/** Row `r` of a CSR table as a list. */
function row(csr: BlockCsr, r: number): Int32Array {
  return csr.indices.subarray(csr.offsets[r] ?? 0, csr.offsets[r + 1] ?? 0);
}

/** Check every invariant of a plan; returns the violations found (empty when sound). */
export function verifyPlan(plan: BlockPlan): string[] {
  const problems: string[] = [];
  const { numQBlocks: nq, numKBlocks: nk, blockQ, blockK, pattern } = plan;
  const layout = pattern.layout;
  if (plan.seqLen !== layout.length)
    problems.push(`seqLen ${plan.seqLen} differs from the layout length ${layout.length}`);
  if (nq !== Math.ceil(plan.seqLen / blockQ) || nk !== Math.ceil(plan.seqLen / blockK))
    problems.push('block counts do not match seqLen and block sizes');
  if (plan.key !== `${pattern.key}_b${blockQ}x${blockK}`)
    problems.push(`key ${plan.key} does not name the pattern and block sizes`);
  checkCsr('full', plan.full, nq, nk, problems);
  checkCsr('partial', plan.partial, nq, nk, problems);
  if (problems.length > 0) return problems;

  const realQ = realTokensPerBlock(layout, blockQ);
  const realK = realTokensPerBlock(layout, blockK);
  const flagCheck = (name: string, flags: Uint8Array, real: Int32Array, size: number): void => {
    if (flags.length !== real.length)
      return void problems.push(`${name} has ${flags.length} entries, expected ${real.length}`);
    for (let b = 0; b < real.length; b++) {
      const expected = real[b]! < Math.min(size, plan.seqLen - b * size) ? 1 : 0;
      if (flags[b] !== expected) problems.push(`${name}[${b}] is ${flags[b]}, expected ${expected}`);
    }
  };
  flagCheck('queryBlockHasPadding', plan.queryBlockHasPadding, realQ, blockQ);
  flagCheck('keyBlockHasPadding', plan.keyBlockHasPadding, realK, blockK);

  let minAllowed = 0;
  let maxAllowed = 0;
  for (let qb = 0; qb < nq; qb++) {
    const fullRow = row(plan.full, qb);
    const partialRow = new Set(row(plan.partial, qb));
    for (const kb of fullRow) {
      if (partialRow.has(kb)) problems.push(`block pair (${qb}, ${kb}) is both full and partial`);
      const pairs = realQ[qb]! * (realK[kb] ?? 0);
      if (pairs === 0) problems.push(`full block pair (${qb}, ${kb}) holds no real token pair`);
      minAllowed += pairs;
      maxAllowed += pairs;
    }
    for (const kb of partialRow) {
      const pairs = realQ[qb]! * (realK[kb] ?? 0);
      if (pairs < 2)
        problems.push(`partial block pair (${qb}, ${kb}) holds ${pairs} real token pairs, cannot be mixed`);
      minAllowed += 1;
      maxAllowed += pairs - 1;
    }
  }

  const order = plan.schedule;
  const seen = new Uint8Array(nq);
  const work = (qb: number): number => queryBlockWork(plan, qb);
  if (order.length !== nq) problems.push(`schedule has ${order.length} entries, expected ${nq}`);
  for (let m = 0; m < order.length; m++) {
    const qb = order[m]!;
    if (qb < 0 || qb >= nq || seen[qb]) {
      problems.push(`schedule entry ${m} (${qb}) is out of range or repeated`);
      continue;
    }
    seen[qb] = 1;
    if (m > 0 && work(order[m - 1]!) < work(qb))
      problems.push(`schedule is not ordered by descending work at entry ${m}`);
  }

  const { stats } = plan;
  const total = nq * nk;
  const fullCount = plan.full.indices.length;
  const partialCount = plan.partial.indices.length;
  if (stats.full !== fullCount || stats.partial !== partialCount)
    problems.push('stats full/partial differ from the CSR tables');
  if (stats.total !== total || stats.empty !== total - fullCount - partialCount)
    problems.push('stats total/empty are inconsistent');
  if (stats.sparsity !== stats.empty / total) problems.push('stats sparsity is not empty / total');
  if (stats.realTokens !== realQ.reduce((s, x) => s + x, 0))
    problems.push('stats realTokens differs from the layout');
  if (stats.allowedPairs < minAllowed || stats.allowedPairs > maxAllowed) {
    problems.push(
      `stats allowedPairs ${stats.allowedPairs} outside [${minAllowed}, ${maxAllowed}] implied by the classes`,
    );
  }

  if (plan.closedForm) {
    if (partialCount > 0) problems.push('a closed form is given but the plan has partial blocks');
    for (let qb = 0; qb < nq; qb++) {
      const listed = enumerateClosedFormKeyBlocks(plan.closedForm, plan, qb);
      const union = [...row(plan.full, qb), ...row(plan.partial, qb)].sort((a, b) => a - b);
      if (listed.length !== union.length || listed.some((kb, m) => kb !== union[m])) {
        problems.push(`closed form enumerates other key blocks than the CSR tables for query block ${qb}`);
      }
    }
  }
  return problems;
}
