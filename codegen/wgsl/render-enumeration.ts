/**
 * How a kernel walks the key blocks of its query block `qb`: the plan's CSR tables (full blocks, then
 * partial ones), or the closed form enumerated by arithmetic with no table reads besides the padding flags.
 */
import type { ClosedForm, Progression } from '../../compiler/plan/plan.js';
import { WGSL_DIALECT } from './dialect.js';

const lit = WGSL_DIALECT.intLiteral;

/**
 * Walk the CSR tables: full blocks without the element mask, then partial blocks with it. One loop, so the
 * key-block walk is inlined once: llvmpipe's compile time grows with every inlined copy.
 */
export function renderCsrEnumeration(): string {
  return `  let fullBegin = tables[kFullOffsetsAt + qb];
  let fullCount = tables[kFullOffsetsAt + qb + 1i] - fullBegin;
  let partialBegin = tables[kPartialOffsetsAt + qb] - fullCount;
  let count = fullCount + tables[kPartialOffsetsAt + qb + 1i] - tables[kPartialOffsetsAt + qb];
  for (var j = 0i; j < count; j++) {
    let partial = j >= fullCount;
    var kb: i32;
    if (partial) {
      kb = tables[kPartialIndicesAt + partialBegin + j];
    } else {
      kb = tables[kFullIndicesAt + fullBegin + j];
    }
    visit = tp_visit(visit, kb, partial);
  }`;
}

function renderProgressionTest(x: string, p: Progression | null): string {
  if (p === null || p.count <= 0) return 'false';
  return `tp_in_progression(${x}, ${lit(p.start)}, ${lit(p.stride)}, ${lit(p.count)})`;
}

/** Helper functions the closed form needs (module scope), or '' for a dense closed form. */
export function renderClosedFormHelpers(form: ClosedForm): string {
  if (form.kind === 'dense') return '';
  const band =
    form.band === null ? 'false' : `(j - i >= ${lit(form.band.lo)} && j - i <= ${lit(form.band.hi)})`;
  return `// x in { start + m * stride : m < count }
fn tp_in_progression(x: i32, start: i32, stride: i32, count: i32) -> bool {
  if (x < start || count <= 0i) {
    return false;
  }
  if (stride == 0i) {
    return x == start;
  }
  return (x - start) % stride == 0i && (x - start) / stride < count;
}

// Does query unit i see key unit j? (band, key units everyone sees, query units that see everything)
fn tp_unit_visible(i: i32, j: i32) -> bool {
  return ${band} || ${renderProgressionTest('j', form.keyUnits)} || ${renderProgressionTest('i', form.queryUnits)};
}`;
}

/** Walk the closed form: every enumerated block is full (the plan guarantees it when it emits one). */
export function renderClosedFormEnumeration(form: ClosedForm): string {
  if (form.kind === 'dense') {
    return `  for (var kb = 0i; kb < kNumKBlocks; kb++) {
    visit = tp_visit(visit, kb, false);
  }`;
  }
  return `  let unitRel = qb - ${lit(form.firstBlockQ)};
  if (unitRel >= 0i && unitRel < ${lit(form.units * form.unitBlocksQ)}) {
    let i = unitRel / ${lit(form.unitBlocksQ)};
    for (var j = 0i; j < ${lit(form.units)}; j++) {
      if (tp_unit_visible(i, j)) {
        for (var r = 0i; r < ${lit(form.unitBlocksK)}; r++) {
          visit = tp_visit(visit, ${lit(form.firstBlockK)} + j * ${lit(form.unitBlocksK)} + r, false);
        }
      }
    }
  }`;
}
