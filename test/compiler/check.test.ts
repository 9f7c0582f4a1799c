import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkTile } from '../../compiler/check/index.js';
import { editDistance } from '../../compiler/check/suggest.js';
import { renderDiagnostics } from '../../dsl/diagnostics.js';
import { parseTile } from '../../dsl/parse.js';
import { BUILTIN_PATTERNS } from '../../patterns/index.js';

function check(text: string) {
  const parsed = parseTile({ name: 'bad.tile', text });
  if (!parsed.file) throw new Error(parsed.diagnostics.map((d) => d.message).join('\n'));
  return checkTile(parsed.file, 'bad.tile');
}

function where(text: string): string[] {
  return check(text).map((d) => `${d.code} ${d.range.start.line}:${d.range.start.column}`);
}

const V = 'layout v(t, h, w)\n';

describe('checkTile', () => {
  for (const p of BUILTIN_PATTERNS) {
    it(`accepts the library file ${p.name}`, () => {
      const text = readFileSync(p.file, 'utf8');
      expect(check(text)).toEqual([]);
    });
  }

  const cases: [string, string, string[]][] = [
    ['duplicate let', `${V}pattern p() on v {\n  let s = 1\n  let s = 2\n  attend true\n}`, ['TP201 4:7']],
    ['parameter named like a layout size', `${V}pattern p(w: int = 1) on v { attend true }`, ['TP201 2:11']],
    ['duplicate layout axis', 'layout v(t, t)\npattern p() on v { attend true }', ['TP201 1:13']],
    [
      'unknown name',
      `${V}pattern p() on v {\n  let stride = 2\n  attend q.t % strid == 0\n}`,
      ['TP202 4:16'],
    ],
    ['bare token name', `${V}pattern p() on v { attend q == 1 }`, ['TP202 2:27']],
    ['unknown function', `${V}pattern p() on v { attend maxx(q.t, 1) == 1 }`, ['TP203 2:27']],
    ['unknown layout', `${V}pattern p() on vid { attend true }`, ['TP204 2:16']],
    ['builtin arity', `${V}pattern p() on v { attend min(q.t) == 1 }`, ['TP205 2:27']],
    [
      'helper arity',
      `${V}pattern p() on v {\n  fn near(x, y) = abs(x - y) <= 1\n  attend near(q.t)\n}`,
      ['TP205 4:10'],
    ],
    ['int operand of &&', `${V}pattern p() on v { attend q.t && true }`, ['TP206 2:27']],
    ['comparing bool with int', `${V}pattern p() on v { attend (q.t == 1) == 2 }`, ['TP206 2:27']],
    ['let annotation', `${V}pattern p() on v {\n  let x: bool = 3\n  attend x\n}`, ['TP206 3:17']],
    ['helper argument type', `${V}pattern p() on v {\n  fn g(x: bool) = x\n  attend g(1)\n}`, ['TP206 4:12']],
    ['attend on an int', `${V}pattern p() on v { attend q.t }`, ['TP207 2:27']],
    ['if condition', `${V}pattern p() on v { attend if q.t then true else false }`, ['TP207 2:30']],
    ['if branches', `${V}pattern p() on v { attend if q.t == 0 then 1 else false }`, ['TP208 2:27']],
    [
      'recursive helper',
      `${V}pattern p() on v {\n  fn f(x) = f(x - 1) + 1\n  attend f(q.t) == 0\n}`,
      ['TP209 3:6'],
    ],
    [
      'let cycle',
      `${V}pattern p() on v {\n  let a2 = b2 + 1\n  let b2 = a2\n  attend q.t == a2\n}`,
      ['TP209 3:7'],
    ],
    ['default not constant', `${V}pattern p(a: int = t) on v { attend true }`, ['TP210 2:20']],
    ['unknown axis', `${V}pattern p() on v { attend q.tt == 0 }`, ['TP211 2:29']],
    ['text axis without text', `${V}pattern p() on v { attend q.l == 0 }`, ['TP211 2:29']],
    ['text segment without text', `${V}pattern p() on v { attend q in text }`, ['TP212 2:27']],
    ['no attend', `${V}pattern p() on v { deny q.t == 0 }`, ['TP213 2:9']],
    ['reserved name', `${V}pattern p() on v {\n  let video = 1\n  attend true\n}`, ['TP214 3:7']],
    [
      'require reading tokens',
      `${V}pattern p() on v {\n  require q.t >= 0 else "no"\n  attend true\n}`,
      ['TP215 3:11'],
    ],
    [
      'require through a let',
      `${V}pattern p() on v {\n  let d = q.t - k.t\n  require d >= 0 else "no"\n  attend true\n}`,
      ['TP215 4:11'],
    ],
    [
      'tiles extents count',
      'layout v(t, h, w) { tiles(1, 8) }\npattern p() on v { attend true }',
      ['TP216 1:21'],
    ],
    [
      'pad tile on an untiled layout',
      'layout v(t, h, w) { pad tile to 64 }\npattern p() on v { attend true }',
      ['TP216 1:21'],
    ],
    [
      'coordinates in a layout',
      'layout v(t, h, w) { tiles(q.t, 1, 1) }\npattern p() on v { attend true }',
      ['TP217 1:27'],
    ],
    [
      'text axis visible with text',
      'layout v(t) { text(l) after }\npattern p() on v { attend q.l < l && q in text }',
      [],
    ],
    [
      'file-level helper',
      'fn near(x, y, r) = abs(x - y) <= r\nlayout v(t)\npattern p() on v { attend near(q.t, k.t, 1) }',
      [],
    ],
  ];
  for (const [name, text, expected] of cases) {
    it(name, () => expect(where(text)).toEqual(expected));
  }

  it('reports all errors at once', () => {
    const text = `${V}pattern p() on v {\n  attend q.x == 0\n  attend foo\n  deny 1\n}\npattern p() on u { attend true }`;
    expect(check(text).map((d) => d.code)).toEqual(['TP211', 'TP202', 'TP207', 'TP201', 'TP204']);
  });

  it('suggests the closest name', () => {
    const text = `${V}pattern p() on v {\n  let stride = 2\n  attend q.t % strid == 0\n}`;
    expect(renderDiagnostics(check(text), { name: 'bad.tile', text })).toMatchInlineSnapshot(`
      "bad.tile:4:16: error TP202: unknown name \`strid\`
      4 |   attend q.t % strid == 0
        |                ^^^^^
        hint: did you mean \`stride\`?"
    `);
  });

  it('explains axes that do not exist', () => {
    const text = `${V}pattern p() on v { attend q.l == k.l }`;
    const [first] = check(text);
    expect(first?.message).toBe('`l` is not an axis of layout `v`');
    expect(first?.hint).toBe('did you mean `h`?');
    const [far] = check(`${V}pattern p() on v { attend q.frame == 0 }`);
    expect(far?.hint).toBe('known axes: `h`, `t`, `w`');
  });

  it('computes edit distances', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('same', 'same')).toBe(0);
    expect(editDistance('tow', 'two')).toBe(1);
  });
});
