/** The pieces of `tessera generate` over ranks that need no processes: the ranks' arguments, fingerprints, the timeout. */
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileFingerprint, parallelTimeoutMs, rankArguments } from '../../cli/generate-parallel.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-generate-parallel-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('tessera generate over ranks', () => {
  it('ranks get the command without the option that launched them', () => {
    const argv = ['/bin/tessera', 'generate', '--gpus', '4', '--seed', '1', '--gpus=4'];
    expect(rankArguments(argv, '--gpus')).toEqual(['/bin/tessera', 'generate', '--seed', '1']);
    expect(rankArguments(['x', '--ranks', '3', '--out', 'y'], '--ranks')).toEqual(['x', '--out', 'y']);
  });

  it('files are fingerprinted by size and content (large ones by their ends)', () => {
    const a = join(dir, 'a.bin');
    writeFileSync(a, Buffer.alloc(1000, 1));
    const first = fileFingerprint(a);
    expect(first).toMatch(/^1000 bytes, [0-9a-f]{16}$/);
    writeFileSync(a, Buffer.concat([Buffer.alloc(999, 1), Buffer.from([2])]));
    expect(fileFingerprint(a)).not.toBe(first);
    const big = join(dir, 'big.bin');
    writeFileSync(big, Buffer.alloc(9 * 2 ** 20, 3));
    expect(fileFingerprint(big)).toMatch(/^9437184 bytes/);
    expect(() => fileFingerprint(join(dir, 'missing'))).toThrow(/cannot read .*missing: ENOENT/);
  });

  it('TESSERA_PARALLEL_TIMEOUT sets the bound on joins and stalls (default 300 s)', () => {
    expect(parallelTimeoutMs({})).toBe(300_000);
    expect(parallelTimeoutMs({ TESSERA_PARALLEL_TIMEOUT: '2.5' })).toBe(2500);
    expect(() => parallelTimeoutMs({ TESSERA_PARALLEL_TIMEOUT: 'soon' })).toThrow(
      /positive number of seconds/,
    );
  });
});
