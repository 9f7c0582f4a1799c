import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OptionError } from '../../core/errors.js';
import {
  CandidateError,
  compileCandidates,
  defaultCandidates,
  parseCandidates,
} from '../../search/candidates.js';
import { BLOCKS } from './support.js';

describe('search candidates', () => {
  it('parses built-ins, .tile files and parameters that continue the item before', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-candidates-'));
    await writeFile(
      join(dir, 'mine.tile'),
      'layout video(t, h, w)\npattern mine(w: int = 1) on video {\n  attend abs(q.t - k.t) <= w\n}\n',
    );
    const specs = parseCandidates('full, sliding_tile:wt=3,wh=2,ww=1,mine.tile#mine:w=2,attention_tile', dir);
    expect(specs.map((s) => s.text)).toEqual([
      'full',
      'sliding_tile:wt=3,wh=2,ww=1',
      'mine.tile#mine:w=2',
      'attention_tile',
    ]);
    expect(specs[1]!.ref).toEqual({
      builtin: 'sliding_tile',
      file: null,
      pattern: null,
      params: { wt: 3, wh: 2, ww: 1 },
    });
    expect(specs[2]!.ref).toEqual({
      builtin: null,
      file: join(dir, 'mine.tile'),
      pattern: 'mine',
      params: { w: 2 },
    });
    expect(() => parseCandidates('', dir)).toThrow(OptionError);
    expect(() => parseCandidates('nope.tile', dir)).toThrow(/no such file/);
    expect(() => parseCandidates('attention_tile:a=x', dir)).toThrow(/a=x is not an integer/);
  });

  it('defaults to full and the Attention Tile masks whose stride divides the frames', () => {
    const params = (t: number) => defaultCandidates(t).map((s) => s.ref.params.a ?? 'full');
    expect(params(8)).toEqual(['full', 4, 2, 1]);
    expect(params(24)).toEqual(['full', 12, 8, 6, 4, 3, 2, 1]);
    expect(params(5)).toEqual(['full', 1]);
    expect(params(1)).toEqual(['full']);
  });

  it('orders compiled candidates by computed blocks, sparsest first, and names them', async () => {
    const grid = { frames: 8, height: 2, width: 8 }; // 16 tokens a frame: one 16-block per frame
    const compiled = await compileCandidates(defaultCandidates(8), grid, BLOCKS, null);
    expect(compiled.map((c) => c.label)).toEqual(['1:7', '2:6', '4:4', 'full']);
    expect(compiled.map((c) => c.name)).toEqual(['tile_1_7', 'tile_2_6', 'tile_4_4', 'full']);
    // Computed tiles (2a + 1)T - a(a + 1) (SPEC §1.2), one block each here.
    expect(compiled.map((c) => c.computedBlocks)).toEqual([22, 34, 52, 64]);
    expect(compiled.map((c) => c.dense)).toEqual([false, false, false, true]);
    expect(compiled[0]!.attention.kind).toBe('plan');
    // Without a dense candidate, full attention is added (layers fall back to it).
    const sparseOnly = await compileCandidates(parseCandidates('attention_tile:a=1'), grid, BLOCKS, null);
    expect(sparseOnly.map((c) => c.name)).toEqual(['tile_1_7', 'full']);
  });

  it('names a candidate that does not compile for the grid, or repeats another', async () => {
    const grid = { frames: 4, height: 4, width: 4 };
    await expect(
      compileCandidates(parseCandidates('attention_tile:a=9'), grid, BLOCKS, null),
    ).rejects.toThrow(
      /"attention_tile:a=9" does not compile for the 4 x 4 x 4 token grid:\n.*TP308 a \(the number of global frames\) must be between 1/,
    );
    await expect(
      compileCandidates(parseCandidates('attention_tile:b=1'), grid, BLOCKS, null),
    ).rejects.toThrow(CandidateError);
    await expect(compileCandidates(parseCandidates('text_video'), grid, BLOCKS, null)).rejects.toThrow(
      CandidateError,
    );
    await expect(
      compileCandidates(parseCandidates('attention_tile:a=2,attention_tile:a=2'), grid, BLOCKS, null),
    ).rejects.toThrow(/is the same mask as/);
  });
});
