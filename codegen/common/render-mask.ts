/**
 * Emit the element mask of a pattern instance as target code, once for every C-like target:
 *
 *   struct TpToken { seg, c0, c1, ... }          seg: 0 padding, 1 video, 2 text; c<i> per layout axis
 *   TpToken tp_decode(int i)                      the layout's index -> coordinates map (layout.ts)
 *   bool tp_allowed(TpToken q, TpToken k)         real(q) && real(k) && predicate
 *
 * Kernels decode each query row and each key column once and call `tp_allowed` only inside partial blocks.
 * The decode arithmetic works on non-negative indices, so native `/` and `%` are exact there.
 */
import type { PatternInstance, Side } from '../../compiler/ir.js';
import type { ConcreteLayout } from '../../compiler/layout.js';
import type { Dialect } from './dialect.js';
import { type ExprNames, renderBool } from './render-expr.js';

/** Segment codes stored in `TpToken.seg`. */
export const SEGMENT_CODE = { padding: 0, video: 1, text: 2 } as const;

/** Names of the emitted mask symbols, so kernels and tests refer to one spelling. */
export const MASK_SYMBOLS = { token: 'TpToken', decode: 'tp_decode', allowed: 'tp_allowed' } as const;

function fieldNames(layout: ConcreteLayout): string[] {
  return ['seg', ...layout.axisNames.map((_, i) => `c${i}`)];
}

/** The statements of `tp_decode`, one per line, without the header and closing brace. */
function decodeBody(layout: ConcreteLayout, d: Dialect): string[] {
  const lit = (v: number) => d.intLiteral(v);
  const fields = fieldNames(layout);
  const zeros = fields.map(() => lit(0));
  const padding = `return ${d.structValue(MASK_SYMBOLS.token, zeros)};`;
  const nv = layout.videoAxes.length;
  const lines: string[] = [];
  if (layout.textSlots > 0) {
    const end = layout.textStart + layout.textSlots;
    lines.push(`if (i >= ${lit(layout.textStart)} && i < ${lit(end)}) {`);
    lines.push(`  if (i - ${lit(layout.textStart)} >= ${lit(layout.textLength)}) { ${padding} }`);
    const textFields = fields.map((_, f) =>
      f === 0 ? lit(SEGMENT_CODE.text) : f === nv + 1 ? `i - ${lit(layout.textStart)}` : lit(0),
    );
    lines.push(`  return ${d.structValue(MASK_SYMBOLS.token, textFields)};`);
    lines.push('}');
  }
  const videoEnd = layout.videoStart + layout.unitCount * layout.unitSlot;
  lines.push(`if (i < ${lit(layout.videoStart)} || i >= ${lit(videoEnd)}) { ${padding} }`);
  lines.push(d.declare('o', d.intType, `i - ${lit(layout.videoStart)}`, false));
  lines.push(d.declare('unit', d.intType, d.intDiv('o', lit(layout.unitSlot)), true));
  lines.push(d.declare('inner', d.intType, `o - unit * ${lit(layout.unitSlot)}`, true));
  if (layout.unitSlot !== layout.unitTokens)
    lines.push(`if (inner >= ${lit(layout.unitTokens)}) { ${padding} }`);
  // Innermost axis first: peel the tile offset and the grid position, as decodeToken does.
  for (let a = nv - 1; a >= 0; a--) {
    const g = layout.grid[a]!;
    const t = layout.tile[a]!;
    lines.push(d.declare(`v${a}`, d.intType, `(unit % ${lit(g)}) * ${lit(t)} + inner % ${lit(t)}`, false));
    if (g * t !== layout.videoSizes[a])
      lines.push(`if (v${a} >= ${lit(layout.videoSizes[a]!)}) { ${padding} }`);
    if (a > 0) {
      lines.push(`unit = ${d.intDiv('unit', lit(g))};`);
      lines.push(`inner = ${d.intDiv('inner', lit(t))};`);
    }
  }
  const videoFields = fields.map((_, f) =>
    f === 0 ? lit(SEGMENT_CODE.video) : f <= nv ? `v${f - 1}` : lit(0),
  );
  lines.push(`return ${d.structValue(MASK_SYMBOLS.token, videoFields)};`);
  return lines;
}

/** How the predicate reads a decoded token `q` or `k`: coordinate `c<axis>`, segment code `seg`. */
export function tokenExprNames(d: Dialect): ExprNames {
  return {
    coord: (side: Side, axis: number) => `${side}.c${axis}`,
    segment: (side: Side, segment: 'video' | 'text') =>
      `(${side}.seg == ${d.intLiteral(SEGMENT_CODE[segment])})`,
  };
}

/** Target source for `TpToken` and `tp_decode` of a pattern instance's layout (no trailing blank line). */
export function renderTokenFunctions(pattern: PatternInstance, d: Dialect, indent = '  '): string {
  const layout = pattern.layout;
  const out: string[] = [];
  out.push(d.struct(MASK_SYMBOLS.token, fieldNames(layout)));
  out.push('');
  out.push(`// Token index -> segment and coordinates for layout ${layout.name} (${layout.length} tokens).`);
  out.push(d.functionHeader(MASK_SYMBOLS.decode, [{ name: 'i', type: d.intType }], MASK_SYMBOLS.token));
  for (const line of decodeBody(layout, d)) out.push(indent + line);
  out.push('}');
  return out.join('\n');
}

/** Target source for `TpToken`, `tp_decode` and `tp_allowed` of a pattern instance. */
export function renderMaskFunctions(pattern: PatternInstance, d: Dialect, indent = '  '): string {
  const out = [renderTokenFunctions(pattern, d, indent), ''];
  out.push(`// allowed(q, k) of pattern ${pattern.key}; padding tokens are never allowed.`);
  const params = [
    { name: 'q', type: MASK_SYMBOLS.token },
    { name: 'k', type: MASK_SYMBOLS.token },
  ];
  out.push(d.functionHeader(MASK_SYMBOLS.allowed, params, d.boolType));
  out.push(
    `${indent}return q.seg != 0 && k.seg != 0 && ${renderBool(pattern.predicate, d, tokenExprNames(d))};`,
  );
  out.push('}');
  return out.join('\n');
}
