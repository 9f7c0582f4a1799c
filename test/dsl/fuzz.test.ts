/**
 * The parser never throws and every diagnostic points inside the source, whatever the input: random text,
 * random token soups, and library files with random edits and truncations.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Diagnostic } from '../../dsl/diagnostics.js';
import { parseTile } from '../../dsl/parse.js';
import { BUILTIN_PATTERNS } from '../../patterns/index.js';
import { testRuns } from '../support/arbitraries/ast.js';

const runs = testRuns(200);

function expectWellFormed(text: string): void {
  let diagnostics: Diagnostic[] = [];
  expect(() => {
    diagnostics = parseTile({ name: 'fuzz.tile', text }).diagnostics;
  }).not.toThrow();
  for (const d of diagnostics) {
    expect(d.code).not.toBe('TP100'); // an internal error would be a parser bug
    expect(d.code).toMatch(/^TP1\d\d$/);
    const { start, end } = d.range;
    expect(start.offset).toBeGreaterThanOrEqual(0);
    expect(end.offset).toBeGreaterThanOrEqual(start.offset);
    expect(end.offset).toBeLessThanOrEqual(text.length);
    // Line and column agree with the offset.
    const before = text.slice(0, start.offset).split('\n');
    expect(start.line).toBe(before.length);
    expect(start.column).toBe(before[before.length - 1]!.length + 1);
  }
}

const TOKENS = [
  'layout',
  'pattern',
  'on',
  'let',
  'fn',
  'require',
  'else',
  'attend',
  'deny',
  'if',
  'then',
  'in',
  'true',
  'false',
  'size',
  'tiles',
  'pad',
  'to',
  'text',
  'video',
  'q',
  'k',
  't',
  'h',
  'w',
  'a',
  'int',
  'bool',
  'frame',
  'after',
  '0',
  '1',
  '42',
  '(',
  ')',
  '{',
  '}',
  ',',
  ':',
  '.',
  '..',
  '..=',
  '=',
  '==',
  '!=',
  '<',
  '<=',
  '>',
  '>=',
  '&&',
  '||',
  '!',
  '+',
  '-',
  '*',
  '/',
  '%',
  '"msg"',
  '"',
  '//c\n',
  '/*',
  '*/',
  '\n',
  '@',
  'ceildiv',
  'min',
];

const library = BUILTIN_PATTERNS.map((p) => readFileSync(p.file, 'utf8'));

describe('the parser never throws', () => {
  it('on random strings', () => {
    fc.assert(fc.property(fc.string({ maxLength: 200, unit: 'binary' }), expectWellFormed), {
      numRuns: runs,
    });
  });

  it('on random token soups', () => {
    const soup = fc.array(fc.constantFrom(...TOKENS), { maxLength: 60 }).map((ts) => ts.join(' '));
    fc.assert(fc.property(soup, expectWellFormed), { numRuns: runs });
  });

  it('on library files with random edits', () => {
    const edit = fc.record({
      file: fc.integer({ min: 0, max: library.length - 1 }),
      at: fc.nat(),
      remove: fc.integer({ min: 0, max: 12 }),
      insert: fc.oneof(fc.constantFrom(...TOKENS), fc.string({ maxLength: 4 })),
    });
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 4 }), (edits) => {
        let text = library[edits[0]!.file]!;
        for (const e of edits) {
          const at = e.at % (text.length + 1);
          text = text.slice(0, at) + e.insert + text.slice(at + e.remove);
        }
        expectWellFormed(text);
      }),
      { numRuns: runs },
    );
  });

  it('on every truncation of a library file', () => {
    const text = library[0]!;
    for (let n = 0; n <= text.length; n++) expectWellFormed(text.slice(0, n));
  });
});
