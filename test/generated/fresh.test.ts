import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateBuiltins, generatedRoot, listGenerated } from '../../cli/generated-files.js';

describe('generated/', () => {
  it('matches what the compiler writes today (run `npm run build && npm run generate`, i.e. `tessera regenerate`, after changing it)', async () => {
    const files = await generateBuiltins();
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const onDisk = await readFile(join(generatedRoot(), file.path), 'utf8').catch(() => '<missing>');
      expect(onDisk, `generated/${file.path}`).toBe(file.contents);
      expect(String(file.contents), `generated/${file.path} header`).toMatch(/DO NOT EDIT/);
    }
    expect(await listGenerated()).toEqual(files.map((f) => f.path).sort());
  });
});
