/**
 * A pattern as Python: `tp_decode(i, ops)` (the layout's index -> segment and coordinates map, as `layout.ts`
 * defines it), `pattern_allows(q_idx, kv_idx, ops)` (the element mask, rendered from the IR through the Python
 * dialect of the neutral renderer) and FlexAttention's `mask_mod(b, h, q_idx, kv_idx)`, which runs the same
 * function on index tensors. With the default `ops=INT_OPS` everything is plain Python over ints, so the
 * predicate can be checked without torch; `mask_mod` passes `TORCH_OPS`. Integer ops keep the IR's floor
 * semantics.
 */
import type { PatternInstance } from '../../compiler/ir.js';
import type { ConcreteLayout } from '../../compiler/layout.js';
import { renderBool } from '../common/render-expr.js';
import { SEGMENT_CODE } from '../common/render-mask.js';
import { PYTHON_DIALECT, PYTHON_OPS } from './python-dialect.js';

/** `tp_decode` of a layout: its tuple is (segment, coordinate per axis). */
function decodeFunction(layout: ConcreteLayout): string {
  const nv = layout.videoAxes.length;
  const axes = layout.axisNames.length;
  const coords = Array.from({ length: axes }, (_, a) => `c${a}`);
  const L = [
    'def tp_decode(i, ops=INT_OPS):',
    `    """Layout index -> (segment: 0 padding, 1 video, 2 text; then ${layout.axisNames.join(', ')})."""`,
    `    o = i - ${layout.videoStart}`,
    `    unit = o // ${layout.unitSlot}`,
    `    inner = o - unit * ${layout.unitSlot}`,
    `    real = (o >= 0) & (unit < ${layout.unitCount}) & (inner < ${layout.unitTokens})`,
  ];
  // Innermost axis first: peel the tile offset and the grid position, as decodeToken does.
  for (let a = nv - 1; a >= 0; a--) {
    const g = layout.grid[a]!;
    const t = layout.tile[a]!;
    L.push(`    c${a} = (unit % ${g}) * ${t} + inner % ${t}`);
    if (g * t !== layout.videoSizes[a]) L.push(`    real = real & (c${a} < ${layout.videoSizes[a]!})`);
    if (a > 0) L.push(`    unit = unit // ${g}`, `    inner = inner // ${t}`);
  }
  L.push(`    seg = ops.where(real, ${SEGMENT_CODE.video}, ${SEGMENT_CODE.padding})`);
  if (layout.textSlots > 0) {
    L.push(
      `    t_off = i - ${layout.textStart}`,
      `    in_text = (t_off >= 0) & (t_off < ${layout.textSlots})`,
      `    seg = ops.where(in_text, ops.where(t_off < ${layout.textLength}, ${SEGMENT_CODE.text}, ${SEGMENT_CODE.padding}), seg)`,
    );
    for (let a = 0; a < nv; a++) L.push(`    c${a} = ops.where(in_text, 0, c${a})`);
    L.push(`    c${nv} = ops.where(in_text, t_off, 0)`);
  }
  L.push(`    return (seg, ${coords.join(', ')})`);
  return L.join('\n');
}

/** The names the Python predicate reads: token tuples `q` and `k`, segment first. */
const PYTHON_NAMES = {
  coord: (side: 'q' | 'k', axis: number) => `${side}[${axis + 1}]`,
  segment: (side: 'q' | 'k', segment: 'video' | 'text') => `(${side}[0] == ${SEGMENT_CODE[segment]})`,
};

/**
 * Python defining `INT_OPS`, `TORCH_OPS`, `tp_decode`, `pattern_allows` and `mask_mod` for a pattern. Importing
 * it needs no torch; `mask_mod` needs torch when called.
 */
export function renderFlexMaskMod(pattern: PatternInstance): string {
  const predicate = renderBool(pattern.predicate, PYTHON_DIALECT, PYTHON_NAMES);
  return `${PYTHON_OPS}


${decodeFunction(pattern.layout)}


def pattern_allows(q_idx, kv_idx, ops=INT_OPS):
    """allowed(q, k) of ${pattern.key} on layout indices; padding is never allowed."""
    q = tp_decode(q_idx, ops)
    k = tp_decode(kv_idx, ops)
    return (q[0] != 0) & (k[0] != 0) & ${predicate}


def mask_mod(b, h, q_idx, kv_idx):
    """FlexAttention's mask_mod: pattern_allows on index tensors (the same for every batch and head)."""
    return pattern_allows(q_idx, kv_idx, TORCH_OPS)
`;
}

/**
 * Python for per-head patterns on one layout: `INT_OPS`, `TORCH_OPS`, `tp_decode`, a `group_allows_<g>` per
 * distinct pattern, `HEAD_GROUP` (each head's group), `pattern_allows(q_idx, kv_idx, ops, head)` and a
 * `mask_mod(b, h, q_idx, kv_idx)` that picks head h's pattern (its H dimension).
 */
export function renderFlexHeadsMaskMod(
  groups: readonly PatternInstance[],
  headGroup: readonly number[],
): string {
  const functions = groups.map((pattern, g) => {
    const predicate = renderBool(pattern.predicate, PYTHON_DIALECT, PYTHON_NAMES);
    return `def group_allows_${g}(q, k, ops=INT_OPS):
    """allowed(q, k) of ${pattern.key} on decoded tokens (heads ${headList(headGroup, g)})."""
    return ${predicate}`;
  });
  // Every group's predicate, then head h's: a select chain over range tests of the head. Arithmetic on the head
  // only (no lookup table): a tensor made inside mask_mod breaks torch.compile's trace, and FlexAttention then
  // falls back to its dense reference path (H x S x S scores).
  let select = `group_allows_${groups.length - 1}(q, k, ops)`;
  for (let g = groups.length - 2; g >= 0; g--)
    select = `ops.where(${headTest(headGroup, g)}, group_allows_${g}(q, k, ops), ${select})`;
  return `${PYTHON_OPS}


${decodeFunction(groups[0]!.layout)}


${functions.join('\n\n\n')}


HEAD_GROUP = (${headGroup.join(', ')}${headGroup.length === 1 ? ',' : ''})  # the pattern group of every head


def pattern_allows(q_idx, kv_idx, ops=INT_OPS, head=0):
    """allowed(q, k) of head \`head\` on layout indices (an int, or with TORCH_OPS a tensor); padding never."""
    q = tp_decode(q_idx, ops)
    k = tp_decode(kv_idx, ops)
    return (q[0] != 0) & (k[0] != 0) & ${select}


def mask_mod(b, h, q_idx, kv_idx):
    """FlexAttention's mask_mod: head h's pattern on index tensors (the same for every batch)."""
    return pattern_allows(q_idx, kv_idx, TORCH_OPS, h)
`;
}

/** The heads of group `g` as runs of adjacent heads, [first, last]. */
function headRuns(headGroup: readonly number[], g: number): [number, number][] {
  const runs: [number, number][] = [];
  for (let h = 0; h < headGroup.length; h++) {
    if (headGroup[h] !== g) continue;
    let last = h;
    while (headGroup[last + 1] === g) last++;
    runs.push([h, last]);
    h = last;
  }
  return runs;
}

/** The heads of group `g`, as runs: `0-11, 16`. */
function headList(headGroup: readonly number[], g: number): string {
  return headRuns(headGroup, g)
    .map(([first, last]) => (first === last ? `${first}` : `${first}-${last}`))
    .join(', ');
}

/** Python that is true where `head` (an int, or a head tensor) is in group `g`: range tests joined by `|`. */
function headTest(headGroup: readonly number[], g: number): string {
  const tests = headRuns(headGroup, g).map(([first, last]) =>
    first === last ? `(head == ${first})` : `((head >= ${first}) & (head <= ${last}))`,
  );
  return tests.length === 1 ? tests[0]! : `(${tests.join(' | ')})`;
}
