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
