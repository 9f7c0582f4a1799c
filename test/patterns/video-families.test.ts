/**
 * The radial and Sparse VideoGen patterns against their references written out directly (Radial Attention's
 * get_window_width / get_diagonal_split_mask, SVG's spatial and temporal mask_mods) on every token pair of
 * small layouts, and their plans against brute-force classification.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { classifyBlocks } from '../../compiler/classify/classify.js';
import { bruteForceAllowedPairs, bruteForceClasses } from '../../compiler/classify/element-mask.js';
import { compileSource } from '../../compiler/frontend.js';
import { evalBool, type PatternInstance, type TokenCoords } from '../../compiler/ir.js';
import { decodeToken } from '../../compiler/layout.js';
import { buildPlan } from '../../compiler/plan/build.js';
import { findBuiltinPattern } from '../../patterns/index.js';

type Oracle = (q: TokenCoords, k: TokenCoords) => boolean;

function builtin(name: string, sizes: Record<string, number>, params: Record<string, number | boolean>) {
  const file = findBuiltinPattern(name)!.file;
  return compileSource({ name: file, text: readFileSync(file, 'utf8') }, { sizes, params });
}

function tokensOf(inst: PatternInstance): TokenCoords[] {
  const out: TokenCoords[] = [];
  for (let i = 0; i < inst.layout.length; i++) {
    const d = decodeToken(inst.layout, i, []);
    if (d) out.push({ segment: d.segment, coords: Array.from(d.coords) });
  }
  return out;
}

/** Python's int.bit_length for x >= 0. */
const bitLength = (x: number): number => (x === 0 ? 0 : x.toString(2).length);

/** Radial Attention's element mask (attn_mask.py) for frames of h x w tokens, in floating point as there. */
function radialOracle(h: number, w: number, decay: number, wan: boolean, block: number): Oracle {
  const n = h * w;
  return (q, k) => {
    const [qt, qh, qw] = q.coords as number[];
    const [kt, kh, kw] = k.coords as number[];
    if (kt === 0) return true;
    const dist = Math.abs(qt! - kt!);
    const undecayed = 2 ** bitLength(n) / 2 ** bitLength(dist);
    let width: number;
    if (dist < 1 || (!wan && dist === 1)) width = n;
    else if (dist === 1) width = Math.floor(n / 2);
    else width = Math.max(undecayed * (decay / 100), block);
    const kept = undecayed >= block || dist % Math.floor(block / undecayed) === 0;
    return kept && Math.abs(qh! * w + qw! - (kh! * w + kw!)) <= width;
  };
}

/** SVG's spatial-head mask_mod with the text after the video. */
function svgSpatialOracle(h: number, w: number, width: number, sink: boolean, round: number): Oracle {
  const band = Math.floor((width * h * w) / round) * round;
  const position = (c: ArrayLike<number>) => (c[0]! * h + c[1]!) * w + c[2]!;
  return (q, k) =>
    q.segment === 'text' ||
    k.segment === 'text' ||
    (sink && k.coords[0] === 0) ||
    Math.abs(position(q.coords) - position(k.coords)) < band;
}

/** SVG's temporal-head mask_mod with the text after the video. */
function svgTemporalOracle(t: number, h: number, w: number, width: number): Oracle {
  const band = Math.floor((width * h * w) / t);
  return (q, k) =>
    q.segment === 'text' ||
    k.segment === 'text' ||
    Math.abs(q.coords[1]! * w + q.coords[2]! - (k.coords[1]! * w + k.coords[2]!)) < band;
}

const cases: [string, Record<string, number>, Record<string, number | boolean>, Oracle][] = [
  [
    'radial',
    { t: 12, h: 4, w: 8 },
    { decay_percent: 20, wan: true, block: 4 },
    radialOracle(4, 8, 20, true, 4),
  ],
  [
    'radial',
    { t: 12, h: 4, w: 8 },
    { decay_percent: 100, wan: false, block: 4 },
    radialOracle(4, 8, 100, false, 4),
  ],
  [
    'radial',
    { t: 9, h: 3, w: 5 },
    { decay_percent: 35, wan: true, block: 3 },
    radialOracle(3, 5, 35, true, 3),
  ],
  [
    'svg_spatial',
    { t: 6, h: 3, w: 4, l: 5 },
    { width: 1, sink: true, round: 4 },
    svgSpatialOracle(3, 4, 1, true, 4),
  ],
  [
    'svg_spatial',
    { t: 6, h: 3, w: 4, l: 5 },
    { width: 2, sink: false, round: 5 },
    svgSpatialOracle(3, 4, 2, false, 5),
  ],
  ['svg_temporal', { t: 5, h: 3, w: 4, l: 3 }, { width: 2 }, svgTemporalOracle(5, 3, 4, 2)],
];

describe('radial and Sparse VideoGen patterns', () => {
  for (const [name, sizes, params, oracle] of cases) {
    const label = `${name} ${JSON.stringify(params)} on ${JSON.stringify(sizes)}`;

    it(`${label} equals its reference on every token pair`, () => {
      const inst = builtin(name, sizes, params);
      const tokens = tokensOf(inst);
      let allowed = 0;
      for (const q of tokens) {
        for (const k of tokens) {
          const expected = oracle(q, k);
          allowed += expected ? 1 : 0;
          expect(evalBool(inst.predicate, q, k), `${JSON.stringify(q)} -> ${JSON.stringify(k)}`).toBe(
            expected,
          );
        }
      }
      // The reference must neither allow everything nor nothing here, or the comparison proves little.
      expect(allowed).toBeGreaterThan(0);
      expect(allowed).toBeLessThan(tokens.length ** 2);
    });

    it(`${label} classifies blocks and counts allowed pairs exactly`, () => {
      const inst = builtin(name, sizes, params);
      for (const block of [3, 8, 16]) {
        expect(classifyBlocks(inst, block, block)).toEqual(bruteForceClasses(inst, block, block));
        expect(buildPlan(inst, block, block).stats.allowedPairs).toBe(bruteForceAllowedPairs(inst));
      }
    });
  }
});
