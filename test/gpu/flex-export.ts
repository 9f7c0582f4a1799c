/**
 * Export a plan as FlexAttention inputs: the block tables in FlexAttention's layout (kv_num_blocks /
 * kv_indices for partial blocks, full_kv_num_blocks / full_kv_indices for full ones, [1, 1, nq(, nk)]) and
 * the pattern's `mask_mod` module, so the Python side runs FlexAttention on exactly our mask.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderFlexMaskMod } from '../../codegen/cuda/flex-mask-mod.js';
import type { BlockCsr, BlockPlan } from '../../compiler/plan.js';
import { writeNpy } from './npy.js';

function flexTables(csr: BlockCsr, nq: number, nk: number): { counts: Int32Array; indices: Int32Array } {
  const counts = new Int32Array(nq);
  const indices = new Int32Array(nq * nk);
  for (let qb = 0; qb < nq; qb++) {
    const start = csr.offsets[qb]!;
    const end = csr.offsets[qb + 1]!;
    counts[qb] = end - start;
    for (let j = start; j < end; j++) indices[qb * nk + (j - start)] = csr.indices[j]!;
  }
  return { counts, indices };
}

/**
 * Write `<prefix>.kv_num_blocks.npy`, `.kv_indices.npy`, `.full_kv_num_blocks.npy`, `.full_kv_indices.npy` and
 * `<prefix>.mask_mod.py` into `dir`. FlexAttention skips mask_mod on full blocks, so full blocks that hold
 * padding tokens are exported as partial ones (mask_mod masks padding).
 */
export function exportFlexBlockMask(plan: BlockPlan, dir: string, prefix: string): void {
  const nq = plan.numQBlocks;
  const nk = plan.numKBlocks;
  // Move full blocks whose keys include padding into the partial list: Flex only masks partial blocks.
  const full: number[][] = [];
  const partial: number[][] = [];
  for (let qb = 0; qb < nq; qb++) {
    const f: number[] = [];
    const p: number[] = [];
    for (let j = plan.full.offsets[qb]!; j < plan.full.offsets[qb + 1]!; j++) {
      const kb = plan.full.indices[j]!;
      (plan.keyBlockHasPadding[kb] || plan.queryBlockHasPadding[qb] ? p : f).push(kb);
    }
    for (let j = plan.partial.offsets[qb]!; j < plan.partial.offsets[qb + 1]!; j++)
      p.push(plan.partial.indices[j]!);
    full.push(f);
    partial.push(p.sort((a, b) => a - b));
  }
  const toCsr = (rows: number[][]): BlockCsr => {
    const offsets = new Int32Array(nq + 1);
    rows.forEach((r, i) => {
      offsets[i + 1] = offsets[i]! + r.length;
    });
    return { offsets, indices: Int32Array.from(rows.flat()) };
  };
  const p = flexTables(toCsr(partial), nq, nk);
  const f = flexTables(toCsr(full), nq, nk);
  writeNpy(join(dir, `${prefix}.kv_num_blocks.npy`), p.counts, [1, 1, nq]);
  writeNpy(join(dir, `${prefix}.kv_indices.npy`), p.indices, [1, 1, nq, nk]);
  writeNpy(join(dir, `${prefix}.full_kv_num_blocks.npy`), f.counts, [1, 1, nq]);
  writeNpy(join(dir, `${prefix}.full_kv_indices.npy`), f.indices, [1, 1, nq, nk]);
  writeFileSync(join(dir, `${prefix}.mask_mod.py`), renderFlexMaskMod(plan.pattern));
}
