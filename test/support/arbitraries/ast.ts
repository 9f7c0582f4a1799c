/**
 * fast-check arbitraries for the pattern language: random ASTs (syntactically printable, not necessarily
 * well-typed) for formatter round trips, and random pattern IR for folding properties. Ranges are dummies;
 * compare with {@link stripRanges}.
 */
import fc from 'fast-check';
import type { BoolExpr, CmpOp, IntExpr } from '../../../compiler/ir.js';
import type {
  BinaryOp,
  Expr,
  FnDecl,
  Identifier,
  LayoutDecl,
  LayoutItem,
  LetDecl,
  PatternDecl,
  PatternItem,
  TileFile,
  TopLevelItem,
  TypeAnnotation,
} from '../../../dsl/ast.js';
import { START_OF_FILE } from '../../../dsl/source.js';
import { smallExponent } from './ir.js';

/** Property-test intensity: `TESSERA_TEST_RUNS` (CI default keeps each file well under 20 s). */
export function testRuns(fallback = 100): number {
  const v = Number(process.env.TESSERA_TEST_RUNS);
  return Number.isFinite(v) && v > 0 ? Math.floor(v) : fallback;
}

const R = START_OF_FILE;

/** Names that are never keywords or reserved words. */
const NAMES = ['a', 'b', 't', 'h', 'w', 'l', 'stride', 'x1', '_y', 'frame', 'tile', 'before', 'int', 'bool'];

const identifier: fc.Arbitrary<Identifier> = fc
  .constantFrom(...NAMES)
  .map((name) => ({ kind: 'Identifier', name, range: R }));
const typeAnnotation: fc.Arbitrary<TypeAnnotation> = fc
  .constantFrom('int' as const, 'bool' as const)
  .map((name) => ({ kind: 'TypeAnnotation', name, range: R }));
const BINARY_OPS: BinaryOp[] = ['||', '&&', '==', '!=', '<', '<=', '>', '>=', '+', '-', '*', '/', '%'];

const leaf: fc.Arbitrary<Expr> = fc.oneof(
  fc.integer({ min: 0, max: 2 ** 31 - 1 }).map((value): Expr => ({ kind: 'IntLiteral', value, range: R })),
  fc.boolean().map((value): Expr => ({ kind: 'BoolLiteral', value, range: R })),
  identifier.map((name): Expr => ({ kind: 'NameRef', name, range: R })),
  fc
    .tuple(fc.constantFrom('q' as const, 'k' as const), identifier)
    .map(([side, axis]): Expr => ({ kind: 'CoordRef', side, axis, range: R })),
  fc
    .tuple(fc.constantFrom('q' as const, 'k' as const), fc.constantFrom('video' as const, 'text' as const))
    .map(([side, segment]): Expr => ({ kind: 'SegmentTest', side, segment, range: R })),
);

const exprByDepth: fc.Arbitrary<Expr>[] = [leaf];

/** Random expressions at most `depth` levels deep. */
export function exprArb(depth: number): fc.Arbitrary<Expr> {
  for (let d = exprByDepth.length; d <= depth; d++) {
    const sub = exprByDepth[d - 1]!;
    exprByDepth.push(
      fc.oneof(
        { weight: 2, arbitrary: leaf },
        {
          weight: 1,
          arbitrary: fc
            .tuple(fc.constantFrom('-' as const, '!' as const), sub)
            .map(([op, operand]): Expr => ({ kind: 'UnaryExpr', op, operand, range: R })),
        },
        {
          weight: 4,
          arbitrary: fc
            .tuple(fc.constantFrom(...BINARY_OPS), sub, sub)
            .map(([op, left, right]): Expr => ({ kind: 'BinaryExpr', op, left, right, range: R })),
        },
        {
          weight: 1,
          arbitrary: fc
            .tuple(
              fc.constantFrom('min', 'max', 'abs', 'clamp', 'ceildiv', 'log2', 'pow2', 'f'),
              fc.array(sub, { maxLength: 3 }),
            )
            .map(
              ([name, args]): Expr => ({
                kind: 'CallExpr',
                callee: { kind: 'Identifier', name, range: R },
                args,
                range: R,
              }),
            ),
        },
        {
          weight: 1,
          arbitrary: fc.tuple(sub, sub, sub).map(
            ([condition, then, otherwise]): Expr => ({
              kind: 'IfExpr',
              condition,
              then,
              otherwise,
              range: R,
            }),
          ),
        },
        {
          weight: 1,
          arbitrary: fc.tuple(sub, sub, sub, fc.boolean()).map(
            ([value, low, high, inclusive]): Expr => ({
              kind: 'RangeTest',
              value,
              low,
              high,
              inclusive,
              range: R,
            }),
          ),
        },
        {
          weight: 1,
          arbitrary: fc
            .tuple(sub, fc.array(sub, { maxLength: 3 }))
            .map(([value, members]): Expr => ({ kind: 'SetTest', value, members, range: R })),
        },
        { weight: 1, arbitrary: sub.map((inner): Expr => ({ kind: 'ParenExpr', inner, range: R })) },
      ),
    );
  }
  return exprByDepth[depth]!;
}

const expr = exprArb(4);
const message = fc.string({ maxLength: 12 }).map((s) => s.replace(/[\r]/g, ''));

const letDecl: fc.Arbitrary<LetDecl> = fc
  .tuple(identifier, fc.option(typeAnnotation, { nil: undefined }), expr)
  .map(([name, type, value]) => ({ kind: 'LetDecl', name, ...(type ? { type } : {}), value, range: R }));

const fnDecl: fc.Arbitrary<FnDecl> = fc
  .tuple(
    identifier,
    fc.array(fc.tuple(identifier, fc.option(typeAnnotation, { nil: undefined })), { maxLength: 3 }),
    fc.option(typeAnnotation, { nil: undefined }),
    expr,
  )
  .map(([name, params, returnType, body]) => ({
    kind: 'FnDecl',
    name,
    params: params.map(([n, type]) => ({ kind: 'FnParam', name: n, ...(type ? { type } : {}), range: R })),
    ...(returnType ? { returnType } : {}),
    body,
    range: R,
  }));

const patternItem: fc.Arbitrary<PatternItem> = fc.oneof(
  letDecl,
  fnDecl,
  expr.map((condition): PatternItem => ({ kind: 'AttendRule', condition, range: R })),
  expr.map((condition): PatternItem => ({ kind: 'DenyRule', condition, range: R })),
  fc
    .tuple(expr, message)
    .map(([condition, m]): PatternItem => ({ kind: 'RequireStmt', condition, message: m, range: R })),
);

const layoutItem: fc.Arbitrary<LayoutItem> = fc.oneof(
  fc
    .tuple(identifier, fc.constantFrom('before' as const, 'after' as const))
    .map(([axis, position]): LayoutItem => ({ kind: 'TextItem', axis, position, range: R })),
  fc.array(fc.tuple(identifier, expr), { minLength: 1, maxLength: 3 }).map(
    (sizes): LayoutItem => ({
      kind: 'SizeItem',
      sizes: sizes.map(([name, defaultValue]) => ({ name, defaultValue })),
      range: R,
    }),
  ),
  fc
    .array(expr, { minLength: 1, maxLength: 3 })
    .map((extents): LayoutItem => ({ kind: 'TilesItem', extents, range: R })),
  fc
    .tuple(fc.constantFrom('frame' as const, 'tile' as const, 'text' as const), expr)
    .map(([unit, multiple]): LayoutItem => ({ kind: 'PadItem', unit, multiple, range: R })),
);

const layoutDecl: fc.Arbitrary<LayoutDecl> = fc
  .tuple(identifier, fc.array(identifier, { maxLength: 3 }), fc.array(layoutItem, { maxLength: 3 }))
  .map(([name, axes, items]) => ({ kind: 'LayoutDecl', name, axes, items, range: R }));

const patternDecl: fc.Arbitrary<PatternDecl> = fc
  .tuple(
    identifier,
    fc.array(fc.tuple(identifier, typeAnnotation, fc.option(expr, { nil: undefined })), { maxLength: 3 }),
    identifier,
    fc.array(patternItem, { maxLength: 4 }),
  )
  .map(([name, params, layout, items]) => ({
    kind: 'PatternDecl',
    name,
    params: params.map(([n, type, d]) => ({
      kind: 'PatternParam',
      name: n,
      type,
      ...(d ? { defaultValue: d } : {}),
      range: R,
    })),
    layout,
    items,
    range: R,
  }));

/** Random files: any mix of layouts, patterns, lets and helpers (names need not resolve). */
export const tileFileArb: fc.Arbitrary<TileFile> = fc
  .array(fc.oneof(layoutDecl as fc.Arbitrary<TopLevelItem>, patternDecl, letDecl, fnDecl), { maxLength: 4 })
  .map((items) => ({ kind: 'TileFile', items, range: R }));

/** A deep copy of an AST without `range` fields and comments, for structural comparison. */
export function stripRanges(value: unknown, dropParens = false): unknown {
  if (Array.isArray(value)) return value.map((v) => stripRanges(v, dropParens));
  if (typeof value !== 'object' || value === null) return value;
  const obj = value as Record<string, unknown>;
  if (dropParens && obj.kind === 'ParenExpr') return stripRanges(obj.inner, dropParens);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj))
    if (k !== 'range' && k !== 'comments') out[k] = stripRanges(v, dropParens);
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Random pattern IR over a layout with `axes` coordinates.

const CMPS: CmpOp[] = ['eq', 'ne', 'lt', 'le', 'gt', 'ge'];

/** Random integer and boolean IR of bounded depth over `axes` coordinate axes, with small constants. */
export function irArbs(
  axes: number,
  depth = 4,
): { int: fc.Arbitrary<IntExpr>; bool: fc.Arbitrary<BoolExpr> } {
  const small = fc.integer({ min: -4, max: 4 });
  const intLeaf: fc.Arbitrary<IntExpr> = fc.oneof(
    small.map((value): IntExpr => ({ op: 'const', value })),
    fc
      .tuple(fc.constantFrom('q' as const, 'k' as const), fc.integer({ min: 0, max: axes - 1 }))
      .map(([side, axis]): IntExpr => ({ op: 'coord', side, axis })),
  );
  const boolLeaf: fc.Arbitrary<BoolExpr> = fc.oneof(
    fc.boolean().map((value): BoolExpr => ({ op: 'bool', value })),
    fc
      .tuple(fc.constantFrom('q' as const, 'k' as const), fc.constantFrom('video' as const, 'text' as const))
      .map(([side, segment]): BoolExpr => ({ op: 'segment', side, segment })),
  );
  let ints = intLeaf;
  let bools = boolLeaf;
  for (let d = 0; d < depth; d++) {
    const i = ints;
    const b = bools;
    ints = fc.oneof(
      { weight: 2, arbitrary: intLeaf },
      {
        weight: 1,
        arbitrary: fc
          .tuple(fc.constantFrom('neg' as const, 'abs' as const, 'log2' as const, 'pow2' as const), i)
          .map(([op, a]): IntExpr => (op === 'pow2' ? { op, a: smallExponent(a) } : { op, a })),
      },
      {
        weight: 3,
        arbitrary: fc
          .tuple(fc.constantFrom('add', 'sub', 'mul', 'div', 'mod', 'min', 'max' as const), i, i)
          .map(([op, a, c]): IntExpr => ({ op: op as 'add', a, b: c })),
      },
      {
        weight: 1,
        arbitrary: fc.tuple(b, i, i).map(([cond, a, c]): IntExpr => ({ op: 'select', cond, a, b: c })),
      },
    );
    bools = fc.oneof(
      { weight: 2, arbitrary: boolLeaf },
      {
        weight: 3,
        arbitrary: fc
          .tuple(fc.constantFrom(...CMPS), i, i)
          .map(([cmp, a, c]): BoolExpr => ({ op: 'cmp', cmp, a, b: c })),
      },
      {
        weight: 2,
        arbitrary: fc
          .tuple(fc.constantFrom('and' as const, 'or' as const), fc.array(b, { maxLength: 4 }))
          .map(([op, args]): BoolExpr => ({ op, args })),
      },
      { weight: 1, arbitrary: b.map((a): BoolExpr => ({ op: 'not', a })) },
      {
        weight: 1,
        arbitrary: fc
          .tuple(i, fc.array(fc.integer({ min: -4, max: 4 }), { maxLength: 4 }))
          .map(([a, values]): BoolExpr => ({ op: 'inset', a, values })),
      },
    );
  }
  return { int: ints, bool: bools };
}
