import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatTile } from '../../dsl/format.js';
import { parseTile } from '../../dsl/parse.js';
import { BUILTIN_PATTERNS } from '../../patterns/index.js';
import { stripRanges, testRuns, tileFileArb } from '../support/arbitraries/ast.js';

const runs = testRuns(200);

function reparse(text: string) {
  const result = parseTile({ name: 'formatted.tile', text });
  if (!result.file)
    throw new Error(
      `formatted text does not parse:\n${text}\n${result.diagnostics.map((d) => d.message).join('\n')}`,
    );
  return result.file;
}

describe('formatTile', () => {
  it('round-trips random ASTs: parse(format(ast)) is ast, up to ranges and parentheses it had to add', () => {
    fc.assert(
      fc.property(tileFileArb, (ast) => {
        const back = reparse(formatTile(ast));
        expect(stripRanges(back, true)).toEqual(stripRanges(ast, true));
      }),
      { numRuns: runs },
    );
  });

  it('round-trips parsed files exactly, parentheses included', () => {
    fc.assert(
      fc.property(tileFileArb, (ast) => {
        const parsed = reparse(formatTile(ast));
        expect(stripRanges(reparse(formatTile(parsed)))).toEqual(stripRanges(parsed));
      }),
      { numRuns: runs },
    );
  });

  it('is idempotent', () => {
    fc.assert(
      fc.property(tileFileArb, (ast) => {
        const once = formatTile(ast);
        expect(formatTile(reparse(once))).toBe(once);
      }),
      { numRuns: runs },
    );
  });

  it("keeps only the parentheses the grammar needs, plus the user's own", () => {
    const text = 'layout v(t)\npattern p() on v { attend ((q.t + 1)) * 2 < k.t && !(q in video) }\n';
    const formatted = formatTile(reparse(text));
    expect(formatted).toContain('attend ((q.t + 1)) * 2 < k.t && !(q in video)');
  });

  for (const p of BUILTIN_PATTERNS) {
    it(`leaves the library file ${p.name} stable and keeps its comments`, () => {
      const text = readFileSync(p.file, 'utf8');
      const file = reparse(text);
      const formatted = formatTile(file);
      expect(formatTile(reparse(formatted))).toBe(formatted);
      expect(stripRanges(reparse(formatted))).toEqual(stripRanges(file));
      for (const c of file.comments ?? []) expect(formatted).toContain(c.text);
    });
  }

  it('lays out a messy file canonically, comments and blank lines kept', () => {
    const text = [
      '// header',
      'layout   v( t,h ) { text( l )  after',
      '  pad text   to 8 }',
      '',
      '',
      'pattern p( a :int=2 ) on v {   // trailing',
      'attend q.t==k.t /* inner */ || q in text',
      '',
      '  deny   k.h in {1,2}',
      '  /* last */',
      '}',
    ].join('\n');
    expect(formatTile(reparse(text))).toMatchInlineSnapshot(`
      "// header
      layout v(t, h) {
        text(l) after
        pad text to 8
      }

      pattern p(a: int = 2) on v {
        // trailing
        /* inner */
        attend q.t == k.t || q in text

        deny k.h in {1, 2}
        /* last */
      }
      "
    `);
  });
});
