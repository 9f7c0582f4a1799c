/**
 * Per-head patterns against brute force: random patterns that read `head` (choosing between two random
 * three-valued conditions by a head test, and widening a frame window with the head) are compiled once per head
 * and checked on every real token pair against an independent reference evaluated with that head; the block
 * classifier equals brute force for every head; and heads that the pattern cannot tell apart compile to the same
 * predicate, which is what lets a layer plan give them one block plan (compiler/layer-plan.ts).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { classifyBlocks } from '../../compiler/classify/classify.js';
import { bruteForceClasses } from '../../compiler/classify/element-mask.js';
import { compileSource } from '../../compiler/frontend.js';
import { evalBool, type PatternInstance } from '../../compiler/ir.js';
import { decodeToken } from '../../compiler/layout.js';
import { TesseraError } from '../../dsl/diagnostics.js';
import {
  boolNodeArb,
  boolSource,
  evalBoolNode,
  type KleeneToken,
  kleeneLayoutArb,
} from '../support/arbitraries/kleene.js';
import { testRuns } from '../support/arbitraries/layout.js';

const caseArb = fc.record({
  layout: kleeneLayoutArb,
  a: boolNodeArb(2),
  b: boolNodeArb(2),
  modulus: fc.integer({ min: 1, max: 3 }),
  residue: fc.nat(2),
  divisor: fc.integer({ min: 1, max: 3 }),
  heads: fc.integer({ min: 1, max: 6 }),
  bq: fc.integer({ min: 1, max: 5 }),
  bk: fc.integer({ min: 1, max: 5 }),
});

type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

function sourceOf(c: Case): string {
  return [
    c.layout.source,
    'pattern p() on vt {',
    `  attend if head % ${c.modulus} == ${c.residue % c.modulus} then (${boolSource(c.a)}) else (${boolSource(c.b)})`,
    `  attend q in video && k in video && abs(q.t - k.t) <= head / ${c.divisor}`,
    '}',
  ].join('\n');
}

/** The pattern at `head`, or undefined when a random divisor folds to 0 (TP309), a legitimate rejection. */
function compileAt(text: string, c: Case, head: number): PatternInstance | undefined {
  try {
    return compileSource({ name: 'heads.tile', text }, { sizes: c.layout.sizes, head });
  } catch (error) {
    expect(error, text).toBeInstanceOf(TesseraError);
    expect((error as TesseraError).diagnostics.map((d) => d.code).every((code) => code === 'TP309')).toBe(
      true,
    );
    return undefined;
  }
}

/** The reference: the chosen condition where it is true, or the frame window of width head / divisor. */
function reference(c: Case, head: number, q: KleeneToken, k: KleeneToken): boolean {
  const chosen = head % c.modulus === c.residue % c.modulus ? c.a : c.b;
  const window =
    q.segment === 'video' && k.segment === 'video' && Math.abs(q.t - k.t) <= Math.floor(head / c.divisor);
  return evalBoolNode(chosen, q, k) === true || window;
}

const runs = testRuns(200);

describe('patterns that read the head', () => {
  it('allow, per head, exactly the pairs of a reference evaluated at that head; classes equal brute force', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const text = sourceOf(c);
        for (let head = 0; head < c.heads; head++) {
          const pattern = compileAt(text, c, head);
          if (!pattern) return;
          for (let qs = 0; qs < pattern.layout.length; qs++) {
            const q = decodeToken(pattern.layout, qs);
            if (!q) continue;
            const qn: KleeneToken = { segment: q.segment, t: q.coords[0]!, h: q.coords[1]!, l: q.coords[2]! };
            for (let ks = 0; ks < pattern.layout.length; ks++) {
              const k = decodeToken(pattern.layout, ks);
              if (!k) continue;
              const kn: KleeneToken = {
                segment: k.segment,
                t: k.coords[0]!,
                h: k.coords[1]!,
                l: k.coords[2]!,
              };
              const got = evalBool(
                pattern.predicate,
                { segment: q.segment, coords: Array.from(q.coords) },
                { segment: k.segment, coords: Array.from(k.coords) },
              );
              if (got !== reference(c, head, qn, kn))
                expect.fail(`head ${head}: ${text}\nat q=${JSON.stringify(qn)} k=${JSON.stringify(kn)}`);
            }
          }
          expect(Array.from(classifyBlocks(pattern, c.bq, c.bk)), `head ${head}`).toEqual(
            Array.from(bruteForceClasses(pattern, c.bq, c.bk)),
          );
        }
      }),
      { numRuns: runs },
    );
  }, 180_000);

  it('compiles heads the pattern cannot tell apart to one predicate (so they share a block plan)', () => {
    let shared = 0;
    fc.assert(
      fc.property(caseArb, (c) => {
        const text = sourceOf(c);
        const byView = new Map<string, string>();
        for (let head = 0; head < c.heads; head++) {
          const pattern = compileAt(text, c, head);
          if (!pattern) return;
          // What the pattern sees of the head: the branch it takes and the window's width.
          const view = `${head % c.modulus === c.residue % c.modulus}:${Math.floor(head / c.divisor)}`;
          const predicate = JSON.stringify(pattern.predicate);
          const seen = byView.get(view);
          if (seen !== undefined) {
            shared++;
            expect(predicate, `head ${head} of ${text}`).toBe(seen);
          } else byView.set(view, predicate);
        }
      }),
      { numRuns: runs },
    );
    expect(shared).toBeGreaterThan(0);
  }, 180_000);
});
