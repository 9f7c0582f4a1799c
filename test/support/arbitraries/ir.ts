/**
 * Random pattern predicates for property tests: every IR operation, floor division and modulo by random
 * constants (negative and zero included) and by expressions, abs, min/max, select, inset and segment tests,
 * mixed with "structured" atoms (coordinate differences, unit indices) so that full and empty blocks occur
 * as well as partial ones.
 */
import fc from 'fast-check';
import type { BoolExpr, CmpOp, IntExpr, PatternInstance, Side } from '../../../compiler/ir.js';
import { layoutArbitrary } from './layout.js';

const sides: Side[] = ['q', 'k'];
const cmps: CmpOp[] = ['eq', 'ne', 'lt', 'le', 'gt', 'ge'];

/** Arbitraries for integer and boolean IR over `axes` coordinates, bounded by depth. */
export function irArbitraries(
  axes: number,
  depth = 3,
): { int: fc.Arbitrary<IntExpr>; bool: fc.Arbitrary<BoolExpr> } {
  const constant = fc.integer({ min: -6, max: 6 }).map((value): IntExpr => ({ op: 'const', value }));
  const coord = fc
    .record({ side: fc.constantFrom(...sides), axis: fc.integer({ min: 0, max: axes - 1 }) })
    .map(({ side, axis }): IntExpr => ({ op: 'coord', side, axis }));
  // A coordinate divided or reduced by a constant: the shape of tile and stride arithmetic in real patterns.
  const unitLike = fc
    .record({
      c: coord,
      op: fc.constantFrom('div' as const, 'mod' as const),
      d: fc.integer({ min: -5, max: 5 }),
    })
    .map(({ c, op, d }): IntExpr => ({ op, a: c, b: { op: 'const', value: d } }));
  const intLeaf = fc.oneof(
    { arbitrary: coord, weight: 4 },
    { arbitrary: constant, weight: 2 },
    { arbitrary: unitLike, weight: 2 },
  );
  const ints: fc.Arbitrary<IntExpr>[] = [intLeaf];
  const bools: fc.Arbitrary<BoolExpr>[] = [];
  const segment = fc
    .record({ side: fc.constantFrom(...sides), segment: fc.constantFrom('video' as const, 'text' as const) })
    .map(({ side, segment }): BoolExpr => ({ op: 'segment', side, segment }));
  const boolLeaf = (int: fc.Arbitrary<IntExpr>): fc.Arbitrary<BoolExpr> =>
    fc.oneof(
      { arbitrary: fc.boolean().map((value): BoolExpr => ({ op: 'bool', value })), weight: 1 },
      { arbitrary: segment, weight: 2 },
      {
        arbitrary: fc
          .record({ cmp: fc.constantFrom(...cmps), a: int, b: int })
          .map(({ cmp, a, b }): BoolExpr => ({ op: 'cmp', cmp, a, b })),
        weight: 6,
      },
      {
        arbitrary: fc
          .record({
            a: int,
            values: fc.array(fc.integer({ min: -3, max: 7 }), { minLength: 1, maxLength: 4 }),
          })
          .map(({ a, values }): BoolExpr => ({ op: 'inset', a, values })),
        weight: 2,
      },
    );
  bools.push(boolLeaf(intLeaf));
  for (let d = 1; d <= depth; d++) {
    const sub = ints[d - 1]!;
    const subBool = bools[d - 1]!;
    const binary = fc
      .record({
        op: fc.constantFrom('add', 'sub', 'mul', 'div', 'mod', 'min', 'max' as const),
        a: sub,
        b: sub,
      })
      .map(({ op, a, b }): IntExpr => ({ op: op as 'add', a, b }));
    const byConstant = fc
      .record({
        op: fc.constantFrom('div' as const, 'mod' as const),
        a: sub,
        d: fc.integer({ min: -7, max: 7 }),
      })
      .map(({ op, a, d }): IntExpr => ({ op, a, b: { op: 'const', value: d } }));
    const unary = fc
      .record({
        op: fc.constantFrom('neg' as const, 'abs' as const, 'log2' as const, 'pow2' as const),
        a: sub,
      })
      .map(({ op, a }): IntExpr => (op === 'pow2' ? { op, a: smallExponent(a) } : { op, a }));
    const select = fc
      .record({ cond: subBool, a: sub, b: sub })
      .map(({ cond, a, b }): IntExpr => ({ op: 'select', cond, a, b }));
    ints.push(
      fc.oneof(
        { arbitrary: intLeaf, weight: 3 },
        { arbitrary: binary, weight: 3 },
        { arbitrary: byConstant, weight: 2 },
        { arbitrary: unary, weight: 1 },
        { arbitrary: select, weight: 1 },
      ),
    );
    const logic = fc
      .record({
        op: fc.constantFrom('and' as const, 'or' as const),
        args: fc.array(subBool, { minLength: 0, maxLength: 3 }),
      })
      .map(({ op, args }): BoolExpr => ({ op, args }));
    const negation = subBool.map((a): BoolExpr => ({ op: 'not', a }));
    bools.push(
      fc.oneof(
        { arbitrary: boolLeaf(ints[d]!), weight: 3 },
        { arbitrary: logic, weight: 3 },
        { arbitrary: negation, weight: 1 },
      ),
    );
  }
  return { int: ints[depth]!, bool: bools[depth]! };
}

/** Random predicates over `axes` coordinates. */
export function predicateArbitrary(axes: number, depth = 3): fc.Arbitrary<BoolExpr> {
  return irArbitraries(axes, depth).bool;
}

/** Random pattern instances: a random layout of at most `maxLength` tokens and a random predicate over it. */
export function patternInstanceArbitrary(maxLength: number): fc.Arbitrary<PatternInstance> {
  return layoutArbitrary({ maxLength }).chain((layout) =>
    predicateArbitrary(layout.axisNames.length).map((predicate) => ({
      key: 'p',
      name: 'p',
      params: {},
      layout,
      predicate,
    })),
  );
}

/**
 * `(a mod 13) - 2`, in -2..10: an exponent for `pow2` that reaches its below-domain fallback and stays far from
 * overflow (random trees compute values no lowering has bounded).
 */
export function smallExponent(a: IntExpr): IntExpr {
  return { op: 'sub', a: { op: 'mod', a, b: { op: 'const', value: 13 } }, b: { op: 'const', value: 2 } };
}
