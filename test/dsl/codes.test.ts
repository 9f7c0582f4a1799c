/**
 * The code registry against the source tree: every code emitted is registered, every registered code is
 * emitted somewhere, and names and numbers follow the families. The type of `Diagnostic.code` already
 * rejects unregistered literals; the scan also finds entries left behind when a diagnostic is removed.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CODES, type DiagnosticStage } from '../../dsl/codes.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCANNED = ['dsl', 'compiler', 'codegen', 'runtime'];

/** Every code written as a string literal (`'TP201'`) in the scanned folders, with the files using it. */
function codesInSource(): Map<string, string[]> {
  const used = new Map<string, string[]>();
  for (const dir of SCANNED) {
    const files = readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' });
    for (const file of files.filter((f) => f.endsWith('.ts'))) {
      const text = readFileSync(join(ROOT, dir, file), 'utf8');
      for (const m of text.matchAll(/['"`](TP\d{3})['"`]/g)) {
        used.set(m[1]!, [...(used.get(m[1]!) ?? []), join(dir, file)]);
      }
    }
  }
  return used;
}

/** The stages each hundred belongs to. */
const FAMILY: Record<string, readonly DiagnosticStage[]> = {
  '1': ['parse'],
  '2': ['check'],
  '3': ['lower', 'classify', 'plan'],
  '4': ['codegen', 'runtime'],
};

describe('CODES', () => {
  const used = codesInSource();
  const registered = Object.keys(CODES);

  it('registers every code used in the source tree', () => {
    const unregistered = [...used.keys()].filter((c) => !Object.hasOwn(CODES, c));
    expect(unregistered.map((c) => `${c} (${used.get(c)!.join(', ')})`)).toEqual([]);
  });

  it('has no entry that nothing emits', () => {
    expect(registered.filter((c) => !used.has(c))).toEqual([]);
  });

  it('gives each code a unique kebab-case name, a summary and a stage of its family', () => {
    const names = Object.values(CODES).map((info) => info.name);
    expect(new Set(names).size).toBe(names.length);
    for (const [code, info] of Object.entries(CODES)) {
      expect(info.name, code).toMatch(/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/);
      expect(info.summary.length, code).toBeGreaterThan(0);
      expect(FAMILY[code[2]!], code).toContain(info.stage);
    }
  });
});
