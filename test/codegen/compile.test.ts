/**
 * The package's `compile` takes what a user passes first (the pattern text and settings, or `{ source }`) as
 * well as the pipeline's request, and answers anything else with an OptionError naming the accepted forms.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { makeCompileOptions } from '../../compiler/options.js';
import { OptionError } from '../../core/errors.js';
import { TesseraError } from '../../dsl/diagnostics.js';
import { compile } from '../../index.js';
import { findBuiltinPattern } from '../../patterns/index.js';

const text = readFileSync(findBuiltinPattern('attention_tile')!.file, 'utf8');
const sizes = { t: 8, h: 6, w: 10 };

describe('compile, as the package exports it', () => {
  it('accepts the text and settings, { source }, and the pipeline request, with the same plan', async () => {
    const a = await compile(text, { sizes, params: { a: 2 }, block: 32, cache: null });
    const b = await compile({ source: text, sizes, params: { a: 2 }, block: '32x32', cache: null });
    const c = await compile({
      source: { name: 'tile.tile', text },
      options: makeCompileOptions({ sizes, params: { a: 2 }, blockQ: 32, blockK: 32 }),
      cache: null,
    });
    const d = await compile({
      source: text,
      options: { sizes, params: { a: 2 }, blockQ: 32 },
      cache: null,
    } as never);
    for (const r of [a, b, c, d]) {
      expect(r.outputs.plan?.key).toBe('attention_tile_a2_t8x6x10_b32x32');
      expect(r.outputs.plan?.stats.full).toBe(a.outputs.plan?.stats.full);
    }
    const rendered = await compile(text, { sizes, block: [32, 32], targets: 'flex,ts', cache: null });
    expect(rendered.outputs.artifacts?.map((f) => f.path.split('.').slice(1).join('.'))).toEqual([
      'blockmask.safetensors',
      'blockmask.py',
      'ts',
    ]);
  });

  it('answers other arguments with an OptionError that shows the accepted forms', async () => {
    const bad: unknown[][] = [
      [],
      [42],
      [null],
      [new Uint8Array(4)],
      [{ text: 1 }],
      [{ sauce: text }],
      [text, { size: sizes }],
      [text, { block: 'big' }],
      [text, { targets: 'pdf' }],
      [{ source: text }, { sizes }],
    ];
    for (const args of bad) {
      const run = () => (compile as (...a: unknown[]) => Promise<unknown>)(...args);
      await expect(run(), JSON.stringify(args)).rejects.toThrow(OptionError);
    }
    await expect((compile as (x: unknown) => Promise<unknown>)(42)).rejects.toThrow(
      /compile\(text, \{ sizes, params, block, targets \}\)/,
    );
    await expect(compile(text, { size: sizes } as never)).rejects.toThrow(/unknown setting size/);
    // A wrong pattern is still a TesseraError with diagnostics.
    await expect(compile('pattern p( on video {}')).rejects.toThrow(TesseraError);
  });
});
