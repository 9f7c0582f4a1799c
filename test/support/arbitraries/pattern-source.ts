/**
 * Random well-typed `.tile` sources: a random layout (axes, text before/after, tiles, padding) and a pattern
 * over it with parameters, `let`s, helper functions, several `attend` and `deny` rules and every kind of
 * expression. Typed by construction, so every draw should compile (up to the 32-bit overflow check);
 * used to test the whole pipeline, source to block plan, against brute force.
 */
import fc from 'fast-check';

/** A generated source and the sizes to compile it with. */
export interface RandomPatternSource {
  readonly text: string;
  readonly sizes: Record<string, number>;
}

interface Scope {
  readonly ints: readonly string[];
  readonly bools: readonly string[];
  readonly coords: readonly string[];
  readonly hasText: boolean;
  readonly intFns: readonly string[];
  readonly boolFns: readonly string[];
}

const smallInt = fc.integer({ min: -4, max: 6 }).map(String);
const nonZero = fc
  .integer({ min: -3, max: 5 })
  .filter((n) => n !== 0)
  .map(String);

function intExpr(scope: Scope, depth: number): fc.Arbitrary<string> {
  const leaves: fc.Arbitrary<string>[] = [smallInt, fc.constantFrom(...scope.coords)];
  if (scope.ints.length > 0) leaves.push(fc.constantFrom(...scope.ints));
  const leaf = fc.oneof(...leaves);
  if (depth <= 0) return leaf;
  const sub = intExpr(scope, depth - 1);
  const cond = boolExpr(scope, depth - 1);
  const composite: fc.Arbitrary<string>[] = [
    fc.tuple(sub, fc.constantFrom('+', '-'), sub).map(([a, op, b]) => `(${a} ${op} ${b})`),
    fc.tuple(sub, nonZero).map(([a, c]) => `(${a} * ${c})`),
    fc.tuple(sub, fc.constantFrom('/', '%'), fc.oneof(nonZero, sub)).map(([a, op, b]) => `(${a} ${op} ${b})`),
    fc
      .tuple(fc.constantFrom('min', 'max', 'ceildiv', 'floordiv'), sub, sub)
      .map(([f, a, b]) => `${f}(${a}, ${b})`),
    sub.map((a) => `abs(${a})`),
    // In their domains as users write them (radial windows): log2 of at least 1, pow2 of 0..10.
    sub.map((a) => `log2(max(${a}, 1))`),
    sub.map((a) => `pow2(clamp(${a}, 0, 10))`),
    sub.map((a) => `-${a}`),
    fc.tuple(sub, sub, sub).map(([x, lo, hi]) => `clamp(${x}, ${lo}, ${hi})`),
    fc.tuple(cond, sub, sub).map(([c, a, b]) => `(if ${c} then ${a} else ${b})`),
  ];
  if (scope.intFns.length > 0) {
    composite.push(
      fc.tuple(fc.constantFrom(...scope.intFns), sub, sub).map(([f, a, b]) => `${f}(${a}, ${b})`),
    );
  }
  return fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, ...composite);
}

function boolExpr(scope: Scope, depth: number): fc.Arbitrary<string> {
  const leaves: fc.Arbitrary<string>[] = [
    fc.constantFrom('true', 'false'),
    fc.constantFrom('q in video', 'k in video'),
  ];
  if (scope.hasText) leaves.push(fc.constantFrom('q in text', 'k in text'));
  if (scope.bools.length > 0) leaves.push(fc.constantFrom(...scope.bools));
  const leaf = fc.oneof(...leaves);
  const sub = intExpr(scope, Math.max(0, depth - 1));
  const cmp = fc
    .tuple(sub, fc.constantFrom('==', '!=', '<', '<=', '>', '>='), sub)
    .map(([a, op, b]) => `${a} ${op} ${b}`);
  if (depth <= 0) return fc.oneof(leaf, cmp);
  const b = boolExpr(scope, depth - 1);
  const composite: fc.Arbitrary<string>[] = [
    cmp,
    fc.tuple(b, fc.constantFrom('&&', '||'), b).map(([x, op, y]) => `(${x} ${op} ${y})`),
    b.map((x) => `!(${x})`),
    fc.tuple(sub, sub, sub, fc.boolean()).map(([x, lo, hi, inc]) => `${x} in ${lo}..${inc ? '=' : ''}${hi}`),
    fc
      .tuple(sub, fc.array(fc.integer({ min: -2, max: 6 }), { minLength: 1, maxLength: 3 }))
      .map(([x, set]) => `${x} in {${set.join(', ')}}`),
  ];
  if (scope.boolFns.length > 0)
    composite.push(fc.tuple(fc.constantFrom(...scope.boolFns), sub).map(([f, x]) => `${f}(${x})`));
  return fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, ...composite);
}

const layoutArb = fc.record({
  sizes: fc.record({
    t: fc.integer({ min: 1, max: 4 }),
    h: fc.integer({ min: 1, max: 3 }),
    w: fc.integer({ min: 1, max: 4 }),
  }),
  text: fc.option(
    fc.record({
      l: fc.integer({ min: 1, max: 4 }),
      position: fc.constantFrom('before', 'after'),
      pad: fc.option(fc.integer({ min: 2, max: 4 })),
    }),
  ),
  tiles: fc.option(
    fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 3 })),
  ),
  pad: fc.option(fc.integer({ min: 2, max: 7 })),
});

/** A random well-typed pattern file and the sizes to compile it with. */
export const patternSourceArb: fc.Arbitrary<RandomPatternSource> = layoutArb.chain((layout) => {
  const hasText = layout.text !== null;
  const coords = ['q.t', 'q.h', 'q.w', 'k.t', 'k.h', 'k.w', ...(hasText ? ['q.l', 'k.l'] : [])];
  const sizeNames = ['t', 'h', 'w', ...(hasText ? ['l'] : [])];
  const fnScope: Scope = {
    ints: ['x', 'y', 'a'],
    bools: [],
    coords: ['x', 'y'],
    hasText: false,
    intFns: [],
    boolFns: [],
  };
  const boolFnScope: Scope = { ...fnScope, ints: ['x', 'a'], coords: ['x'] };
  const ruleScope: Scope = {
    ints: ['a', 's', ...sizeNames],
    bools: ['flag'],
    coords,
    hasText,
    intFns: ['f'],
    boolFns: ['g'],
  };
  return fc
    .record({
      a: fc.integer({ min: 0, max: 3 }),
      flag: fc.boolean(),
      s: intExpr({ ...ruleScope, coords: ['a'], ints: ['a', ...sizeNames], intFns: [] }, 1),
      f: intExpr(fnScope, 1),
      g: boolExpr(boolFnScope, 1),
      attends: fc.array(boolExpr(ruleScope, 2), { minLength: 1, maxLength: 3 }),
      denies: fc.array(boolExpr(ruleScope, 1), { maxLength: 2 }),
    })
    .map((p) => {
      const items: string[] = [];
      if (layout.text) items.push(`text(l) ${layout.text.position}`);
      if (layout.text?.pad) items.push(`pad text to ${layout.text.pad}`);
      if (layout.tiles) items.push(`tiles(${layout.tiles.join(', ')})`);
      if (layout.pad) items.push(`pad ${layout.tiles ? 'tile' : 'frame'} to ${layout.pad}`);
      const text = [
        `layout video(t, h, w) {`,
        ...items.map((i) => `  ${i}`),
        `}`,
        `pattern random(a: int = ${p.a}, flag: bool = ${p.flag}) on video {`,
        `  let s = ${p.s}`,
        `  fn f(x, y) = ${p.f}`,
        `  fn g(x) = ${p.g}`,
        ...p.attends.map((e) => `  attend ${e}`),
        ...p.denies.map((e) => `  deny ${e}`),
        `}`,
      ].join('\n');
      const sizes: Record<string, number> = { ...layout.sizes };
      if (layout.text) sizes.l = layout.text.l;
      return { text, sizes };
    });
});
