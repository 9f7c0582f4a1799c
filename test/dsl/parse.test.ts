import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { AttendRule, BinaryExpr, PatternDecl } from '../../dsl/ast.js';
import { renderDiagnostics } from '../../dsl/diagnostics.js';
import { parseTile } from '../../dsl/parse.js';
import { BUILTIN_PATTERNS } from '../../patterns/index.js';

function parse(text: string) {
  return parseTile({ name: 'bad.tile', text });
}

/** `code line:column` of each diagnostic, the shape the table below is written in. */
function where(text: string): string[] {
  return parse(text).diagnostics.map((d) => `${d.code} ${d.range.start.line}:${d.range.start.column}`);
}

describe('parseTile on the pattern library', () => {
  for (const p of BUILTIN_PATTERNS) {
    it(`parses ${p.name} without diagnostics`, () => {
      const result = parseTile({ name: p.file, text: readFileSync(p.file, 'utf8') });
      expect(result.diagnostics).toEqual([]);
      const patterns = result.file!.items.filter((i) => i.kind === 'PatternDecl');
      expect(patterns.map((x) => x.name.name)).toEqual([p.name]);
    });
  }
});

describe('AST shape and ranges', () => {
  const text = 'layout v(t)\npattern p(a: int = 2) on v {\n  attend q.t + 1 < k.t * a\n}\n';
  const file = parse(text).file!;
  const pattern = file.items[1] as PatternDecl;
  const cond = (pattern.items[0] as AttendRule).condition as BinaryExpr;

  it('builds precedence into the tree', () => {
    expect(cond.op).toBe('<');
    expect((cond.left as BinaryExpr).op).toBe('+');
    expect((cond.right as BinaryExpr).op).toBe('*');
  });

  it('gives 1-based lines and columns, 0-based offsets and exclusive ends', () => {
    expect(cond.range.start).toEqual({ line: 3, column: 10, offset: text.indexOf('q.t') });
    expect(cond.range.end).toEqual({ line: 3, column: 27, offset: text.indexOf('\n}') });
    expect(text.slice(cond.range.start.offset, cond.range.end.offset)).toBe('q.t + 1 < k.t * a');
    expect(text.slice(pattern.range.start.offset, pattern.range.end.offset)).toMatch(/^pattern p[\s\S]*}$/);
    expect(text.slice(pattern.name.range.start.offset, pattern.name.range.end.offset)).toBe('p');
  });

  it('parses `in` tests and segments', () => {
    const f = parse(
      'layout v(t) { text(l) before }\npattern p() on v { attend q.t in 0..=3 && k.t in {1, 2} && q in text && !(k in video) }',
    ).file!;
    const attend = (f.items[1] as PatternDecl).items[0] as AttendRule;
    const kinds: string[] = [];
    const walk = (e: unknown) => {
      if (typeof e !== 'object' || e === null) return;
      const kind = (e as { kind?: string }).kind;
      if (kind && kind !== 'Identifier') kinds.push(kind);
      for (const [k, v] of Object.entries(e)) if (k !== 'range') Array.isArray(v) ? v.forEach(walk) : walk(v);
    };
    walk(attend.condition);
    expect(kinds).toContain('RangeTest');
    expect(kinds).toContain('SetTest');
    expect(kinds.filter((k) => k === 'SegmentTest')).toHaveLength(2);
  });

  it('keeps comments with their ranges', () => {
    const f = parse('// head\nlayout v(t) /* inline */\n').file!;
    expect(f.comments?.map((c) => c.text)).toEqual(['// head', '/* inline */']);
    expect(f.comments?.[1]?.range.start).toEqual({ line: 2, column: 13, offset: 20 });
  });
});

describe('syntax errors', () => {
  const cases: [string, string, string[]][] = [
    ['unknown character', 'layout v(t)\npattern p() on v { attend q.t == 2 @ }', ['TP101 2:36']],
    ['unterminated block comment', 'layout v(t)\n/* never closed\npattern', ['TP102 2:1']],
    [
      'unterminated string',
      'layout v(t)\npattern p() on v {\n  require true else "oops\n  attend true\n}',
      ['TP103 3:21'],
    ],
    [
      'integer literal too large',
      'layout v(t)\npattern p() on v { attend q.t < 99999999999999999999 }',
      ['TP104 2:33'],
    ],
    ['unclosed call', 'layout v(t)\npattern p() on v {\n  attend min(q.t, 3 == 2\n}', ['TP106 4:1']],
    ['= for ==', 'layout v(t)\npattern p() on v {\n  attend q.t = k.t\n}', ['TP107 3:14']],
    [
      'chained comparison',
      'layout v(t)\npattern p(a: int = 1) on v {\n  require 1 <= a <= t else "x"\n  attend true\n}',
      ['TP108 3:18'],
    ],
    ['coordinate of a non-token', 'layout v(t)\npattern p() on v { attend x.t == 0 }', ['TP109 2:27']],
    ['bad in target', 'layout v(t)\npattern p() on v { attend q in frames }', ['TP110 2:32']],
    ['unknown type', 'layout v(t)\npattern p(a: float = 1) on v { attend true }', ['TP111 2:14']],
    ['bad text position', 'layout v(t) {\n  text(l) later\n}', ['TP112 2:11']],
    ['bad pad unit', 'layout v(t) {\n  pad frames to 128\n}', ['TP113 2:7']],
    ['missing pattern body', 'layout v(t)\npattern p() on v', ['TP105 2:17']],
    ['garbage at top level', 'layout v(t)\n42', ['TP105 2:1']],
  ];
  for (const [name, text, expected] of cases) {
    it(name, () => {
      expect(where(text)).toEqual(expected);
      expect(parse(text).file).toBeNull();
    });
  }

  it('reports several syntax errors in one run', () => {
    const text =
      'layout v(t)\npattern p() on v {\n  attend q.t = k.t\n}\npattern r() on v {\n  attend (q.t\n}\npattern s() on v { deny }';
    const codes = parse(text).diagnostics.map((d) => d.code);
    expect(codes.length).toBeGreaterThanOrEqual(3);
    expect(codes).toContain('TP107');
  });

  it('points an unclosed bracket back at where it was opened', () => {
    const text = 'layout v(t)\npattern p() on v {\n  attend min(q.t, 3 == 2\n}';
    expect(renderDiagnostics(parse(text).diagnostics, { name: 'bad.tile', text })).toMatchInlineSnapshot(`
      "bad.tile:4:1: error TP106: expected \`)\`, found \`}\`
      4 | }
        | ^
        hint: expected \`)\` to close the call of \`min\` opened at 3:13"
    `);
  });

  it('renders the `=` hint with the source line and a caret', () => {
    const text = 'layout v(t)\npattern p() on v {\n  attend q.t = k.t\n}';
    expect(renderDiagnostics(parse(text).diagnostics, { name: 'bad.tile', text })).toMatchInlineSnapshot(`
      "bad.tile:3:14: error TP107: expected \`}\`, found \`=\`
      3 |   attend q.t = k.t
        |              ^
        hint: \`=\` gives a name its value; to compare two values write \`==\`"
    `);
  });

  it('rejects nesting deeper than the limit without crashing', () => {
    const deep = `layout v(t)\npattern p() on v { attend ${'('.repeat(300)}true${')'.repeat(300)} }`;
    expect(parse(deep).diagnostics.map((d) => d.code)).toEqual(['TP114']);
    const huge = `pattern p() on v { attend ${'('.repeat(50_000)}`;
    expect(() => parse(huge)).not.toThrow();
    expect(parse(huge).diagnostics.length).toBeGreaterThan(0);
    const prefix = `pattern p() on v { attend ${'-'.repeat(50_000)}1 }`;
    expect(parse(prefix).diagnostics.length).toBeGreaterThan(0);
  });
});
