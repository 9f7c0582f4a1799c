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
import { add, div, type IndexExpr, lit, mod, mul, readsOf, ref, renderIndex, sub } from './index-expr.js';
import { type ExprNames, renderBool } from './render-expr.js';

/** Segment codes stored in `TpToken.seg`. */
export const SEGMENT_CODE = { padding: 0, video: 1, text: 2 } as const;

/** Names of the emitted mask symbols, so kernels and tests refer to one spelling. */
export const MASK_SYMBOLS = { token: 'TpToken', decode: 'tp_decode', allowed: 'tp_allowed' } as const;

function fieldNames(layout: ConcreteLayout): string[] {
  return ['seg', ...layout.axisNames.map((_, i) => `c${i}`)];
}

/** One statement of the video decode: a local, an update of one, or a padding test `x >= bound`. */
type DecodeStep =
  | { readonly kind: 'let' | 'set'; readonly name: string; readonly expr: IndexExpr }
  | { readonly kind: 'padIf'; readonly x: IndexExpr; readonly bound: number };

/**
 * The video part of the decode (innermost axis first: peel the tile offset and the grid position, as
 * decodeToken does) as straight-line steps over `o`, the index inside the video segment. Updates nobody reads
 * afterwards are dropped, and a local with no update left is declared immutable.
 */
function videoDecodeSteps(layout: ConcreteLayout, o: IndexExpr): DecodeStep[] {
  const nv = layout.videoAxes.length;
  const unit = ref('unit');
  const inner = ref('inner');
  const steps: DecodeStep[] = [
    { kind: 'let', name: 'unit', expr: div(o, lit(layout.unitSlot)) },
    { kind: 'let', name: 'inner', expr: sub(o, mul(unit, lit(layout.unitSlot))) },
  ];
  if (layout.unitSlot !== layout.unitTokens)
    steps.push({ kind: 'padIf', x: inner, bound: layout.unitTokens });
  for (let a = nv - 1; a >= 0; a--) {
    const g = lit(layout.grid[a]!);
    const t = lit(layout.tile[a]!);
    steps.push({ kind: 'let', name: `v${a}`, expr: add(mul(mod(unit, g), t), mod(inner, t)) });
    if (layout.grid[a]! * layout.tile[a]! !== layout.videoSizes[a])
      steps.push({ kind: 'padIf', x: ref(`v${a}`), bound: layout.videoSizes[a]! });
    if (a > 0) {
      steps.push(
        { kind: 'set', name: 'unit', expr: div(unit, g) },
        { kind: 'set', name: 'inner', expr: div(inner, t) },
      );
    }
  }
  // Backwards: keep an update only if a later step (or the returned coordinates) reads the name before it is
  // written again; `x = x` (a division by 1) is no update at all.
  const live = new Set(Array.from({ length: nv }, (_, a) => `v${a}`));
  const kept: DecodeStep[] = [];
  for (const step of steps.reverse()) {
    if (step.kind === 'padIf') {
      for (const name of readsOf(step.x)) live.add(name);
    } else {
      const noop = step.kind === 'set' && step.expr.op === 'var' && step.expr.name === step.name;
      if (!live.has(step.name) || noop) continue;
      live.delete(step.name);
      for (const name of readsOf(step.expr)) live.add(name);
    }
    kept.push(step);
  }
  return kept.reverse();
}

/** The statements of `tp_decode`, one per line, without the header and closing brace. */
function decodeBody(layout: ConcreteLayout, d: Dialect): string[] {
  const num = (v: number) => d.intLiteral(v);
  const text = (e: IndexExpr) => renderIndex(e, d);
  const i = ref('i');
  const fields = fieldNames(layout);
  const zeros = fields.map(() => num(0));
  const padding = `return ${d.structValue(MASK_SYMBOLS.token, zeros)};`;
  const nv = layout.videoAxes.length;
  const lines: string[] = [];
  if (layout.textSlots > 0) {
    const end = layout.textStart + layout.textSlots;
    const position = sub(i, lit(layout.textStart));
    lines.push(`if (i >= ${num(layout.textStart)} && i < ${num(end)}) {`);
    lines.push(`  if (${text(position)} >= ${num(layout.textLength)}) { ${padding} }`);
    const textFields = fields.map((_, f) =>
      f === 0 ? num(SEGMENT_CODE.text) : f === nv + 1 ? text(position) : num(0),
    );
    lines.push(`  return ${d.structValue(MASK_SYMBOLS.token, textFields)};`);
    lines.push('}');
  }
  const videoEnd = layout.videoStart + layout.unitCount * layout.unitSlot;
  lines.push(`if (i < ${num(layout.videoStart)} || i >= ${num(videoEnd)}) { ${padding} }`);
  // The index inside the video segment: `i` itself when the segment starts at 0.
  let o = sub(i, lit(layout.videoStart));
  if (o.op !== 'var') {
    lines.push(d.declare('o', d.intType, text(o), false));
    o = ref('o');
  }
  const steps = videoDecodeSteps(layout, o);
  const updated = new Set(steps.flatMap((s) => (s.kind === 'set' ? [s.name] : [])));
  for (const step of steps) {
    if (step.kind === 'padIf') lines.push(`if (${text(step.x)} >= ${num(step.bound)}) { ${padding} }`);
    else if (step.kind === 'let')
      lines.push(d.declare(step.name, d.intType, text(step.expr), updated.has(step.name)));
    else lines.push(`${step.name} = ${text(step.expr)};`);
  }
  const videoFields = fields.map((_, f) =>
    f === 0 ? num(SEGMENT_CODE.video) : f <= nv ? `v${f - 1}` : num(0),
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
