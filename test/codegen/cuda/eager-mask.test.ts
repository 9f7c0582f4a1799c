/**
 * The branch-free element mask (`&` / `|` instead of `&&` / `||`) must allow exactly what the predicate allows.
 * The same rewrite is applied to the mask rendered through a JavaScript dialect (JavaScript gives `&`, `|`,
 * comparisons and `!` C's relative precedence) and executed against `evalBool` on every token pair of random
 * predicates and layouts; the CUDA text must differ from the neutral rendering only in those operators.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MASK_SYMBOLS, renderMaskFunctions } from '../../../codegen/common/render-mask.js';
import { renderSplitMaskFunctions } from '../../../codegen/common/split-mask.js';
import { cudaDialect } from '../../../codegen/cuda/dialect.js';
import { eagerAllowed, renderCudaMaskFunctions } from '../../../codegen/cuda/eager-mask.js';
import { evalBool, type PatternInstance } from '../../../compiler/ir.js';
import { decodeToken } from '../../../compiler/layout.js';
import { patternInstanceArbitrary } from '../../support/arbitraries/ir.js';
import { JS_PRELUDE, jsDialect } from '../common/js-dialect.js';

const runs = Number(process.env.TESSERA_TEST_RUNS ?? 60);

const patternArb = patternInstanceArbitrary(48);

function eagerJs(pattern: PatternInstance): {
  decode(i: number): object;
  allowed(q: object, k: object): unknown;
} {
  const fields = ['seg', ...pattern.layout.axisNames.map((_, i) => `c${i}`)];
  const source = eagerAllowed(renderMaskFunctions(pattern, jsDialect(fields)));
  const body = `${source}\nreturn { decode: ${MASK_SYMBOLS.decode}, allowed: ${MASK_SYMBOLS.allowed} };`;
  const names = Object.keys(JS_PRELUDE);
  return new Function(...names, body)(...Object.values(JS_PRELUDE));
}

describe('the branch-free element mask', () => {
  it('allows exactly the pairs the predicate allows, padding never', () => {
    fc.assert(
      fc.property(patternArb, (pattern) => {
        const { layout, predicate } = pattern;
        const emitted = eagerJs(pattern);
        const tokens = Array.from({ length: layout.length }, (_, i) => ({
          ref: decodeToken(layout, i, []),
          emitted: emitted.decode(i),
        }));
        for (const q of tokens) {
          for (const k of tokens) {
            const want = q.ref !== null && k.ref !== null && evalBool(predicate, q.ref, k.ref);
            if (Boolean(emitted.allowed(q.emitted, k.emitted)) !== want)
              expect.fail(`${JSON.stringify(q.ref)} -> ${JSON.stringify(k.ref)}: expected ${want}`);
          }
        }
      }),
      { numRuns: runs },
    );
  });

  it('changes only the connectives of tp_allowed in the CUDA text', () => {
    fc.assert(
      fc.property(patternArb, (pattern) => {
        const neutral = renderSplitMaskFunctions(pattern, cudaDialect).split('\n');
        const eager = renderCudaMaskFunctions(pattern).split('\n');
        expect(eager).toHaveLength(neutral.length);
        const changed = eager.flatMap((line, i) => (line === neutral[i] ? [] : [i]));
        expect(changed.length).toBeLessThanOrEqual(1);
        for (const i of changed) {
          expect(eager[i]).not.toMatch(/&&|\|\|/);
          expect(eager[i]!.replaceAll('&', '&&').replaceAll('|', '||')).toBe(neutral[i]);
          expect(neutral[i - 1]).toContain(`${MASK_SYMBOLS.allowed}(`);
        }
      }),
      { numRuns: runs },
    );
  });
});
