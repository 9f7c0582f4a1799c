/**
 * The index IR and its simplifier (codegen/common/index-expr.ts): the builders drop identities and fold
 * constants, the renderer parenthesises only where needed, and a rendered expression, run as JavaScript, has
 * the value of the expression it was built from, for random expressions over non-negative values.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  add,
  div,
  type IndexExpr,
  lit,
  mod,
  mul,
  readsOf,
  ref,
  renderIndex,
  sub,
} from '../../../codegen/common/index-expr.js';
import { cudaDialect } from '../../../codegen/cuda/dialect.js';
import { typescriptDialect } from '../../../codegen/ts/dialect.js';
import { WGSL_DIALECT } from '../../../codegen/wgsl/dialect.js';
import { jsDialect } from './js-dialect.js';

const cuda = (e: IndexExpr) => renderIndex(e, cudaDialect);

describe('the index simplifier', () => {
  it('drops identities: no i - 0, x * 1, x / 1 or (unit % 1) * 80', () => {
    const [i, unit, inner] = [ref('i'), ref('unit'), ref('inner')];
    expect(cuda(sub(i, lit(0)))).toBe('i');
    expect(cuda(mul(i, lit(1)))).toBe('i');
    expect(cuda(mul(lit(1), i))).toBe('i');
    expect(cuda(div(i, lit(1)))).toBe('i');
    expect(cuda(add(lit(0), i))).toBe('i');
    expect(cuda(add(mul(mod(unit, lit(1)), lit(80)), mod(inner, lit(80))))).toBe('inner % 80');
    expect(cuda(add(mul(mod(unit, lit(8)), lit(1)), mod(inner, lit(1))))).toBe('unit % 8');
    expect(cuda(mul(lit(0), i))).toBe('0');
    expect(cuda(add(lit(3), mul(lit(4), lit(5))))).toBe('23');
  });

  it('parenthesises only where precedence (or a mixed product) needs it', () => {
    const [a, b, c] = [ref('a'), ref('b'), ref('c')];
    expect(cuda(sub(a, mul(b, c)))).toBe('a - b * c');
    expect(cuda(sub(a, sub(b, c)))).toBe('a - (b - c)');
    expect(cuda(add(a, add(b, c)))).toBe('a + b + c');
    expect(cuda(mul(add(a, b), c))).toBe('(a + b) * c');
    expect(cuda(mul(mod(a, lit(10)), lit(8)))).toBe('(a % 10) * 8');
    expect(cuda(div(sub(a, b), c))).toBe('(a - b) / c');
    expect(cuda(mod(a, mul(b, c)))).toBe('a % (b * c)');
    expect(renderIndex(div(a, b), typescriptDialect([]))).toBe('Math.trunc(a / b)');
    expect(renderIndex(sub(a, lit(3)), WGSL_DIALECT)).toBe('a - 3i');
  });

  it('refuses a constant zero divisor', () => {
    expect(() => div(ref('a'), lit(0))).toThrow(RangeError);
    expect(() => mod(ref('a'), lit(0))).toThrow(RangeError);
  });

  it('keeps the value of random expressions over non-negative values, in C-like text run as JavaScript', () => {
    const names = ['a', 'b', 'c'];
    // Built bottom-up through the simplifying builders; divisors are positive constants, so every value stays
    // non-negative where `/` and `%` appear (subtraction is kept out of their operands).
    const leaf = fc.oneof(fc.integer({ min: 0, max: 9 }).map(lit), fc.constantFrom(...names).map(ref));
    const { expr } = fc.letrec<{ expr: IndexExpr; pos: IndexExpr }>((tie) => ({
      pos: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        leaf,
        fc.tuple(tie('pos'), tie('pos')).map(([x, y]) => add(x, y)),
        fc.tuple(tie('pos'), tie('pos')).map(([x, y]) => mul(x, y)),
        fc.tuple(tie('pos'), fc.integer({ min: 1, max: 7 })).map(([x, k]) => div(x, lit(k))),
        fc.tuple(tie('pos'), fc.integer({ min: 1, max: 7 })).map(([x, k]) => mod(x, lit(k))),
      ),
      expr: fc.oneof(
        tie('pos'),
        fc.tuple(tie('pos'), tie('pos')).map(([x, y]) => sub(x, y)),
        fc.tuple(tie('pos'), tie('expr')).map(([x, y]) => sub(x, y)),
      ),
    }));
    const evaluate = (e: IndexExpr, env: Record<string, number>): number => {
      switch (e.op) {
        case 'const':
          return e.value;
        case 'var':
          return env[e.name]!;
        case 'add':
          return evaluate(e.a, env) + evaluate(e.b, env);
        case 'sub':
          return evaluate(e.a, env) - evaluate(e.b, env);
        case 'mul':
          return evaluate(e.a, env) * evaluate(e.b, env);
        case 'div':
          return Math.trunc(evaluate(e.a, env) / evaluate(e.b, env));
        case 'mod':
          return evaluate(e.a, env) % evaluate(e.b, env);
      }
    };
    fc.assert(
      fc.property(expr, fc.tuple(fc.nat(50), fc.nat(50), fc.nat(50)), (e, [a, b, c]) => {
        const text = renderIndex(e, jsDialect([]));
        const run = new Function(...names, `return ${text};`) as (...v: number[]) => number;
        expect(run(a, b, c), text).toBe(evaluate(e, { a, b, c }));
        for (const name of readsOf(e)) expect(names).toContain(name);
      }),
      { numRuns: 300 },
    );
  });
});
