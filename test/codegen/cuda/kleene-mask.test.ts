/**
 * Three-valued logic in the CUDA mask functions: random expressions on layouts with text tokens (the generator of
 * test/compiler/kleene-property.test.ts), rendered by the CUDA pattern header's mask renderer and compiled by the
 * host C++ compiler, allow exactly the pairs the Kleene reference makes true, on every slot pair.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { renderCudaMaskFunctions } from '../../../codegen/cuda/eager-mask.js';
import { inlineKernelHeaders } from '../../../codegen/cuda/headers.js';
import { compileSource } from '../../../compiler/frontend.js';
import type { PatternInstance } from '../../../compiler/ir.js';
import { decodeToken } from '../../../compiler/layout.js';
import { TesseraError } from '../../../dsl/diagnostics.js';
import {
  boolNodeArb,
  boolSource,
  evalBoolNode,
  type KleeneToken,
  kleeneLayoutArb,
} from '../../support/arbitraries/kleene.js';
import { testRuns } from '../../support/arbitraries/layout.js';
import { hasCxx, runCxx } from './host-cxx.js';

const PRELUDE = `#include <algorithm>
#include <cstdio>
using std::max;
using std::min;
#define __device__
#define __forceinline__ inline`;

function namedToken(pattern: PatternInstance, slot: number): KleeneToken | undefined {
  const d = decodeToken(pattern.layout, slot);
  if (!d) return undefined;
  return { segment: d.segment, t: d.coords[0]!, h: d.coords[1]!, l: d.coords[2]! };
}

describe('CUDA mask functions on three-valued patterns (host C++)', () => {
  it.skipIf(!hasCxx())(
    'allow exactly the pairs the Kleene reference makes true',
    () => {
      const samples = fc.sample(fc.tuple(kleeneLayoutArb, boolNodeArb(3)), {
        numRuns: testRuns(30),
        seed: 16,
      });
      const cases: { pattern: PatternInstance; expected: string; source: string }[] = [];
      for (const [layout, e] of samples) {
        const source = boolSource(e);
        const text = `${layout.source}\npattern p() on vt {\n  attend ${source}\n}`;
        let pattern: PatternInstance;
        try {
          pattern = compileSource({ name: 'kleene.tile', text }, { sizes: layout.sizes });
        } catch (error) {
          if (error instanceof TesseraError) continue; // a divisor that folds to 0 (TP309)
          throw error;
        }
        let expected = '';
        for (let q = 0; q < pattern.layout.length; q++)
          for (let k = 0; k < pattern.layout.length; k++) {
            const [qt, kt] = [namedToken(pattern, q), namedToken(pattern, k)];
            expected += qt && kt && evalBoolNode(e, qt, kt) === true ? '1' : '0';
          }
        cases.push({ pattern, expected, source });
      }
      const namespaces = cases.map((c, i) => `namespace p${i} {\n${renderCudaMaskFunctions(c.pattern)}\n}`);
      const main = cases.map(
        (c, i) =>
          `  for (int q = 0; q < ${c.pattern.layout.length}; ++q) for (int k = 0; k < ${c.pattern.layout.length}; ++k)\n` +
          `    std::putchar(p${i}::tp_allowed(p${i}::tp_query_terms(p${i}::tp_decode(q)), p${i}::tp_key_terms(p${i}::tp_decode(k))) ? '1' : '0');\n` +
          `  std::putchar('\\n');`,
      );
      const program = inlineKernelHeaders(
        [
          PRELUDE,
          '#include "tessera/tessera.cuh"',
          ...namespaces,
          `int main() {\n${main.join('\n')}\n}`,
        ].join('\n'),
      );
      const got = runCxx(program).trim().split('\n');
      expect(got).toHaveLength(cases.length);
      cases.forEach((c, i) => {
        expect(got[i], c.source).toBe(c.expected);
      });
      expect(cases.length).toBeGreaterThan(testRuns(30) / 2);
    },
    120_000,
  );
});
