/**
 * Three-valued logic on layouts with text tokens (README, "Tokens without an axis"): random expressions are
 * compiled and checked against an independent Kleene reference on every real pair; negation agrees with the
 * negated comparison, De Morgan and double negation hold; the block classifier equals brute force; and the
 * rendered mask (JavaScript through the neutral renderer, Python through the Flex module) agrees with the
 * predicate. The CUDA and WGSL renderers share the neutral renderer and are executed by the host-compiler
 * and Dawn tests.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderFlexModule } from '../../codegen/flex/python-module.js';
import { classifyBlocks } from '../../compiler/classify/classify.js';
import { bruteForceClasses } from '../../compiler/classify/element-mask.js';
import { compileSource } from '../../compiler/frontend.js';
import { evalBool, type PatternInstance, type TokenCoords } from '../../compiler/ir.js';
import { decodeToken } from '../../compiler/layout.js';
import { buildPlan } from '../../compiler/plan/build.js';
import { planElementMask } from '../../compiler/plan/element-mask.js';
import { TesseraError } from '../../dsl/diagnostics.js';
import { emitAndLoad } from '../codegen/common/js-dialect.js';
import {
  type BoolNode,
  boolNodeArb,
  boolSource,
  evalBoolNode,
  type IntNode,
  intNodeArb,
  intSource,
  type KleeneLayout,
  type KleeneToken,
  kleeneLayoutArb,
  NEGATED_CMP,
} from '../support/arbitraries/kleene.js';
import { testRuns } from '../support/arbitraries/layout.js';

/** Compile `rules` on `layout`, or undefined when the divisor folds to 0 (TP309), a legitimate rejection. */
function compileRules(layout: KleeneLayout, rules: readonly string[]): PatternInstance | undefined {
  const text = `${layout.source}\npattern p() on vt {\n${rules.map((r) => `  ${r}`).join('\n')}\n}`;
  try {
    return compileSource({ name: 'kleene.tile', text }, { sizes: layout.sizes });
  } catch (error) {
    expect(error, text).toBeInstanceOf(TesseraError);
    const codes = (error as TesseraError).diagnostics.map((d) => d.code);
    expect(
      codes.every((c) => c === 'TP309'),
      `${text}\n${(error as Error).message}`,
    ).toBe(true);
    return undefined;
  }
}

interface RealToken {
  readonly slot: number;
  readonly coords: TokenCoords;
  readonly named: KleeneToken;
}

function realTokens(pattern: PatternInstance): RealToken[] {
  const out: RealToken[] = [];
  for (let slot = 0; slot < pattern.layout.length; slot++) {
    const d = decodeToken(pattern.layout, slot);
    if (!d) continue;
    const c = Array.from(d.coords);
    out.push({
      slot,
      coords: { segment: d.segment, coords: c },
      named: { segment: d.segment, t: c[0]!, h: c[1]!, l: c[2]! },
    });
  }
  return out;
}

/** The two patterns allow exactly the same real pairs (and say where they differ when they do not). */
function expectSameMask(a: PatternInstance, b: PatternInstance, what: string): void {
  const tokens = realTokens(a);
  for (const q of tokens)
    for (const k of tokens) {
      const x = evalBool(a.predicate, q.coords, k.coords);
      const y = evalBool(b.predicate, q.coords, k.coords);
      if (x !== y) expect.fail(`${what} differ at q=${JSON.stringify(q.named)} k=${JSON.stringify(k.named)}`);
    }
}

const layoutAndBool = fc.tuple(kleeneLayoutArb, boolNodeArb(3));
const cmpOp = fc.constantFrom('==', '!=', '<', '<=', '>', '>=' as const);
const runs = testRuns(120);
const timeout = 120_000;

describe('three-valued logic on layouts with text tokens', () => {
  it(
    'attend and deny follow the Kleene reference on every real pair (unknown: the rule does not apply)',
    () => {
      let unknowns = 0;
      fc.assert(
        fc.property(layoutAndBool, fc.boolean(), ([layout, e], deny) => {
          const source = boolSource(e);
          const pattern = compileRules(
            layout,
            deny ? ['attend true', `deny ${source}`] : [`attend ${source}`],
          );
          if (!pattern) return;
          const tokens = realTokens(pattern);
          for (const q of tokens)
            for (const k of tokens) {
              const truth = evalBoolNode(e, q.named, k.named);
              if (truth === undefined) unknowns++;
              const expected = deny ? truth !== true : truth === true;
              if (evalBool(pattern.predicate, q.coords, k.coords) !== expected)
                expect.fail(`${source} at q=${JSON.stringify(q.named)} k=${JSON.stringify(k.named)}`);
            }
        }),
        { numRuns: runs },
      );
      // The draws must reach the unknown case often, or the property says little about it.
      expect(unknowns).toBeGreaterThan(runs);
    },
    timeout,
  );

  it(
    '`!(a op b)` allows the same pairs as `a` with the negated operator',
    () => {
      fc.assert(
        fc.property(kleeneLayoutArb, cmpOp, intNodeArb(2), intNodeArb(2), (layout, op, a, b) => {
          const [x, y] = [intSource(a), intSource(b)];
          const negated = compileRules(layout, [`attend !(${x} ${op} ${y})`]);
          const direct = compileRules(layout, [`attend ${x} ${NEGATED_CMP[op]} ${y}`]);
          if (negated && direct) expectSameMask(negated, direct, `!(${x} ${op} ${y})`);
        }),
        { numRuns: runs },
      );
    },
    timeout,
  );

  it(
    'De Morgan, double negation and the negated range test hold',
    () => {
      fc.assert(
        fc.property(
          kleeneLayoutArb,
          boolNodeArb(2),
          boolNodeArb(2),
          fc.tuple(intNodeArb(1), intNodeArb(1), intNodeArb(1)),
          (layout, a: BoolNode, b: BoolNode, [x, lo, hi]: IntNode[]) => {
            const [p, r] = [boolSource(a), boolSource(b)];
            const [xs, los, his] = [intSource(x!), intSource(lo!), intSource(hi!)];
            const laws: [string, string][] = [
              [`!(${p} && ${r})`, `!${p} || !${r}`],
              [`!(${p} || ${r})`, `!${p} && !${r}`],
              [`!!${p}`, p],
              [`!(${xs} in ${los}..${his})`, `${xs} < ${los} || ${xs} >= ${his}`],
            ];
            for (const [left, right] of laws) {
              const l = compileRules(layout, [`attend ${left}`]);
              const rr = compileRules(layout, [`attend ${right}`]);
              if (l && rr) expectSameMask(l, rr, `${left} and ${right}`);
            }
          },
        ),
        { numRuns: runs },
      );
    },
    timeout,
  );

  it(
    'the block classifier equals brute force per element',
    () => {
      fc.assert(
        fc.property(
          layoutAndBool,
          fc.integer({ min: 1, max: 7 }),
          fc.integer({ min: 1, max: 7 }),
          ([layout, e], bq, bk) => {
            const pattern = compileRules(layout, [`attend ${boolSource(e)}`]);
            if (!pattern) return;
            expect(Array.from(classifyBlocks(pattern, bq, bk)), boolSource(e)).toEqual(
              Array.from(bruteForceClasses(pattern, bq, bk)),
            );
          },
        ),
        { numRuns: runs },
      );
    },
    timeout,
  );

  it(
    'the mask rendered through the neutral renderer (JavaScript dialect) agrees with the predicate',
    () => {
      fc.assert(
        fc.property(layoutAndBool, ([layout, e]) => {
          const pattern = compileRules(layout, [`attend ${boolSource(e)}`]);
          if (!pattern) return;
          const emitted = emitAndLoad(pattern);
          const tokens = realTokens(pattern);
          for (const q of tokens)
            for (const k of tokens) {
              const got = emitted.allowed(emitted.decode(q.slot), emitted.decode(k.slot));
              if (got !== evalBool(pattern.predicate, q.coords, k.coords))
                expect.fail(`${boolSource(e)} at q=${JSON.stringify(q.named)} k=${JSON.stringify(k.named)}`);
            }
        }),
        { numRuns: runs },
      );
    },
    timeout,
  );
});

describe('the Flex module (Python) on three-valued patterns', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tessera-kleene-py-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const EVALUATE = `
import importlib.util, json, sys
out = []
for case in json.load(open(sys.argv[1])):
    spec = importlib.util.spec_from_file_location("m", case["file"])
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    n = m.SEQ_LEN
    out.append([bool(m.pattern_allows(q, k)) for q in range(n) for k in range(n)])
print(json.dumps(out))
`;

  it(
    'pattern_allows agrees with the plan and the Kleene reference on every pair',
    async () => {
      const samples = fc.sample(layoutAndBool, { numRuns: testRuns(40), seed: 15 });
      const cases: { file: string }[] = [];
      const expected: boolean[][] = [];
      for (const [i, [layout, e]] of samples.entries()) {
        const pattern = compileRules(layout, [`attend ${boolSource(e)}`]);
        if (!pattern) continue;
        const plan = buildPlan(pattern, 4, 3);
        const file = join(dir, `kleene_${i}.py`);
        await writeFile(file, renderFlexModule(plan, 'kleene.tile'));
        const mask = planElementMask(plan);
        const named = new Map(realTokens(pattern).map((t) => [t.slot, t.named]));
        const allowed: boolean[] = [];
        for (let q = 0; q < plan.seqLen; q++)
          for (let k = 0; k < plan.seqLen; k++) {
            const [qt, kt] = [named.get(q), named.get(k)];
            const reference = qt !== undefined && kt !== undefined && evalBoolNode(e, qt, kt) === true;
            expect(mask.allowed(q, k), boolSource(e)).toBe(reference);
            allowed.push(reference);
          }
        cases.push({ file });
        expected.push(allowed);
      }
      const casesFile = join(dir, 'cases.json');
      const script = join(dir, 'evaluate.py');
      await writeFile(casesFile, JSON.stringify(cases));
      await writeFile(script, EVALUATE);
      const got = JSON.parse(
        execFileSync('python3', [script, casesFile], { encoding: 'utf8' }),
      ) as boolean[][];
      expect(got).toEqual(expected);
    },
    timeout,
  );
});
