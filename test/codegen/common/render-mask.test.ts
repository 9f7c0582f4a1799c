import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SEGMENT_CODE } from '../../../codegen/common/render-mask.js';
import type { BoolExpr, IntExpr, PatternInstance } from '../../../compiler/ir.js';
import { evalBool } from '../../../compiler/ir.js';
import { type ConcreteLayout, decodeToken, makeLayout } from '../../../compiler/layout.js';
import { emitAndLoad } from './js-dialect.js';

const runs = Number(process.env.TESSERA_TEST_RUNS ?? 40);

const c = (side: 'q' | 'k', axis: number): IntExpr => ({ op: 'coord', side, axis });
const k = (value: number): IntExpr => ({ op: 'const', value });

/** Attention Tile of SPEC §1.2 on the frame axis, written directly as IR. */
function attentionTile(frames: number, a: number): BoolExpr {
  const s = Math.ceil(frames / a);
  const global = (side: 'q' | 'k'): BoolExpr => ({
    op: 'and',
    args: [
      { op: 'cmp', cmp: 'eq', a: { op: 'mod', a: c(side, 0), b: k(s) }, b: k(0) },
      { op: 'cmp', cmp: 'lt', a: { op: 'div', a: c(side, 0), b: k(s) }, b: k(a) },
    ],
  });
  return { op: 'or', args: [{ op: 'cmp', cmp: 'eq', a: c('q', 0), b: c('k', 0) }, global('k'), global('q')] };
}

/** A predicate mixing segments, signed floor division and selects, to exercise every renderer path. */
function mixed(): BoolExpr {
  const diff: IntExpr = { op: 'sub', a: c('q', 1), b: c('k', 2) };
  return {
    op: 'or',
    args: [
      {
        op: 'and',
        args: [
          { op: 'segment', side: 'k', segment: 'text' },
          { op: 'segment', side: 'q', segment: 'video' },
        ],
      },
      {
        op: 'and',
        args: [
          { op: 'segment', side: 'q', segment: 'video' },
          { op: 'segment', side: 'k', segment: 'video' },
          { op: 'cmp', cmp: 'le', a: { op: 'abs', a: { op: 'div', a: diff, b: k(-3) } }, b: k(1) },
          { op: 'not', a: { op: 'inset', a: { op: 'mod', a: c('k', 0), b: k(4) }, values: [1, 2] } },
          {
            op: 'cmp',
            cmp: 'ge',
            a: { op: 'select', cond: { op: 'cmp', cmp: 'gt', a: c('q', 0), b: k(1) }, a: c('q', 0), b: k(7) },
            b: { op: 'max', a: c('k', 0), b: { op: 'min', a: c('k', 1), b: k(2) } },
          },
        ],
      },
    ],
  };
}

const layoutArb = fc
  .record({
    sizes: fc.tuple(
      fc.integer({ min: 1, max: 5 }),
      fc.integer({ min: 1, max: 5 }),
      fc.integer({ min: 1, max: 6 }),
    ),
    tiled: fc.boolean(),
    tile: fc.tuple(
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 1, max: 4 }),
    ),
    unitPad: fc.integer({ min: 1, max: 9 }),
    text: fc.option(
      fc.record({
        length: fc.integer({ min: 1, max: 7 }),
        position: fc.constantFrom('before' as const, 'after' as const),
        pad: fc.integer({ min: 1, max: 5 }),
      }),
    ),
  })
  .map(
    (r): ConcreteLayout =>
      makeLayout({
        name: 'random',
        videoAxes: ['t', 'h', 'w'],
        videoSizes: r.sizes,
        tile: r.tiled ? r.tile : null,
        unitPad: r.unitPad,
        text: r.text ? { axis: 'l', ...r.text } : null,
      }),
  );

describe('renderMaskFunctions (executed through a JavaScript dialect)', () => {
  it('decodes every index exactly like the reference decoder', () => {
    fc.assert(
      fc.property(layoutArb, (layout) => {
        const pattern: PatternInstance = {
          key: 'p',
          name: 'p',
          params: {},
          layout,
          predicate: { op: 'bool', value: true },
        };
        const emitted = emitAndLoad(pattern);
        for (let i = 0; i < layout.length; i++) {
          const ref = decodeToken(layout, i);
          const got = emitted.decode(i);
          if (ref === null) {
            expect(got.seg).toBe(SEGMENT_CODE.padding);
            continue;
          }
          expect(got.seg).toBe(SEGMENT_CODE[ref.segment]);
          for (let a = 0; a < layout.axisNames.length; a++) {
            if (ref.segment === 'video' ? a < layout.videoAxes.length : a === layout.videoAxes.length)
              expect(got[`c${a}`]).toBe(ref.coords[a]);
          }
        }
      }),
      { numRuns: runs },
    );
  });

  it('evaluates predicates exactly like evalBool on every real pair, and rejects padding', () => {
    fc.assert(
      fc.property(layoutArb, fc.boolean(), fc.integer({ min: 1, max: 5 }), (layout, useTile, a) => {
        const predicate = useTile
          ? attentionTile(layout.videoSizes[0]!, Math.min(a, layout.videoSizes[0]!))
          : mixed();
        const pattern: PatternInstance = { key: 'p', name: 'p', params: {}, layout, predicate };
        const emitted = emitAndLoad(pattern);
        const tokens = Array.from({ length: layout.length }, (_, i) => {
          const t = decodeToken(layout, i, []);
          return { ref: t, emitted: emitted.decode(i) };
        });
        for (const q of tokens) {
          for (const kk of tokens) {
            const expected = q.ref !== null && kk.ref !== null && evalBool(predicate, q.ref, kk.ref);
            expect(emitted.allowed(q.emitted, kk.emitted)).toBe(expected);
          }
        }
      }),
      { numRuns: runs },
    );
  });
});
