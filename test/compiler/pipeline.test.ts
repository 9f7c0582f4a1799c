import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { STAGE_NAMES, STAGES } from '../../codegen/index.js';
import { classesOfPlan, unitLevelClasses } from '../../codegen/png/classes.js';
import { CompileCache } from '../../compiler/cache.js';
import {
  bruteForceAllowedPairs,
  bruteForceClasses,
  compiledElementMask,
} from '../../compiler/classify/element-mask.js';
import { compileSource } from '../../compiler/frontend.js';
import { makeCompileOptions } from '../../compiler/options.js';
import { compile, PLAN_STAGES } from '../../compiler/pipeline.js';
import { buildPlan } from '../../compiler/plan/build.js';
import { serializePlan } from '../../compiler/plan/io.js';
import type { BlockPlan } from '../../compiler/plan/plan.js';
import { attentionFlops, computedPairs, makeReport } from '../../compiler/report.js';
import { TesseraError } from '../../dsl/diagnostics.js';
import { createCpuBackend } from '../../runtime/cpu/backend.js';
import { verifyCompiled } from '../../verify/verify.js';

const TILE = `
layout video(t, h, w)
pattern attention_tile(a: int = 2) on video {
  let s = ceildiv(t, a)
  fn global(f) = f % s == 0 && f / s < a
  attend q.t == k.t || global(k.t) || global(q.t)
}`;

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function tempCache(): Promise<CompileCache> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-pipeline-'));
  dirs.push(dir);
  return new CompileCache(dir);
}

describe('compile()', () => {
  it('runs the named stages in order and reuses cached plans', async () => {
    const cache = await tempCache();
    const options = makeCompileOptions({
      params: { a: 3 },
      sizes: { t: 7, h: 3, w: 5 },
      blockQ: 16,
      blockK: 8,
      targets: ['ts'],
    });
    const source = { name: 'tile.tile', text: TILE };
    const events: string[] = [];
    const first = await compile({
      source,
      options,
      stages: STAGES,
      cache,
      onStage: (e) => events.push(`${e.stage}:${e.phase}`),
    });
    expect(events.filter((e) => e.endsWith(':start')).map((e) => e.split(':')[0])).toEqual([...STAGE_NAMES]);
    expect(first.cacheHit).toBe(false);
    const second = await compile({ source, options, stages: STAGES, cache });
    expect(second.cacheHit).toBe(true);
    expect(serializePlan(second.outputs.plan!)).toBe(serializePlan(first.outputs.plan!));
    expect(second.outputs.artifacts?.map((a) => a.contents)).toEqual(
      first.outputs.artifacts?.map((a) => a.contents),
    );
    // The classes the plan encodes are the brute-force classes.
    const plan = first.outputs.plan!;
    expect(Array.from(classesOfPlan(plan))).toEqual(Array.from(bruteForceClasses(plan.pattern, 16, 8)));
  });

  it('stops at --dump stages and prints every stage', async () => {
    const options = makeCompileOptions({
      sizes: { t: 4, h: 2, w: 3 },
      blockQ: 8,
      blockK: 8,
      targets: ['ts'],
    });
    const result = await compile({
      source: { name: 'tile.tile', text: TILE },
      options,
      stages: STAGES,
      cache: null,
    });
    for (const stage of STAGES) expect(stage.dump(result.outputs).length).toBeGreaterThan(0);
    const classify = STAGES.find((s) => s.name === 'classify')!.dump(result.outputs);
    expect(classify.split('\n')).toHaveLength(1 + Math.ceil(24 / 8));
  });

  it('reports user errors as diagnostics, not crashes', async () => {
    const options = makeCompileOptions({ sizes: { t: 4, h: 2, w: 3 } });
    await expect(
      compile({
        source: { name: 'bad.tile', text: 'layout video(t, h, w)\npattern p() on video { attend q.x == 1 }' },
        options,
        cache: null,
      }),
    ).rejects.toBeInstanceOf(TesseraError);
  });
});

describe('stage entry points and the cache', () => {
  const options = makeCompileOptions({
    params: { a: 2 },
    sizes: { t: 5, h: 3, w: 4 },
    blockQ: 16,
    blockK: 8,
    targets: ['ts', 'wgsl'],
  });
  const source = { name: 'tile.tile', text: TILE };

  it('a lowered-pattern fixture gives the same plan, and a plan fixture the same artefacts, as the source', async () => {
    const full = await compile({ source, options, stages: STAGES, cache: null });
    const lowered = STAGES.find((s) => s.name === 'lower')!.dump(full.outputs);
    const fromLower = await compile({ fixture: { from: 'lower', text: lowered }, options, cache: null });
    expect(serializePlan(fromLower.outputs.plan!)).toBe(serializePlan(full.outputs.plan!));
    expect(Object.keys(fromLower.seconds)).toEqual(['classify', 'plan']);
    const planned = STAGES.find((s) => s.name === 'plan')!.dump(full.outputs);
    const fromPlan = await compile({
      source,
      fixture: { from: 'plan', text: planned },
      options,
      stages: STAGES,
      cache: null,
    });
    expect(Object.keys(fromPlan.seconds)).toEqual(['render']);
    expect(fromPlan.outputs.artifacts).toEqual(full.outputs.artifacts);
  });

  it('refuses a fixture of a stage that cannot load, and unknown stage names', async () => {
    await expect(compile({ fixture: { from: 'classify', text: '' }, options, cache: null })).rejects.toThrow(
      /stage "classify" cannot start a run/,
    );
    await expect(compile({ source, options, until: 'render', cache: null })).rejects.toThrow(
      /unknown stage "render"; stages: parse, check, lower, classify, plan/,
    );
  });

  it('caches every stage that declares a key: a hit skips the stages before it, `until` stops short of it', async () => {
    const cache = await tempCache();
    const cached = PLAN_STAGES.filter((s) => s.cacheKey).map((s) => s.name);
    expect(cached).toEqual(['plan']);
    await compile({ source, options, cache });
    const events: string[] = [];
    const again = await compile({
      source,
      options,
      cache,
      onStage: (e) => events.push(`${e.stage}:${e.phase}`),
    });
    expect(again.cacheHit).toBe(true);
    expect(events).toEqual([
      'parse:start',
      'parse:end',
      'check:start',
      'check:end',
      'lower:start',
      'lower:end',
      'classify:cached',
      'plan:cached',
    ]);
    // The same pattern from another file hits the cache, and its plan points at that file's declaration.
    const moved = await compile({ source: { name: 'moved.tile', text: `\n\n${TILE}` }, options, cache });
    expect(moved.cacheHit).toBe(true);
    expect(moved.outputs.plan!.pattern.declaration).toEqual(moved.outputs.pattern!.declaration);
    expect(moved.outputs.plan!.pattern.declaration?.file).toBe('moved.tile');
    // Dumping the classes needs them computed: the plan's cache entry is not used when the run stops before it.
    const classes = await compile({ source, options, cache, until: 'classify' });
    expect(classes.cacheHit).toBe(false);
    expect(classes.outputs.classes).toBeDefined();
  });
});

describe('reports', () => {
  it('count computed pairs and FLOPs from the blocks, and allowed pairs exactly', () => {
    const pattern = compileSource(
      { name: 't.tile', text: TILE },
      { params: { a: 2 }, sizes: { t: 6, h: 3, w: 7 } },
    );
    const plan = buildPlan(pattern, 16, 8);
    const classes = bruteForceClasses(pattern, 16, 8);
    let pairs = 0;
    for (let qb = 0; qb < plan.numQBlocks; qb++) {
      for (let kb = 0; kb < plan.numKBlocks; kb++) {
        if (classes[qb * plan.numKBlocks + kb] === 0) continue;
        pairs += Math.min(16, plan.seqLen - qb * 16) * Math.min(8, plan.seqLen - kb * 8);
      }
    }
    expect(computedPairs(plan)).toBe(pairs);
    const report = makeReport(plan, 't.tile', [], {}, { heads: 2, headDim: 4, batch: 1 });
    expect(report.flops.computed).toBe(attentionFlops(pairs, { heads: 2, headDim: 4, batch: 1 }));
    expect(report.flops.ideal).toBe(4 * bruteForceAllowedPairs(pattern) * 4 * 2);
    expect(report.predictedSpeedup).toBeCloseTo((plan.seqLen * plan.seqLen) / pairs, 10);
  });

  it('draws the frame-level mask with one cell per frame pair, text included', () => {
    const text = `layout mm(t, h, w) { text(l) before }
pattern p() on mm { attend q.t == k.t || q in text || k in text }`;
    const pattern = compileSource({ name: 'm.tile', text }, { sizes: { t: 3, h: 2, w: 3, l: 4 } });
    const units = unitLevelClasses(pattern);
    // One text "unit" (4 tokens padded to a 6-token slot) then 3 frames: text rows and columns are full,
    // frames see only themselves.
    expect(units.rows).toBe(4);
    const at = (r: number, c: number) => units.classes[r * units.cols + c];
    for (let i = 0; i < 4; i++) {
      expect(at(0, i)).toBe(2);
      expect(at(i, 0)).toBe(2);
    }
    expect([at(1, 1), at(1, 2), at(2, 3), at(3, 3)]).toEqual([2, 0, 0, 2]);
  });
});

describe('verifyCompiled', () => {
  const pattern = compileSource(
    { name: 't.tile', text: TILE },
    { params: { a: 1 }, sizes: { t: 5, h: 2, w: 7 } },
  );

  it('passes a correct plan on the CPU backend', async () => {
    const plan = buildPlan(pattern, 16, 16);
    const backend = createCpuBackend();
    const report = await verifyCompiled(plan, plan, backend, { samplePairs: 10_000 });
    expect(report.invariantErrors).toEqual([]);
    expect(report.misclassified).toEqual([]);
    expect(report.numeric!.outError).toBeLessThan(1e-5);
    expect(report.ok).toBe(true);
  });

  it('catches a plan that drops a computed block', async () => {
    const good = buildPlan(pattern, 16, 16);
    // Drop the last full block of query block 0 from the tables.
    const row = 0;
    const end = good.full.offsets[row + 1]!;
    const indices = Int32Array.from([
      ...good.full.indices.subarray(0, end - 1),
      ...good.full.indices.subarray(end),
    ]);
    const offsets = Int32Array.from(good.full.offsets, (o, i) => (i > row ? o - 1 : o));
    const bad: BlockPlan = { ...good, full: { offsets, indices }, closedForm: null };
    const report = await verifyCompiled(bad, bad, createCpuBackend(), { samplePairs: 10_000 });
    expect(report.ok).toBe(false);
    expect(report.misclassified.length).toBeGreaterThan(0);
    expect(report.numeric!.outError).toBeGreaterThan(1e-3);
    // The oracle itself is unchanged.
    expect(compiledElementMask(pattern)(0, end)).toBeTypeOf('boolean');
  });
});
