import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { CompileCache, cacheKey } from '../../compiler/cache.js';
import { canonicalJson, contentHash } from '../../compiler/hash.js';

function shuffleKeys(value: unknown, seed: number): unknown {
  if (Array.isArray(value)) return value.map((v, i) => shuffleKeys(v, seed + i));
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    entries.sort((a, b) => ((a[0].charCodeAt(0) * 31 + seed) % 7) - ((b[0].charCodeAt(0) * 31 + seed) % 7));
    return Object.fromEntries(entries.map(([k, v]) => [k, shuffleKeys(v, seed + 1)]));
  }
  return value;
}

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('content hashing', () => {
  it('ignores property order and distinguishes different content', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.nat(), (value, seed) => {
        expect(contentHash(shuffleKeys(value, seed))).toBe(contentHash(value));
      }),
    );
    expect(contentHash({ a: 1, b: [1, 2] })).not.toBe(contentHash({ a: 1, b: [2, 1] }));
    expect(canonicalJson({ t: new Int32Array([3, -1]) })).toBe('{"t":[3,-1]}');
  });

  it('puts the compiler version into every cache key', () => {
    expect(cacheKey({ x: 1 })).not.toBe(contentHash({ x: 1 }));
    expect(cacheKey({ x: 1 })).toBe(cacheKey({ x: 1 }));
  });
});

describe('CompileCache', () => {
  it('stores and returns entries by key, and misses cleanly', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-cache-'));
    dirs.push(dir);
    const cache = new CompileCache(dir);
    const key = cacheKey({ pattern: 'p', block: 64 });
    expect(await cache.get(key, 'plan.json')).toBeNull();
    await cache.put(key, 'plan.json', '{"a":1}');
    await cache.put(key, 'plan.json', '{"a":2}');
    expect((await cache.get(key, 'plan.json'))!.toString()).toBe('{"a":2}');
    const entries = await readdir(join(dir, key.slice(0, 2), key));
    expect(entries).toEqual(['plan.json']);
  });
});
