/**
 * Inputs that used to end in a stack trace (exit 70) end with one message and exit 1: output paths that cannot
 * be written, an unwritable cache (a warning, then no cache), a layout too large for a block plan, a pattern
 * chained tens of thousands deep, a binary file; and every error is printed once.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCompile, runInspect } from '../../cli/commands.js';
import { prepareOutputFile, prepareOutputFolder } from '../../cli/output-paths.js';
import { runCheck } from '../../cli/tools.js';
import { EXIT } from '../../core/errors.js';
import { MAX_SHOWN_DIAGNOSTICS } from '../../dsl/diagnostics.js';
import { capture } from './capture.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-errors-'));
  process.env.TESSERA_CACHE_DIR = join(dir, 'cache');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const base = { block: '128', heads: '24', headDim: '96', cache: false, layout: 't=4,h=4,w=4' };

describe('output paths', () => {
  it('refuses --out naming a file, or a folder under a file, before compiling', async () => {
    const file = join(dir, 'a-file');
    await writeFile(file, 'x');
    for (const out of [file, join(file, 'sub')]) {
      const r = await capture(() => runCompile('attention_tile', { ...base, out }));
      expect(r.code).toBe(EXIT.input);
      expect(r.err).toMatch(/^tessera: --out: /);
      expect(r.err).not.toContain('internal error');
      expect(r.err).not.toContain('Compile'); // failed before the compilation started
    }
  });

  // Root writes through any permission bits, so this runs for other users only (CI runs as root and covers the
  // other ways a folder cannot be written above).
  it.skipIf(process.getuid?.() === 0)('refuses a read-only folder with the reason', async () => {
    const ro = join(dir, 'read-only');
    await mkdir(ro, { mode: 0o555 });
    await expect(prepareOutputFolder(ro)).rejects.toThrow(/cannot write into the folder .* \(EACCES\)/);
  });

  it('refuses an output file that is a folder or sits under a file', async () => {
    await expect(prepareOutputFile(dir)).rejects.toThrow(/is a folder/);
    await expect(prepareOutputFile(join(dir, 'a-file', 'latents.safetensors'))).rejects.toThrow(
      /--out: .*a-file/,
    );
    await expect(prepareOutputFile(join(dir, 'new', 'latents.safetensors'))).resolves.toBeUndefined();
  });
});

describe('the cache', () => {
  it('falls back to no cache, with one warning, when its folder cannot be written', async () => {
    const file = join(dir, 'cache-is-a-file');
    await writeFile(file, 'x');
    const saved = process.env.TESSERA_CACHE_DIR;
    process.env.TESSERA_CACHE_DIR = join(file, 'cache');
    try {
      const r = await capture(() => runInspect('attention_tile', { ...base, cache: true }));
      expect(r.code).toBe(EXIT.ok);
      expect(r.err.match(/warning: cannot use the cache folder .*ENOTDIR/g)).toHaveLength(1);
    } finally {
      process.env.TESSERA_CACHE_DIR = saved;
    }
  });
});

describe('inputs too large or too deep', () => {
  it('refuses a layout of 10 M tokens with the block-pair limit and a block size that fits', async () => {
    const r = await capture(() => runInspect('attention_tile', { ...base, layout: 't=1000,h=100,w=100' }));
    expect(r.code).toBe(EXIT.input);
    expect(r.err).toContain('TP313');
    expect(r.err).toContain('10,000,000 tokens');
    expect(r.err).toContain('--block 1024');
  });

  it('compiles a 1 MB pattern of 24,000 rules', async () => {
    const rules = Array.from({ length: 24_000 }, (_, i) =>
      i % 2 === 0
        ? `  attend q.t == k.t + ${i % 5} && q.h >= ${i % 3} && k.w <= ${i % 4}`
        : `  deny q.w == k.w + ${i} && q.h != ${i % 7} && k.t >= ${i % 5}`,
    );
    const path = join(dir, 'big.tile');
    const text = `layout video(t, h, w)\npattern big() on video {\n${rules.join('\n')}\n}\n`;
    expect(text.length).toBeGreaterThan(1_000_000);
    await writeFile(path, text);
    const r = await capture(() =>
      // A tiny layout: classifying costs pairs x rules, and the point is the depth of what is built.
      runCompile(path, { ...base, layout: 't=2,h=2,w=2', target: 'ts,flex', out: join(dir, 'big') }),
    );
    expect(r.err).not.toContain('internal error');
    expect(r.code).toBe(EXIT.ok);
  }, 120_000);

  it('lowers a let chain 20,000 links long, and reports one chained backwards as too deep', async () => {
    const forward = Array.from({ length: 20_000 }, (_, i) =>
      i === 0 ? '  let x0 = 1' : `  let x${i} = x${i - 1} + 1`,
    );
    const path = join(dir, 'chain.tile');
    await writeFile(
      path,
      `layout video(t, h, w)\npattern chain() on video {\n${forward.join('\n')}\n  attend q.t == k.t || x19999 == 0\n}\n`,
    );
    expect((await capture(() => runInspect(path, base))).code).toBe(EXIT.ok);
    const backward = Array.from({ length: 30_000 }, (_, i) => `  let x${i} = x${i + 1} + q.t`);
    await writeFile(
      path,
      `layout video(t, h, w)\npattern chain() on video {\n${backward.join('\n')}\n  let x30000 = 0\n  attend q.t == x0\n}\n`,
    );
    const r = await capture(() => runInspect(path, base));
    expect(r.err).not.toContain('internal error');
    expect(r.code).toBe(EXIT.input);
    expect(r.err).toContain('TP314');
  }, 120_000);
});

describe('diagnostics', () => {
  it('reports a binary file once, escaped, and caps long lists', async () => {
    const bytes = Buffer.alloc(100 * 1024);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24;
    const path = join(dir, 'binary.tile');
    await writeFile(path, bytes);
    const r = await capture(() => runCheck([path]));
    expect(r.code).toBe(EXIT.input);
    expect(r.err).toContain('TP115');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: no raw control character may reach the terminal
    expect(r.err).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
    expect(r.err.length).toBeLessThan(2000);

    // Text full of stray characters: thousands of diagnostics, the first few printed in full.
    await writeFile(path, `${'@ \u001b[31m '.repeat(5000)}\n`);
    const many = await capture(() => runCheck([path]));
    expect(many.code).toBe(EXIT.input);
    expect(many.err.match(/error TP101/g)).toHaveLength(MAX_SHOWN_DIAGNOSTICS);
    expect(many.err).toMatch(/\.\.\. and \d+ more diagnostics not shown/);
    expect(many.err).toContain('\\x1b');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the escape character itself must not be printed
    expect(many.err).not.toMatch(/\u001b/);
    expect(many.err.length).toBeLessThan(20_000);
  });

  it('prints an error once', async () => {
    const r = await capture(() => runCompile('attention_tile', { ...base, set: ['a=99'] }));
    expect(r.code).toBe(EXIT.input);
    expect(r.err.match(/TP308/g)).toHaveLength(1);
    expect(r.err).toContain('[FAILED: see below]');
  });
});
