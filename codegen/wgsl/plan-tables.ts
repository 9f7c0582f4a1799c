/**
 * The plan's tables packed into one `array<i32>` storage buffer, so a kernel binds a single table buffer
 * (compatibility-mode devices guarantee only 4 storage buffers per stage), and the host mirror of the
 * closed-form enumeration the kernel does by arithmetic.
 *
 * Packed order: schedule | full offsets | full indices | partial offsets | partial indices | key padding flags.
 * The section starts are compile-time constants of the shader, so the buffer carries no header.
 */
import type { BlockPlan, ClosedForm, Progression } from '../../compiler/plan/plan.js';

/** Where each section of the packed table starts, in i32 elements. */
export interface PlanTableLayout {
  readonly schedule: number;
  readonly fullOffsets: number;
  readonly fullIndices: number;
  readonly partialOffsets: number;
  readonly partialIndices: number;
  readonly keyPadding: number;
  /** Total i32 elements (at least 1: WebGPU rejects empty bindings). */
  readonly length: number;
}

/** Section starts of `plan`'s packed table. */
export function planTableLayout(plan: BlockPlan): PlanTableLayout {
  const schedule = 0;
  const fullOffsets = schedule + plan.numQBlocks;
  const fullIndices = fullOffsets + plan.numQBlocks + 1;
  const partialOffsets = fullIndices + plan.full.indices.length;
  const partialIndices = partialOffsets + plan.numQBlocks + 1;
  const keyPadding = partialIndices + plan.partial.indices.length;
  return {
    schedule,
    fullOffsets,
    fullIndices,
    partialOffsets,
    partialIndices,
    keyPadding,
    length: keyPadding + plan.numKBlocks,
  };
}

/** The packed table of `plan`, laid out by {@link planTableLayout}. */
export function packPlanTables(plan: BlockPlan): Int32Array {
  const at = planTableLayout(plan);
  const data = new Int32Array(Math.max(1, at.length));
  data.set(plan.schedule, at.schedule);
  data.set(plan.full.offsets, at.fullOffsets);
  data.set(plan.full.indices, at.fullIndices);
  data.set(plan.partial.offsets, at.partialOffsets);
  data.set(plan.partial.indices, at.partialIndices);
  data.set(plan.keyBlockHasPadding, at.keyPadding);
  return data;
}

/** True when `x` is one of the progression's terms. */
export function inProgression(p: Progression | null, x: number): boolean {
  if (p === null || p.count <= 0 || x < p.start) return false;
  if (p.stride === 0) return x === p.start;
  const m = (x - p.start) / p.stride;
  return Number.isInteger(m) && m < p.count;
}

/** Does query unit `i` see key unit `j` under a 'units' closed form (the kernel's `tp_unit_visible`)? */
export function unitVisible(form: Extract<ClosedForm, { kind: 'units' }>, i: number, j: number): boolean {
  const d = j - i;
  const inBand = form.band !== null && form.band.lo <= d && d <= form.band.hi;
  return inBand || inProgression(form.keyUnits, j) || inProgression(form.queryUnits, i);
}

/**
 * Key blocks a closed-form kernel visits for query block `qb`, ascending, all treated as full: the host
 * mirror of the WGSL enumeration, used to check the closed form against the CSR table before emitting it.
 */
export function closedFormKeyBlocks(plan: BlockPlan, form: ClosedForm, qb: number): number[] {
  if (form.kind === 'dense') return Array.from({ length: plan.numKBlocks }, (_, kb) => kb);
  const rel = qb - form.firstBlockQ;
  if (rel < 0 || rel >= form.units * form.unitBlocksQ) return [];
  const i = Math.floor(rel / form.unitBlocksQ);
  const blocks: number[] = [];
  for (let j = 0; j < form.units; j++) {
    if (!unitVisible(form, i, j)) continue;
    for (let r = 0; r < form.unitBlocksK; r++) blocks.push(form.firstBlockK + j * form.unitBlocksK + r);
  }
  return blocks;
}

/**
 * Why the closed form cannot replace the CSR table, or null when it can: it must have no partial blocks and
 * visit every full block of the table. Extra blocks are harmless only because the kernel masks padding, so
 * the check is one-sided by design; exactness is the compiler's contract (plan.ts) and is tested there.
 */
export function closedFormMismatch(plan: BlockPlan, form: ClosedForm): string | null {
  if (plan.partial.indices.length > 0)
    return `${plan.partial.indices.length} partial block pairs need the element mask`;
  for (let qb = 0; qb < plan.numQBlocks; qb++) {
    const visited = new Set(closedFormKeyBlocks(plan, form, qb));
    for (let j = plan.full.offsets[qb]!; j < plan.full.offsets[qb + 1]!; j++) {
      const kb = plan.full.indices[j]!;
      if (!visited.has(kb)) return `query block ${qb} misses full key block ${kb}`;
      if (kb >= plan.numKBlocks) return `key block ${kb} is out of range`;
    }
    for (const kb of visited)
      if (kb < 0 || kb >= plan.numKBlocks)
        return `query block ${qb} enumerates key block ${kb}, out of range`;
  }
  return null;
}
