/**
 * The README's library example runs as written (with `tessera` resolved to this checkout's entry).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect, it, vi } from 'vitest';

const root = join(import.meta.dirname, '..');

it('runs the library example of the README', async () => {
  const readme = await readFile(join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Using tessera as a library'));
  const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  expect(code).toBeDefined();
  const dir = await mkdtemp(join(root, 'test', '.readme-'));
  const entry = pathToFileURL(join(root, 'index.ts')).href;
  const file = join(dir, 'example.ts');
  await writeFile(file, code!.replace("from 'tessera'", `from '${entry}'`));
  const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
  try {
    await import(pathToFileURL(file).href);
    const lines = log.mock.calls.map((c) => c.join(' '));
    expect(lines[0]).toMatch(/^attention_tile_a1_t4x8x8_b64x64 \d+\.\d% of block pairs skipped$/);
    expect(lines).toContain('attention_tile_a1_t4x8x8_b64x64.blockmask.py');
    expect(lines.at(-1)).toBe('16384 512');
  } finally {
    log.mockRestore();
    await rm(dir, { recursive: true, force: true });
  }
});
