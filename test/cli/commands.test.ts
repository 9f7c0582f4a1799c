import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCompile, runInspect } from '../../cli/commands.js';
import { runCheck, runFormat, runLayers } from '../../cli/tools.js';
import { compileSource } from '../../compiler/frontend.js';
import { buildPlan } from '../../compiler/plan/build.js';
import { EXIT } from '../../core/errors.js';
import { SafetensorsFile } from '../../core/safetensors.js';
import { findBuiltinPattern } from '../../patterns/index.js';
import { capture } from './capture.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-cli-'));
  process.env.TESSERA_CACHE_DIR = join(dir, 'cache');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const base = { block: '128', heads: '24', headDim: '96', cache: true };

describe('tessera inspect', () => {
  it('reports the plan of a built-in pattern as JSON, consistent with the compiler', async () => {
    const r = await capture(() =>
      runInspect('attention_tile', {
        ...base,
        set: ['a=1'],
        layout: 't=8,h=6,w=10',
        block: '32',
        json: true,
      }),
    );
    expect(r.code).toBe(EXIT.ok);
    const report = JSON.parse(r.out);
    const builtin = findBuiltinPattern('attention_tile')!;
    const text = await readFile(builtin.file, 'utf8');
    const plan = buildPlan(
      compileSource({ name: builtin.file, text }, { params: { a: 1 }, sizes: { t: 8, h: 6, w: 10 } }),
      32,
      32,
    );
    expect(report.key).toBe(plan.key);
    expect(report.counts).toEqual({
      full: plan.stats.full,
      partial: plan.stats.partial,
      empty: plan.stats.empty,
      total: plan.stats.total,
    });
    expect(report.sparsity).toBeCloseTo(plan.stats.empty / plan.stats.total, 12);
    expect(report.alternatives[0].label).toBe('plain');
  });
});

describe('tessera compile', () => {
  it('writes every artefact and verifies on the best backend present', async () => {
    const out = join(dir, 'tile');
    const r = await capture(() =>
      runCompile('patterns/attention-tile.tile', {
        ...base,
        set: ['a=2'],
        layout: 't=4,h=6,w=10',
        block: '64',
        target: 'ts,flex,png,wgsl,cuda',
        out,
        verify: true,
      }),
    );
    expect(r.err).not.toContain('internal error');
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toContain('verify      OK');
    const key = 'attention_tile_a2_t4x6x10_b64x64';
    const file = await SafetensorsFile.open(join(out, `${key}.blockmask.safetensors`));
    try {
      expect(file.entry('kv_num_blocks').shape).toEqual([1, 1, 4]);
      expect(file.entry('full_kv_indices').shape).toEqual([1, 1, 4, 4]);
    } finally {
      await file.close();
    }
    const png = PNG.sync.read(await readFile(join(out, `${key}.blocks.png`)));
    expect(png.width).toBeGreaterThan(0);
    for (const suffix of ['.ts', '.wgsl', '.cu', '.frames.png']) {
      expect((await readFile(join(out, `${key}${suffix}`))).byteLength, suffix).toBeGreaterThan(0);
    }
    const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8'));
    expect(report.verify.ok).toBe(true);
  });

  it('warns under --verify when queries have no key, says at which size it verified, and keeps JSON finite', async () => {
    const file = join(dir, 'first-frame.tile');
    await writeFile(file, 'layout v(t, h, w)\npattern first() on v { attend q.t == 0 && k.t == 0 }\n');
    const out = join(dir, 'first');
    const options = { ...base, block: '16', layout: 't=4,h=6,w=8', target: 'ts', out, verify: true };
    const r = await capture(() => runCompile(file, options));
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toContain('warning     144 of 192 queries (75.0%) have no allowed key');
    expect(r.out).toContain('verify      OK (the kernel matches the mask, but 144 of 192 queries');
    expect(r.out).toContain('size: the requested size, every query row');
    const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8'));
    expect(report.queriesWithoutKeys).toBe(144);
    expect(report.verify.numeric).toMatchObject({ tokens: 192, requestedTokens: 192, rowsChecked: 'all' });
    expect(Object.keys(report.seconds)).toEqual(
      expect.arrayContaining(['lower', 'layouts', 'report', 'write', 'verify']),
    );

    const none = join(dir, 'none.tile');
    await writeFile(none, 'layout v(t, h, w)\npattern none() on v { attend false }\n');
    const j = await capture(() => runInspect(none, { ...base, layout: 't=2,h=4,w=4', json: true }));
    expect(j.code).toBe(EXIT.ok);
    expect(j.out).not.toMatch(/Infinity|NaN/);
    expect(JSON.parse(j.out)).toMatchObject({
      predictedSpeedup: null,
      idealSpeedup: null,
      queriesWithoutKeys: 32,
    });
  });

  it.each([
    ['a file that does not exist', 'no/such.tile', {}, /no such file/],
    [
      'a parameter value that is not a number',
      'patterns/attention-tile.tile',
      { set: ['a=two'] },
      /--set: a=two/,
    ],
    [
      'an unknown parameter',
      'patterns/attention-tile.tile',
      { set: ['b=1'], layout: 't=8,h=2,w=2' },
      /TP3\d\d/,
    ],
    [
      'a failed require',
      'patterns/attention-tile.tile',
      { set: ['a=9'], layout: 't=8,h=2,w=2' },
      /between 1 and the frame count/,
    ],
    ['a bad block size', 'patterns/attention-tile.tile', { block: '0', layout: 't=8,h=2,w=2' }, /--block/],
    [
      'an unknown target',
      'patterns/attention-tile.tile',
      { target: 'metal', layout: 't=8,h=2,w=2' },
      /unknown target "metal"/,
    ],
    [
      'an unknown dump stage',
      'patterns/attention-tile.tile',
      { dump: 'codegen', layout: 't=8,h=2,w=2' },
      /--dump: unknown stage/,
    ],
  ])('rejects %s with exit 1 and a message', async (_what, file, extra, message) => {
    const r = await capture(() => runCompile(file, { ...base, out: join(dir, 'bad'), ...extra }));
    expect(r.code).toBe(EXIT.input);
    expect(r.err).toMatch(message);
    expect(r.err).not.toContain('internal error');
  });

  it('shows syntax errors with the line, a caret and a hint', async () => {
    const path = join(dir, 'broken.tile');
    await writeFile(path, 'layout video(t, h, w)\npattern p() on video {\n  attend q.t = k.t\n}\n');
    const r = await capture(() => runCompile(path, { ...base, layout: 't=2,h=2,w=2' }));
    expect(r.code).toBe(EXIT.input);
    expect(r.err).toMatch(/broken\.tile:3:\d+: error TP1\d\d/);
    expect(r.err).toContain('3 |   attend q.t = k.t');
    expect(r.err).toMatch(/\^/);
    expect(r.err).toMatch(/hint:/);
  });

  it('dumps a stage instead of writing files', async () => {
    const r = await capture(() =>
      runCompile('patterns/full.tile', {
        ...base,
        layout: 't=2,h=2,w=4',
        block: '4',
        dump: 'classify',
      }),
    );
    expect(r.code).toBe(EXIT.ok);
    expect(r.out.trim().split('\n').slice(1)).toEqual(['####', '####', '####', '####']);
  });
});

describe('tessera check and format', () => {
  it('accept the pattern library and reject a broken file', async () => {
    const ok = await capture(() => runCheck(['patterns/attention-tile.tile', 'patterns/text-video.tile']));
    expect(ok.code).toBe(EXIT.ok);
    const path = join(dir, 'undefined-name.tile');
    await writeFile(path, 'layout video(t, h, w)\npattern p() on video { attend q.t == frames }\n');
    const bad = await capture(() => runCheck([path]));
    expect(bad.code).toBe(EXIT.input);
    expect(bad.err).toMatch(/TP2\d\d/);
  });

  it('keeps the library in canonical form', async () => {
    const r = await capture(() =>
      runFormat(['patterns/attention-tile.tile', 'patterns/sliding-tile.tile'], {
        check: true,
      }),
    );
    expect(r.err).toBe('');
    expect(r.code).toBe(EXIT.ok);
  });
});

describe('tessera layers', () => {
  it("compiles each instance of a per-layer plan once and predicts the stack's attention speedup", async () => {
    const r = await capture(() =>
      runLayers('plans/example-t8.json', { block: '128', json: true, cache: true }),
    );
    expect(r.code).toBe(EXIT.ok);
    const summary = JSON.parse(r.out);
    const byName = Object.fromEntries(summary.instances.map((i: { name: string }) => [i.name, i]));
    expect([byName.full.layers, byName.tile_2_6.layers, byName.tile_1_7.layers]).toEqual([2, 4, 26]);
    // 28,800 tokens are exactly 225 blocks of 128, so each computed block costs 128 x 128 pairs.
    const computed = summary.instances.reduce(
      (sum: number, i: { layers: number; full: number; partial: number }) =>
        sum + i.layers * (i.full + i.partial) * 128 * 128,
      0,
    );
    expect(summary.attentionSpeedup).toBeCloseTo((32 * 28800 * 28800) / computed, 10);
  });

  it('counts a layer that splits its heads by the mean of its heads, and exports its Flex masks', async () => {
    const flex = join(dir, 'flex-heads');
    const r = await capture(() =>
      runLayers('plans/example-heads-t8.json', { block: '128', json: true, cache: true, flex }),
    );
    expect(r.code).toBe(EXIT.ok);
    const summary = JSON.parse(r.out);
    const blocks = Object.fromEntries(
      summary.instances.map((i: { name: string; full: number; partial: number }) => [
        i.name,
        i.full + i.partial,
      ]),
    );
    // Layers 0 and 31 full; 1-2 half spatial, half temporal; 3 a third each of spatial, tile_1_7, temporal.
    const perLayer = [
      2 * blocks.full,
      (2 * (blocks.spatial + blocks.temporal)) / 2,
      (blocks.spatial + blocks.tile_1_7 + blocks.temporal) / 3,
      27 * blocks.tile_1_7,
    ];
    const computed = perLayer.reduce((a, b) => a + b, 0) * 128 * 128;
    expect(summary.attentionSpeedup).toBeCloseTo((32 * 28800 * 28800) / computed, 10);
    expect(summary.flex.map((f: string) => f.slice(flex.length + 1)).sort()).toEqual([
      'example_heads_t8_layer1_b128x128.blockmask.py',
      'example_heads_t8_layer1_b128x128.blockmask.safetensors',
      'example_heads_t8_layer3_b128x128.blockmask.py',
      'example_heads_t8_layer3_b128x128.blockmask.safetensors',
    ]);
    const text = await capture(() => runLayers('plans/example-heads-t8.json', { block: '128', cache: true }));
    expect(text.out).toContain('1-2: heads 0-11: spatial, 12-23: temporal');
  });

  it('names the JSON path of a bad entry', async () => {
    const path = join(dir, 'bad-plan.json');
    await writeFile(
      path,
      JSON.stringify({
        format: 'tessera.layer-plan/1',
        layers: 2,
        patterns: { x: { builtin: 'nope' } },
        default: 'x',
      }),
    );
    const r = await capture(() => runLayers(path, { block: '128', cache: true }));
    expect(r.code).toBe(EXIT.input);
    expect(r.err).toContain('$.patterns.x.builtin');
  });
});
