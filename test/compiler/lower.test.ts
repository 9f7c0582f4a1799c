import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileSource } from '../../compiler/frontend.js';
import { evalBool, type PatternInstance, type TokenCoords } from '../../compiler/ir.js';
import { decodeToken } from '../../compiler/layout.js';
import { instantiatePattern } from '../../compiler/lower.js';
import { type Diagnostic, TesseraError } from '../../dsl/diagnostics.js';
import { parseTile } from '../../dsl/parse.js';
import { findBuiltinPattern } from '../../patterns/index.js';
import { testRuns } from '../support/arbitraries/ast.js';

const runs = testRuns(100);

function libraryText(name: string): string {
  return readFileSync(findBuiltinPattern(name)!.file, 'utf8');
}

function compile(text: string, options: Parameters<typeof compileSource>[1] = {}): PatternInstance {
  return compileSource({ name: 'test.tile', text }, options);
}

function errorsOf(f: () => unknown): Diagnostic[] {
  try {
    f();
  } catch (error) {
    if (error instanceof TesseraError) return [...error.diagnostics];
    throw error;
  }
  throw new Error('expected a TesseraError');
}

const video = (...coords: number[]): TokenCoords => ({ segment: 'video', coords });

/** Every (query, key) pair of real tokens of an instance's layout, decoded by the layout's reference decoder. */
function* realPairs(inst: PatternInstance): Generator<[TokenCoords, TokenCoords]> {
  const tokens: TokenCoords[] = [];
  for (let i = 0; i < inst.layout.length; i++) {
    const d = decodeToken(inst.layout, i, []);
    if (d) tokens.push({ segment: d.segment, coords: Array.from(d.coords) });
  }
  for (const q of tokens) for (const k of tokens) yield [q, k];
}

/** SPEC §1.2 written out directly: the first `a` multiples of ceil(T / a) below T are global. */
function attentionTileOracle(T: number, a: number, i: number, j: number): boolean {
  const s = Math.ceil(T / a);
  const global = new Set<number>();
  for (let m = 0; m < a; m++) if (m * s < T) global.add(m * s);
  return i === j || global.has(j) || global.has(i);
}

describe('attention_tile lowering', () => {
  const text = libraryText('attention_tile');
  const source = { name: 'attention-tile.tile', text };
  const file = parseTile(source).file!;

  it('equals SPEC §1.2 on every frame pair for T in 1..24 and a in 1..T', () => {
    for (let T = 1; T <= 24; T++) {
      for (let a = 1; a <= T; a++) {
        const inst = instantiatePattern(file, source, { params: { a }, sizes: { t: T, h: 1, w: 1 } });
        expect(inst.key).toBe(`attention_tile_a${a}_t${T}x1x1`);
        let computed = 0;
        for (let i = 0; i < T; i++) {
          for (let j = 0; j < T; j++) {
            const got = evalBool(inst.predicate, video(i, 0, 0), video(j, 0, 0));
            if (got !== attentionTileOracle(T, a, i, j))
              throw new Error(`T=${T} a=${a} i=${i} j=${j}: got ${got}`);
            if (got) computed++;
          }
        }
        // The paper's tile count holds whenever all `a` global frames exist.
        if ((a - 1) * Math.ceil(T / a) < T) expect(computed).toBe((2 * a + 1) * T - a * (a + 1));
      }
    }
  });

  it('names the instance after its parameters and layout', () => {
    expect(compile(text, { sizes: { t: 8, h: 45, w: 80 } }).key).toBe('attention_tile_a2_t8x45x80');
  });

  it('reports a failing require with the user message at the require', () => {
    const [d, ...rest] = errorsOf(() => compile(text, { params: { a: 9 }, sizes: { t: 8, h: 1, w: 1 } }));
    expect(rest).toEqual([]);
    expect(d?.code).toBe('TP308');
    expect(d?.message).toBe('a (the number of global frames) must be between 1 and the frame count t');
    expect(d?.range.start.line).toBe(text.split('\n').findIndex((l) => l.includes('require')) + 1);
    expect(d?.hint).toContain('a = 9');
    // a = 0 would also divide by zero in `ceildiv(t, a)`; the require is what the user sees.
    expect(
      errorsOf(() => compile(text, { params: { a: 0 }, sizes: { t: 8, h: 1, w: 1 } })).map((x) => x.code),
    ).toEqual(['TP308']);
  });
});

describe('segment guards', () => {
  const layout = (position: string) => `layout vt(t, h) {\n  text(l) ${position}\n}\n`;

  it('make a coordinate comparison unknown on tokens of the other segment, so no rule applies there', () => {
    for (const position of ['after', 'before']) {
      const cases: [string, (q: TokenCoords, k: TokenCoords) => boolean][] = [
        [
          'q.t == k.t',
          (q, k) => q.segment === 'video' && k.segment === 'video' && q.coords[0] === k.coords[0],
        ],
        [
          '!(q.t == k.t)',
          (q, k) => q.segment === 'video' && k.segment === 'video' && q.coords[0] !== k.coords[0],
        ],
        [
          '!(q.t == k.t) || q in text',
          (q, k) => q.segment === 'text' || (k.segment === 'video' && q.coords[0] !== k.coords[0]),
        ],
        ['q.l < 2', (q) => q.segment === 'text' && q.coords[2]! < 2],
        ['q.h in {0, 2}', (q) => q.segment === 'video' && [0, 2].includes(q.coords[1]!)],
        [
          'k.l in 1..3 || q in text',
          (q, k) => (k.segment === 'text' && k.coords[2]! >= 1 && k.coords[2]! < 3) || q.segment === 'text',
        ],
        [
          'q.t + k.l == 1',
          (q, k) => q.segment === 'video' && k.segment === 'text' && q.coords[0]! + k.coords[2]! === 1,
        ],
      ];
      for (const [rule, oracle] of cases) {
        const inst = compile(`${layout(position)}pattern p() on vt { attend ${rule} }`, {
          sizes: { t: 3, h: 3, l: 4 },
        });
        for (const [q, k] of realPairs(inst)) {
          if (evalBool(inst.predicate, q, k) !== oracle(q, k))
            throw new Error(`${rule} (${position}) at ${JSON.stringify([q, k])}`);
        }
      }
    }
  });

  it('note (TP316) a negation that stays unknown on tokens lacking an axis, only on layouts with text', () => {
    const rule = 'pattern p() on vt {\n  attend !(q.t == k.t) || !(q in text)\n}';
    const notes: Diagnostic[] = [];
    compile(`${layout('after')}${rule}`, { sizes: { t: 2, h: 2, l: 2 }, notes });
    expect(notes.map((n) => [n.code, n.severity, n.range.start.line, n.range.start.column])).toEqual([
      ['TP316', 'info', 5, 10],
    ]);
    const none: Diagnostic[] = [];
    compile('layout vt(t, h)\npattern p() on vt { attend !(q.t == k.t) }', {
      sizes: { t: 2, h: 2 },
      notes: none,
    });
    expect(none).toEqual([]);
  });

  it('fold to nothing on a layout without text', () => {
    const inst = compile('layout v(t)\npattern p() on v { attend q in video && q.t == k.t }', {
      sizes: { t: 4 },
    });
    expect(inst.predicate).toEqual({
      op: 'cmp',
      cmp: 'eq',
      a: { op: 'coord', side: 'q', axis: 0 },
      b: { op: 'coord', side: 'k', axis: 0 },
    });
  });

  it('give text_video its meaning: text sees all, all see text, video follows Attention Tile', () => {
    const inst = compile(libraryText('text_video'), { params: { a: 2 }, sizes: { t: 5, h: 2, w: 1, l: 3 } });
    expect(inst.key).toBe('text_video_a2_t5x2x1_l3');
    for (const [q, k] of realPairs(inst)) {
      const expected =
        q.segment === 'text' || k.segment === 'text' || attentionTileOracle(5, 2, q.coords[0]!, k.coords[0]!);
      expect(evalBool(inst.predicate, q, k)).toBe(expected);
    }
  });
});

describe('the other library patterns', () => {
  const sizes = { t: 5, h: 3, w: 2 };
  const families: [string, Record<string, number | boolean>, (q: number[], k: number[]) => boolean][] = [
    ['full', {}, () => true],
    ['causal', { token: false }, (q, k) => k[0]! <= q[0]!],
    ['causal', { token: true }, (q, k) => (k[0]! * 3 + k[1]!) * 2 + k[2]! <= (q[0]! * 3 + q[1]!) * 2 + q[2]!],
    ['frame_window', { r: 1 }, (q, k) => Math.abs(q[0]! - k[0]!) <= 1],
    ['spatial', {}, (q, k) => q[0] === k[0]],
    ['temporal', {}, (q, k) => q[1] === k[1] && q[2] === k[2]],
    ['dilated_frames', { d: 2, r: 0 }, (q, k) => Math.abs(q[0]! - k[0]!) % 2 === 0],
    [
      'dilated_frames',
      { d: 2, r: 1 },
      (q, k) => Math.abs(q[0]! - k[0]!) % 2 === 0 && Math.abs(q[0]! - k[0]!) <= 2,
    ],
  ];
  for (const [name, params, oracle] of families) {
    it(`${name} ${JSON.stringify(params)} matches its definition`, () => {
      const inst = compile(libraryText(name), { params, sizes });
      for (const [q, k] of realPairs(inst))
        expect(evalBool(inst.predicate, q, k)).toBe(oracle(Array.from(q.coords), Array.from(k.coords)));
    });
  }

  it('sliding_tile keeps a clamped window of tiles', () => {
    const inWindow = (qt: number, kt: number, n: number, w: number) => {
      const win = Math.min(w, n);
      const start = Math.min(Math.max(qt - Math.floor(win / 2), 0), n - win);
      return kt >= start && kt < start + win;
    };
    const text = libraryText('sliding_tile');
    const cases = [
      { params: { wt: 3, wh: 1, ww: 2 }, sizes: { t: 7, h: 5, w: 6, tt: 2, th: 2, tw: 3 } },
      { params: { wt: 5, wh: 2, ww: 9 }, sizes: { t: 6, h: 4, w: 7, tt: 1, th: 3, tw: 2 } },
    ];
    for (const { params, sizes: s } of cases) {
      const inst = compile(text, { params, sizes: s });
      expect(inst.layout.tiled).toBe(true);
      const n = [Math.ceil(s.t / s.tt), Math.ceil(s.h / s.th), Math.ceil(s.w / s.tw)];
      const extent = [s.tt, s.th, s.tw];
      const win = [params.wt, params.wh, params.ww];
      for (const [q, k] of realPairs(inst)) {
        const expected = [0, 1, 2].every((ax) =>
          inWindow(
            Math.floor(q.coords[ax]! / extent[ax]!),
            Math.floor(k.coords[ax]! / extent[ax]!),
            n[ax]!,
            win[ax]!,
          ),
        );
        expect(evalBool(inst.predicate, q, k)).toBe(expected);
      }
    }
    expect(compile(text, { sizes: { t: 12, h: 48, w: 80 } }).key).toBe(
      'sliding_tile_wt3_wh3_ww3_t12x48x80_tile6x8x8',
    );
  });
});

describe('arithmetic semantics', () => {
  const ops: [string, (x: number, y: number, z: number) => number, (y: number) => boolean][] = [
    ['ceildiv(x, y)', (x, y) => Math.ceil(x / y), (y) => y !== 0],
    ['floordiv(x, y)', (x, y) => Math.floor(x / y), (y) => y !== 0],
    ['x / y', (x, y) => Math.floor(x / y), (y) => y !== 0],
    ['x % y', (x, y) => x - y * Math.floor(x / y), (y) => y !== 0],
    ['clamp(x, y, z)', (x, y, z) => Math.min(Math.max(x, y), z), () => true],
    [
      'abs(x) - min(y, z) + max(x, z)',
      (x, y, z) => Math.abs(x) - Math.min(y, z) + Math.max(x, z),
      () => true,
    ],
    ['if x < y then x * 2 else -z', (x, y, z) => (x < y ? x * 2 : -z), () => true],
  ];
  for (const [expr, oracle, valid] of ops) {
    it(`${expr} folds to what the language defines`, () => {
      const small = fc.integer({ min: -30, max: 30 });
      fc.assert(
        fc.property(small, small.filter(valid), small, (x, y, z) => {
          // q.t - 200 runs over -200..200, so exactly one query frame matches the folded value.
          const text = `layout v(t)\npattern p(x: int = 0, y: int = 1, z: int = 0) on v { attend q.t - 200 == (${expr}) }`;
          const inst = compile(text, { params: { x, y, z }, sizes: { t: 401 } });
          expect(inst.predicate.op).toBe('cmp');
          const hits = [];
          for (let f = 0; f < 401; f++) if (evalBool(inst.predicate, video(f), video(0))) hits.push(f - 200);
          expect(hits).toEqual([oracle(x, y, z) + 0]);
        }),
        { numRuns: Math.max(10, Math.floor(runs / 5)) },
      );
    });
  }

  it('divides by a token-dependent zero as 0, and rejects a constant zero divisor', () => {
    const inst = compile('layout v(t)\npattern p() on v { attend q.t / k.t == 0 && q.t % k.t == 0 }', {
      sizes: { t: 3 },
    });
    expect(evalBool(inst.predicate, video(2), video(0))).toBe(true);
    expect(evalBool(inst.predicate, video(2), video(1))).toBe(false);
    const zero = 'layout v(t)\npattern p(a: int = 2) on v {\n  attend q.t % (a - 2) == 0\n}';
    const [d] = errorsOf(() => compile(zero, { sizes: { t: 3 } }));
    expect([d?.code, d?.range.start.line, d?.range.start.column]).toEqual(['TP309', 3, 16]);
    expect(
      errorsOf(() =>
        compile('layout v(t)\npattern p() on v { attend ceildiv(q.t, 0) == 0 }', { sizes: { t: 3 } }),
      )[0]?.code,
    ).toBe('TP309');
  });

  it('warns (TP315) at a divisor whose range over the layout includes 0, and only there', () => {
    const text = 'layout v(t)\npattern p() on v {\n  attend q.t / (k.t - 1) == 0 || q.t % (k.t + 1) == 1\n}';
    const warnings: Diagnostic[] = [];
    const inst = compile(text, { sizes: { t: 3 }, notes: warnings });
    expect(warnings.map((w) => [w.code, w.severity, w.range.start.line, w.range.start.column])).toEqual([
      ['TP315', 'warning', 3, 16],
    ]);
    expect(warnings[0]!.message).toContain('-1..=1');
    // The documented rule: the quotient is 0 where the divisor is (k.t = 1), so the first rule allows it.
    expect(evalBool(inst.predicate, video(2), video(1))).toBe(true);
    // A divisor that cannot be 0 over these sizes (k.t - 1 with t = 1 is always -1) is not reported.
    const quiet: Diagnostic[] = [];
    compile(text, { sizes: { t: 1 }, notes: quiet });
    expect(quiet).toEqual([]);
  });

  it('rejects values outside 32 bits, bounding coordinates by the layout', () => {
    const text = 'layout v(t, h)\npattern p(a: int = 1) on v {\n  attend q.t * a == k.h\n}';
    expect(() => compile(text, { params: { a: 1_000_000 }, sizes: { t: 2000, h: 2 } })).not.toThrow();
    const [d] = errorsOf(() => compile(text, { params: { a: 1_000_000 }, sizes: { t: 3000, h: 2 } }));
    expect([d?.code, d?.range.start.line, d?.range.start.column]).toEqual(['TP310', 3, 10]);
    const folded = 'layout v(t)\npattern p() on v {\n  let big = 65536 * 65536\n  attend q.t < big / big\n}';
    expect(
      errorsOf(() => compile(folded, { sizes: { t: 2 } })).map((x) => [x.code, x.range.start.line]),
    ).toEqual([['TP310', 3]]);
    const inHelper =
      'layout v(t)\npattern p() on v {\n  fn twice(x) = x * 2\n  attend twice(q.t + 2147483000) > 0\n}';
    const [h] = errorsOf(() => compile(inHelper, { sizes: { t: 8 } }));
    expect(h?.code).toBe('TP310');
    expect(h?.hint).toContain('`twice` called at 4:10');
  });
});

describe('log2 and pow2', () => {
  it('take floor log2 and powers of two, matching Math at every frame distance', () => {
    const text = 'layout v(t)\npattern p() on v {\n  attend pow2(log2(max(abs(q.t - k.t), 1))) == k.t\n}';
    const inst = compile(text, { sizes: { t: 40 } });
    for (let q = 0; q < 40; q++) {
      for (let k = 0; k < 40; k++) {
        const expected = 2 ** Math.floor(Math.log2(Math.max(Math.abs(q - k), 1))) === k;
        expect(evalBool(inst.predicate, video(q), video(k)), `${q}, ${k}`).toBe(expected);
      }
    }
  });

  it('rejects log2 of a value that can be below 1 on the layout, pointing at the argument', () => {
    const text = 'layout v(t)\npattern p() on v {\n  attend log2(abs(q.t - k.t)) <= 2\n}';
    const [d] = errorsOf(() => compile(text, { sizes: { t: 8 } }));
    expect([d?.code, d?.range.start.line, d?.range.start.column]).toEqual(['TP317', 3, 15]);
    expect(d?.message).toContain('can be 0');
    expect(d?.hint).toContain('max(x, 1)');
    // The same argument is fine once clamped, and on a layout where it cannot reach 0.
    expect(() =>
      compile('layout v(t)\npattern p() on v { attend log2(q.t + 1) <= 2 }', { sizes: { t: 8 } }),
    ).not.toThrow();
  });

  it('rejects pow2 of a value that can be negative or above 30', () => {
    const negative = 'layout v(t)\npattern p() on v {\n  attend pow2(q.t - k.t) <= 2\n}';
    const [n] = errorsOf(() => compile(negative, { sizes: { t: 8 } }));
    expect([n?.code, n?.message]).toEqual([
      'TP318',
      'the argument of `pow2` can be -7; pow2 takes exponents from 0 to 30',
    ]);
    const large = 'layout v(t)\npattern p(s: int = 0) on v {\n  attend pow2(q.t + s) <= 2\n}';
    expect(() => compile(large, { sizes: { t: 8 }, params: { s: 23 } })).not.toThrow();
    const [l] = errorsOf(() => compile(large, { sizes: { t: 8 }, params: { s: 24 } }));
    expect([l?.code, l?.message]).toEqual([
      'TP318',
      'the argument of `pow2` can be 31; pow2 takes exponents from 0 to 30',
    ]);
  });
});

describe('binding parameters and sizes', () => {
  const text =
    'layout v(t, h) {\n  size h = 4\n}\npattern p(a: int = 2, on_off: bool = true, n: int) on v {\n  attend q.t + n >= a || on_off\n}';
  const codes = (f: () => unknown) => errorsOf(f).map((d) => d.code);

  it('applies defaults and overrides, and names the instance with them', () => {
    const inst = compile(text, { params: { n: -3, on_off: false }, sizes: { t: 5 } });
    expect(inst.params).toEqual({ a: 2, on_off: false, n: -3 });
    expect(inst.key).toBe('p_a2_on_off0_nm3_t5x4');
    expect(inst.layout.videoSizes).toEqual([5, 4]);
  });

  it('records where the pattern is declared: file, and the range from `pattern` to its name', () => {
    const inst = compile(text, { params: { n: 1 }, sizes: { t: 5 } });
    expect(inst.declaration?.file).toBe('test.tile');
    const { start, end } = inst.declaration!.range;
    expect([start.line, start.column, end.line, end.column]).toEqual([4, 1, 4, 10]);
    expect(text.slice(start.offset, end.offset)).toBe('pattern p');
  });

  it('rejects unknown, ill-typed and missing parameters, listing the valid ones', () => {
    const [unknown] = errorsOf(() => compile(text, { params: { n: 1, b: 2 }, sizes: { t: 5 } }));
    expect(unknown?.code).toBe('TP302');
    expect(unknown?.message).toContain('`b`');
    expect(unknown?.hint).toContain('`a: int`, `on_off: bool`, `n: int`');
    expect(codes(() => compile(text, { params: { n: true }, sizes: { t: 5 } }))).toEqual(['TP303']);
    expect(codes(() => compile(text, { params: { n: 1, on_off: 1 }, sizes: { t: 5 } }))).toEqual(['TP303']);
    expect(codes(() => compile(text, { params: { n: 2 ** 40 }, sizes: { t: 5 } }))).toEqual(['TP303']);
    expect(codes(() => compile(text, { sizes: { t: 5 } }))).toEqual(['TP304']);
  });

  it('rejects unknown, missing and non-positive sizes', () => {
    const [unknown] = errorsOf(() => compile(text, { params: { n: 1 }, sizes: { t: 5, w: 3 } }));
    expect(unknown?.code).toBe('TP305');
    expect(unknown?.hint).toContain('its sizes: `t`, `h`');
    expect(codes(() => compile(text, { params: { n: 1 } }))).toEqual(['TP306']);
    expect(codes(() => compile(text, { params: { n: 1 }, sizes: { t: 0 } }))).toEqual(['TP307']);
    expect(codes(() => compile(text, { params: { n: 1 }, sizes: { t: 2.5, h: -1 } }))).toEqual([
      'TP307',
      'TP307',
    ]);
    const tiled = 'layout v(t) {\n  size e = 0\n  tiles(e)\n}\npattern p() on v { attend true }';
    expect(codes(() => compile(tiled, { sizes: { t: 4 } }))).toEqual(['TP307']);
    expect(
      codes(() =>
        compile('layout v(t, h)\npattern p() on v { attend true }', { sizes: { t: 65536, h: 65536 } }),
      ),
    ).toEqual(['TP307']);
  });

  it('chooses the pattern by name when a file has several', () => {
    const two = 'layout v(t)\npattern one() on v { attend true }\npattern two() on v { attend false }';
    expect(codes(() => compile(two, { sizes: { t: 2 } }))).toEqual(['TP301']);
    expect(compile(two, { pattern: 'two', sizes: { t: 2 } }).predicate).toEqual({ op: 'bool', value: false });
    const [typo] = errorsOf(() => compile(two, { pattern: 'tow', sizes: { t: 2 } }));
    expect([typo?.code, typo?.hint]).toEqual(['TP301', 'did you mean `two`?']);
  });

  it('builds padded and tiled layouts', () => {
    const padded = compile(
      'layout v(t, h, w) {\n  text(l) before\n  pad frame to 8\n  pad text to 4\n}\npattern p() on v { attend true }',
      { sizes: { t: 2, h: 3, w: 2, l: 5 } },
    );
    expect([
      padded.layout.unitSlot,
      padded.layout.textSlots,
      padded.layout.textPosition,
      padded.layout.length,
    ]).toEqual([8, 8, 'before', 24]);
    const tiled = compile(
      'layout v(t, h, w) {\n  size tt = 2, th = 2, tw = 2\n  tiles(tt, th, tw)\n  pad tile to 16\n}\npattern p() on v { attend true }',
      { sizes: { t: 3, h: 3, w: 3 } },
    );
    expect([tiled.layout.tile, tiled.layout.grid, tiled.layout.unitSlot]).toEqual([[2, 2, 2], [2, 2, 2], 16]);
  });

  it('turns deny rules into exclusions', () => {
    const inst = compile(
      'layout v(t)\npattern p() on v {\n  attend true\n  deny q.t == k.t\n  deny q.t == 0\n}',
      { sizes: { t: 3 } },
    );
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 3; j++)
        expect(evalBool(inst.predicate, video(i), video(j))).toBe(i !== j && i !== 0);
  });

  it('reports every front-end stage as one TesseraError', () => {
    expect(codes(() => compile('pattern ('))[0]).toMatch(/^TP1/);
    expect(codes(() => compile('layout v(t)\npattern p() on v { attend foo }'))).toEqual(['TP202']);
  });
});
