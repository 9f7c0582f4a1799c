/**
 * GPU verification of the CUDA model ops (run by `npm run test:gpu`, never by CI): each op against the CPU op
 * in float64 on the same bf16-rounded random inputs, then the whole Open-Sora-Plan graph (a small config with
 * the real structure and head dim 96, random weights written as a checkpoint and loaded back) against the CPU
 * graph in float64: dense, a plan of `full` everywhere (equal to dense), and sparse plans. Then the executions
 * of a pass: on a planned slab and replayed as a CUDA graph, bit for bit equal to eager (the same kernels in the
 * same order on the same values; only the addresses differ). Without CUDA or cuBLASLt every test is skipped
 * with the reason.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { compileSource } from '../../compiler/frontend.js';
import { parseLayerPlan, planLayers } from '../../compiler/layer-plan.js';
import { relativeError } from '../../core/error-metrics.js';
import { seededUniform } from '../../core/random.js';
import { roundToDType } from '../../core/tensor.js';
import { parseModelConfig } from '../../models/open-sora-plan/config.js';
import { createCudaOpenSoraModel } from '../../models/open-sora-plan/cuda-model.js';
import type { Denoiser } from '../../models/open-sora-plan/denoiser.js';
import { maskedAttention, planAttention } from '../../models/open-sora-plan/layer-attention.js';
import { createOpenSoraModel, tokenGrid } from '../../models/open-sora-plan/network.js';
import {
  randomOpenSoraWeights,
  writeOpenSoraCheckpoint,
} from '../../models/open-sora-plan/random-weights.js';
import { loadOpenSoraWeights, type ModelWeights } from '../../models/open-sora-plan/weights.js';
import { findBuiltinPattern } from '../../patterns/index.js';
import { createCpuOps } from '../../runtime/cpu/model-ops.js';
import { type CudaExecution, type CudaOps, createCudaOps } from '../../runtime/cuda/model-ops.js';
import type { ModelOps, OpTensor, SelfAttentionSpec, TokenGrid } from '../../runtime/model-ops.js';
import { cudaModelSkip } from './skip.js';

const skip = cudaModelSkip();

/** Tolerances (relative L2 error against float64), with the reason. */
const TOLERANCE = {
  // One op: inputs are exact bf16 values, the op computes in fp32 and rounds its output to bf16 (2^-9).
  op: 1e-2,
  // The network: every activation is rounded to bf16 between ops, over 2 blocks and the embeddings.
  network: 2e-2,
  // Two GPU runs of the same math (dense vs a `full` plan): only summation order may differ.
  same: 1e-3,
} as const;

/** Open-Sora-Plan's structure scaled down, with the real head dim (the attention kernels take 64/96/128). */
const CONFIG = parseModelConfig({
  name: 'gpu-test-2x96',
  layers: 2,
  heads: 2,
  headDim: 96,
  ffnDim: 384,
  inChannels: 4,
  outChannels: 4,
  patch: [1, 2, 2],
  captionChannels: 64,
  timestepChannels: 32,
  normEps: 1e-6,
  ropeBase: 10000,
  ropeInterpolation: [1, 1, 1],
});
/** 4 latent frames of 16 x 16: a 4 x 8 x 8 token grid (256 tokens, one 64-token block per frame). */
const LATENT = { frames: 4, height: 16, width: 16 } as const;
const GRID: TokenGrid = { frames: 4, height: 8, width: 8 };
const BLOCKS = { blockQ: 64, blockK: 64 } as const;
const D = CONFIG.heads * CONFIG.headDim;

function random(seed: number, n: number, spread = 1): Float32Array {
  const u = seededUniform(seed);
  return Float32Array.from({ length: n }, () => roundToDType('bfloat16', (2 * u() - 1) * spread));
}

/** Bit-for-bit equality, or a message with the first differing element and the relative error. */
function assertSameBits(got: Float32Array, want: Float32Array, what: string): void {
  assert.equal(got.length, want.length, `${what}: output size`);
  const first = got.findIndex((v, i) => !Object.is(v, want[i]));
  if (first >= 0)
    assert.fail(
      `${what}: element ${first} is ${got[first]}, eager gave ${want[first]} (relative error ${relativeError(got, want)})`,
    );
}

/** Relative error after checking every element is finite (a poisoned output fails here, naming the element). */
function checkedError(got: ArrayLike<number>, ref: ArrayLike<number>): number {
  for (let i = 0; i < got.length; i++) assert.ok(Number.isFinite(got[i]!), `element ${i} is ${got[i]}`);
  return relativeError(got, ref);
}

function builtin(
  name: string,
  params: Record<string, number>,
  sizes: Record<string, number> = { t: 4, h: 8, w: 8 },
) {
  const file = findBuiltinPattern(name)!.file;
  return compileSource({ name: file, text: readFileSync(file, 'utf8') }, { pattern: name, params, sizes });
}

describe('CUDA model ops against the float64 CPU ops', { skip }, () => {
  let cuda: CudaOps;
  const cpu = createCpuOps('float64');
  before(() => {
    cuda = createCudaOps();
  });
  after(() => cuda?.dispose());

  /** Run `op` on both backends with the same host inputs and compare the outputs. */
  function check(
    name: string,
    inputs: [Float32Array, readonly number[]][],
    op: <T extends OpTensor>(ops: ModelOps<T>, ...xs: T[]) => T,
    tolerance: number = TOLERANCE.op,
  ): void {
    const mark = cuda.mark();
    const ref = cpu.download(op(cpu, ...inputs.map(([d, s]) => cpu.upload(d, s))));
    const got = cuda.download(op(cuda, ...inputs.map(([d, s]) => cuda.upload(d, s))));
    cuda.release(mark);
    assert.equal(got.length, ref.length, `${name}: output size`);
    const err = checkedError(got, ref);
    assert.ok(err < tolerance, `${name}: relative error ${err} >= ${tolerance}`);
  }

  const x: [Float32Array, number[]] = [random(1, 2 * 256 * D, 2), [2, 256, D]];
  const y: [Float32Array, number[]] = [random(2, 2 * 256 * D), [2, 256, D]];
  const table: [Float32Array, number[]] = [random(3, 6 * D, 0.5), [6, D]];
  const emb: [Float32Array, number[]] = [random(4, 2 * 6 * D, 0.5), [2, 6 * D]];

  it('linear (cuBLASLt, bias epilogue)', () => {
    const w: [Float32Array, number[]] = [random(5, 384 * D, 0.1), [384, D]];
    const b: [Float32Array, number[]] = [random(6, 384), [384]];
    check('linear', [x, w, b], (ops, a, wt, bias) => ops.linear(a!, wt!, bias!));
  });

  it('layerNorm, modulationRows, modulate, layerNormModulate, gatedAdd, add', () => {
    check('layerNorm', [x], (ops, a) => ops.layerNorm(a!, 1e-6));
    check('modulationRows', [table, emb], (ops, t, e) => ops.modulationRows(t!, e!));
    check('modulationRows (broadcast)', [table, [random(7, 2 * D), [2, D]]], (ops, t, e) =>
      ops.modulationRows(t!, e!),
    );
    check('modulate', [x, table, emb], (ops, a, t, e) => ops.modulate(a!, ops.modulationRows(t!, e!), 0, 1));
    // The fused tp_layer_norm path, on the MLP rows (3, 4) so a row offset inside each batch block is exercised.
    check('layerNormModulate', [x, table, emb], (ops, a, t, e) =>
      ops.layerNormModulate(a!, 1e-6, ops.modulationRows(t!, e!), 3, 4),
    );
    check('gatedAdd', [x, y, table, emb], (ops, a, b, t, e) =>
      ops.gatedAdd(a!, b!, ops.modulationRows(t!, e!), 2),
    );
    check('add', [x, y], (ops, a, b) => ops.add(a!, b!));
  });

  it('geluTanh, silu, timestepFeatures', () => {
    check('geluTanh', [x], (ops, a) => ops.geluTanh(a!));
    check('silu', [x], (ops, a) => ops.silu(a!));
    check('timestepFeatures', [], (ops) => ops.timestepFeatures(Float32Array.of(0, 1, 250.5, 999), 256));
  });

  it('patchify, unpatchify, rope3d', () => {
    const latents: [Float32Array, number[]] = [random(8, 2 * 4 * 4 * 16 * 16), [2, 4, 4, 16, 16]];
    check('patchify', [latents], (ops, a) => ops.patchify(a!, [1, 2, 2]));
    const patches: [Float32Array, number[]] = [random(9, 2 * 256 * 16), [2, 256, 16]];
    check('unpatchify', [patches], (ops, a) => ops.unpatchify(a!, GRID, [1, 2, 2], 4));
    const rope = { base: 10000, interpolation: [1, 2, 0.5] as const };
    check('rope3d', [x], (ops, a) => ops.rope3d(a!, CONFIG.heads, GRID, rope));
  });

  it('self-attention: dense, a sparse plan, a tiled and padded layout', () => {
    const q: [Float32Array, number[]] = [random(10, 2 * 256 * D), [2, 256, D]];
    const specs: [string, SelfAttentionSpec][] = [
      ['dense', { kind: 'dense' }],
      ['attention_tile a=1', planAttention(builtin('attention_tile', { a: 1 }), GRID, BLOCKS)],
      [
        'sliding_tile (tiled, padded)',
        planAttention(
          builtin('sliding_tile', { wt: 1, wh: 1, ww: 2 }, { t: 4, h: 8, w: 8, tt: 2, th: 3, tw: 3 }),
          GRID,
          BLOCKS,
        ),
      ],
    ];
    for (const [name, spec] of specs) {
      if (name.startsWith('sliding'))
        assert.ok(spec.kind === 'plan' && spec.plan.seqLen > 256, 'layout is padded');
      check(name, [q, x, y], (ops, a, b, c) => ops.selfAttention(a!, b!, c!, CONFIG.heads, spec));
    }
  });

  it('self-attention with a plan per head (a launch per plan over its heads, a tiled layout among them)', () => {
    // Four heads of 96: attention_tile, sliding_tile (tiled, padded: gathered, and only its columns scattered
    // back), sliding_tile again (one run with the previous head), dense.
    const H = 4;
    const width = H * CONFIG.headDim;
    const tile = planAttention(builtin('attention_tile', { a: 1 }), GRID, BLOCKS);
    const tiled = planAttention(
      builtin('sliding_tile', { wt: 1, wh: 1, ww: 2 }, { t: 4, h: 8, w: 8, tt: 2, th: 3, tw: 3 }),
      GRID,
      BLOCKS,
    );
    const spec: SelfAttentionSpec = { kind: 'heads', perHead: [tile, tiled, tiled, { kind: 'dense' }] };
    const operand = (seed: number): [Float32Array, number[]] => [
      random(seed, 2 * 256 * width),
      [2, 256, width],
    ];
    check('per-head', [operand(14), operand(15), operand(16)], (ops, a, b, c) =>
      ops.selfAttention(a!, b!, c!, H, spec),
    );
    // The same with the runs in the other order: the first head's run starts past column 0.
    const reversed: SelfAttentionSpec = { kind: 'heads', perHead: [{ kind: 'dense' }, tiled, tiled, tile] };
    check('per-head, reversed', [operand(17), operand(18), operand(19)], (ops, a, b, c) =>
      ops.selfAttention(a!, b!, c!, H, reversed),
    );
    // Interleaved heads: one launch per plan over a head map (heads 0 and 2, then 1 and 3), the tiled layout's
    // columns copied back run by run.
    const interleaved: SelfAttentionSpec = { kind: 'heads', perHead: [tile, tiled, tile, tiled] };
    check('per-head, interleaved', [operand(20), operand(21), operand(22)], (ops, a, b, c) =>
      ops.selfAttention(a!, b!, c!, H, interleaved),
    );
  });

  it('cross-attention with a padding mask (a batch entry with no real key attends over all its keys)', () => {
    const q: [Float32Array, number[]] = [random(11, 2 * 256 * D), [2, 256, D]];
    const k: [Float32Array, number[]] = [random(12, 2 * 7 * D), [2, 7, D]];
    const v: [Float32Array, number[]] = [random(13, 2 * 7 * D), [2, 7, D]];
    // The second entry has no real key: the CPU reference attends over all 7, as upstream's -10000 bias does.
    const mask = Uint8Array.of(1, 1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    check('crossAttention', [q, k, v], (ops, a, b, c) => ops.crossAttention(a!, b!, c!, CONFIG.heads, mask));
  });
});

describe('the Open-Sora-Plan graph on CUDA against the float64 CPU graph', { skip }, () => {
  let cuda: CudaOps;
  let weights: ModelWeights;
  let dir = '';
  const B = 2;
  const L = 7;
  const inputs = {
    x: random(20, B * 4 * 4 * 16 * 16),
    timesteps: Float32Array.of(999, 250),
    text: random(21, B * L * CONFIG.captionChannels),
    textMask: Uint8Array.of(1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0, 0, 0),
  };
  const run = (model: Denoiser) =>
    model.predictNoise(inputs.x, inputs.timesteps, inputs.text, inputs.textMask, B);
  let dense: Float32Array;

  before(async () => {
    cuda = createCudaOps();
    dir = mkdtempSync(join(tmpdir(), 'tessera-model-gpu-'));
    const path = join(dir, 'gpu-test.safetensors');
    await writeOpenSoraCheckpoint(path, randomOpenSoraWeights(CONFIG, 7), 'bfloat16');
    weights = await loadOpenSoraWeights(path, CONFIG);
    dense = await run(createOpenSoraModel(CONFIG, weights, { latent: LATENT, precision: 'float64' }));
  });
  after(() => {
    cuda?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('dense attention: the whole network within bf16 tolerance, memory reused across passes', async () => {
    const model = createCudaOpenSoraModel(CONFIG, weights, cuda, { latent: LATENT });
    const got = await run(model);
    const held = cuda.arena.heldBytes;
    const again = await run(model);
    assert.equal(cuda.arena.heldBytes, held, 'a second pass allocates nothing new');
    assert.deepEqual(again, got, 'two passes give the same bits');
    const err = checkedError(got, dense);
    assert.ok(err < TOLERANCE.network, `relative error ${err}`);
    assert.ok((model.lastAttentionMs() ?? -1) >= 0, 'attention time is reported');
  });

  it('a plan of full everywhere equals dense', async () => {
    // The default 128 x 128 blocks, as dense layers use: the same partition of the keys, so the same sums.
    const full = planAttention(builtin('full', {}), GRID);
    const viaPlan = await run(
      createCudaOpenSoraModel(CONFIG, weights, cuda, { latent: LATENT, attention: [full, full] }),
    );
    const viaDense = await run(createCudaOpenSoraModel(CONFIG, weights, cuda, { latent: LATENT }));
    const err = checkedError(viaPlan, viaDense);
    assert.ok(err < TOLERANCE.same, `relative error ${err}`);
  });

  it('planned memory and a replayed CUDA graph give the eager bits, with new inputs every step', async () => {
    // Per step: new latents and timesteps (a replay must read them); step 3 changes the text mask, which is baked
    // into the graph, so it traces, plans and captures again; its replay follows.
    const steps = [0, 1, 2, 3, 4, 5].map((i) => ({
      ...inputs,
      x: i === 0 ? inputs.x : random(40 + i, inputs.x.length),
      timesteps: Float32Array.of(999 - 150 * i, 10 + 40 * i),
      textMask: i >= 3 ? Uint8Array.of(1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 0) : inputs.textMask,
    }));
    const call = (model: Denoiser, s: (typeof steps)[number]) =>
      model.predictNoise(s.x, s.timesteps, s.text, s.textMask, B);
    const eager = createCudaOpenSoraModel(CONFIG, weights, cuda, { latent: LATENT });
    const want: Float32Array[] = [];
    for (const s of steps) want.push(await call(eager, s));
    assert.ok(checkedError(want[1]!, want[0]!) > 1e-2, 'the steps differ');
    const layerPlan = parseLayerPlan(
      {
        format: 'tessera.layer-plan/1',
        layers: 2,
        sizes: { t: 4, h: 8, w: 8 },
        patterns: { tile: { builtin: 'attention_tile', params: { a: 1 } } },
        default: 'tile',
      },
      '/tmp/gpu-plan.json',
    );
    const sparse = {
      latent: LATENT,
      layerPlan: await planLayers(layerPlan, tokenGrid(CONFIG, LATENT), BLOCKS, null),
    };
    const sparseEager = createCudaOpenSoraModel(CONFIG, weights, cuda, sparse);
    const sparseWant = await call(sparseEager, steps[1]!);
    for (const execution of ['planned', 'graph'] as const satisfies readonly CudaExecution[]) {
      const model = createCudaOpenSoraModel(CONFIG, weights, cuda, { latent: LATENT, execution });
      for (const [i, s] of steps.entries())
        assertSameBits(await call(model, s), want[i]!, `${execution}, step ${i}`);
      const stats = model.stepStats();
      assert.equal(stats.traces, 2, `${execution}: traced at step 0 and at the new mask`);
      assert.equal(stats.plans, 2);
      assert.ok(stats.slabBytes >= stats.lowerBound && stats.lowerBound > 0, `slab ${stats.slabBytes} B`);
      if (execution === 'graph') {
        assert.deepEqual([stats.captures, stats.replays], [2, 2]);
        assert.ok(stats.graphNodes > 0);
        assert.equal(model.lastAttentionMs(), undefined, 'a replayed step does not time attention');
      }
      model.dispose();
      // A sparse plan: the same executions through the block-sparse kernels.
      const sparseModel = createCudaOpenSoraModel(CONFIG, weights, cuda, { ...sparse, execution });
      for (let i = 0; i < 3; i++)
        assertSameBits(await call(sparseModel, steps[1]!), sparseWant, `sparse ${execution}, call ${i}`);
      sparseModel.dispose();
    }
  });

  it('a capture refuses synchronisation and host copies; a captured op replays', () => {
    const n = 4096;
    const values = random(50, n);
    const mark = cuda.mark();
    const a = cuda.upload(values, [n]);
    const b = cuda.upload(values, [n]);
    const warm = cuda.mark();
    cuda.add(a, b); // leaves an output buffer in the pool, so the capture allocates nothing
    cuda.release(warm);
    const refused = cuda.mark();
    assert.throws(
      () => cuda.device.capture(() => cuda.synchronize()),
      /synchronize cannot happen while a CUDA graph/,
    );
    assert.throws(
      () => cuda.device.capture(() => cuda.upload(values, [n])),
      /a host-to-device copy cannot happen while a CUDA graph/,
    );
    cuda.release(refused);
    let sum: ReturnType<CudaOps['add']> | undefined;
    const graph = cuda.device.capture(() => {
      sum = cuda.add(a, b);
    });
    assert.ok(graph.nodes >= 1, `${graph.nodes} nodes`);
    cuda.device.fillBytes(sum!.buffer, 0xff);
    graph.launch();
    graph.launch();
    const got = cuda.download(sum!);
    graph.dispose();
    cuda.release(mark);
    const want = values.map((v) => roundToDType('bfloat16', 2 * v));
    assertSameBits(got, Float32Array.from(want), 'captured add');
  });

  it('a sparse layer plan equals the CPU graph under the element mask', async () => {
    const layerPlan = parseLayerPlan(
      {
        format: 'tessera.layer-plan/1',
        layers: 2,
        sizes: { t: 4, h: 8, w: 8 },
        patterns: { full: { builtin: 'full' }, tile: { builtin: 'attention_tile', params: { a: 1 } } },
        default: 'tile',
        assign: { '0': 'full' },
      },
      '/tmp/gpu-plan.json',
    );
    const model = createCudaOpenSoraModel(CONFIG, weights, cuda, {
      latent: LATENT,
      layerPlan: await planLayers(layerPlan, tokenGrid(CONFIG, LATENT), BLOCKS, null),
    });
    const spec = model.attention[1]!;
    assert.ok(spec.kind === 'plan' && spec.plan.stats.empty > 0, 'layer 1 skips blocks');
    const oracle = await run(
      createOpenSoraModel(CONFIG, weights, {
        latent: LATENT,
        precision: 'float64',
        attention: [{ kind: 'dense' }, maskedAttention(builtin('attention_tile', { a: 1 }), GRID)],
      }),
    );
    assert.ok(checkedError(oracle, dense) > 1e-3, 'the sparse plan changes the output');
    const err = checkedError(await run(model), oracle);
    assert.ok(err < TOLERANCE.network, `relative error ${err}`);
  });

  it("a per-head layer plan equals the CPU graph under each head's element mask, eager and replayed", async () => {
    const layerPlan = parseLayerPlan(
      {
        format: 'tessera.layer-plan/1',
        layers: 2,
        heads: 2,
        sizes: { t: 4, h: 8, w: 8 },
        patterns: {
          full: { builtin: 'full' },
          tile: { builtin: 'attention_tile', params: { a: 1 } },
          spatial: { builtin: 'spatial' },
        },
        default: 'full',
        assign: { '1': { heads: { '0': 'spatial', '1': 'tile' } } },
      },
      '/tmp/gpu-per-head-plan.json',
    );
    const compiled = await planLayers(layerPlan, tokenGrid(CONFIG, LATENT), BLOCKS, null);
    const model = createCudaOpenSoraModel(CONFIG, weights, cuda, { latent: LATENT, layerPlan: compiled });
    assert.equal(model.attention[1]!.kind, 'heads');
    const masks = [
      maskedAttention(builtin('spatial', {}), GRID),
      maskedAttention(builtin('attention_tile', { a: 1 }), GRID),
    ];
    const oracle = await run(
      createOpenSoraModel(CONFIG, weights, {
        latent: LATENT,
        precision: 'float64',
        attention: [{ kind: 'dense' }, { kind: 'heads', perHead: masks }],
      }),
    );
    for (const single of masks) {
      const one = await run(
        createOpenSoraModel(CONFIG, weights, {
          latent: LATENT,
          precision: 'float64',
          attention: [{ kind: 'dense' }, single],
        }),
      );
      assert.ok(checkedError(oracle, one) > 1e-3, "each head's pattern matters");
    }
    const eager = await run(model);
    const err = checkedError(eager, oracle);
    assert.ok(err < TOLERANCE.network, `relative error ${err}`);
    model.dispose();
    const graph = createCudaOpenSoraModel(CONFIG, weights, cuda, {
      latent: LATENT,
      layerPlan: compiled,
      execution: 'graph',
    });
    for (let i = 0; i < 2; i++) assertSameBits(await run(graph), eager, `per-head graph, call ${i}`);
    graph.dispose();
  });
});
