/**
 * Progress reports from long loops: thinned to a bounded number of calls that still end at the total, parts of
 * a job mapped onto their share, and the classifier's and plan builder's reports reaching their totals.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { classifyByBisection } from '../../compiler/classify/bisect.js';
import { videoLayout } from '../../compiler/classify/reference-patterns.js';
import type { BoolExpr, IntExpr, PatternInstance } from '../../compiler/ir.js';
import { layoutChoices } from '../../compiler/layout-choice.js';
import { buildPlan } from '../../compiler/plan/build.js';
import { partProgress, thinnedProgress } from '../../compiler/progress.js';

describe('thinnedProgress', () => {
  it('passes on at most about 200 reports per total, in order, and always the last one', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5000 }), (total) => {
        const seen: number[] = [];
        const report = thinnedProgress(total, (done, t) => {
          expect(t).toBe(total);
          seen.push(done);
        });
        for (let done = 1; done <= total; done++) report(done);
        expect(seen.length).toBeLessThanOrEqual(201);
        expect(seen.at(-1)).toBe(total);
        for (let i = 1; i < seen.length; i++) expect(seen[i]!).toBeGreaterThan(seen[i - 1]!);
      }),
    );
  });
});

describe('partProgress', () => {
  it('maps part i of n onto the fraction (i + done / total) / n', () => {
    const seen: number[] = [];
    const part = partProgress((done, total) => seen.push(done / total), 2, 4)!;
    part(0, 10);
    part(5, 10);
    part(10, 10);
    expect(seen).toEqual([0.5, 0.625, 0.75]);
    expect(partProgress(undefined, 0, 2)).toBeUndefined();
  });
});

describe('progress of the long loops', () => {
  const fractions = (run: (onProgress: (done: number, total: number) => void) => void): number[] => {
    const seen: number[] = [];
    run((done, total) => seen.push(done / total));
    return seen;
  };
  // A window over the flattened in-frame position plus a sink frame: diagonal partial blocks (bisection).
  const coord = (side: 'q' | 'k', axis: number): IntExpr => ({ op: 'coord', side, axis });
  const flat = (side: 'q' | 'k'): IntExpr => ({
    op: 'add',
    a: { op: 'mul', a: coord(side, 1), b: { op: 'const', value: 7 } },
    b: coord(side, 2),
  });
  const predicate: BoolExpr = {
    op: 'or',
    args: [
      { op: 'cmp', cmp: 'eq', a: coord('k', 0), b: { op: 'const', value: 0 } },
      {
        op: 'cmp',
        cmp: 'le',
        a: { op: 'abs', a: { op: 'sub', a: flat('q'), b: flat('k') } },
        b: { op: 'const', value: 3 },
      },
    ],
  };
  const pattern: PatternInstance = {
    key: 'window',
    name: 'window',
    params: {},
    layout: videoLayout(6, 5, 7),
    predicate,
  };

  it('bisection reports block pairs decided, rising to all of them', () => {
    const seen = fractions((p) => classifyByBisection(pattern, 4, 4, p));
    expect(seen.length).toBeGreaterThan(1);
    expect(seen.at(-1)).toBe(1);
    for (let i = 1; i < seen.length; i++) expect(seen[i]!).toBeGreaterThanOrEqual(seen[i - 1]!);
  });

  it('the plan builder and the layout alternatives report up to the whole job', () => {
    expect(fractions((p) => buildPlan(pattern, 4, 4, undefined, p)).at(-1)).toBe(1);
    const seen = fractions((p) => layoutChoices(pattern, 4, 4, undefined, p));
    expect(seen.at(-1)).toBe(1);
  });
});
