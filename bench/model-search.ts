/**
 * The layer-wise mask search at full size on CUDA (issue 14): Open-Sora-Plan 1.2 (32 layers, 24 x 96) with seeded
 * random bf16 weights made on the device (the numbers mean nothing for quality, the time does), 29 frames at 720p
 * (8 x 45 x 80 = 28,800 tokens), guidance batch of 2 with mT5-shaped text (120 tokens x 4096), the default
 * candidates of 8 frames (1:7, 2:6, 4:4, full) and 4 calibration inputs along the segment sampler's path.
 * It runs the library the command line runs (search/), prints time per forward, what prefix caching saved and
 * the memory held, and writes the plans, the heatmap and `model-search.json` into the output folder.
 *
 * First, unless --skip-check: the same search on a small network on CUDA and on the CPU in float64, errors
 * compared (bf16 against float64), and on CUDA with the prefix cache against recomputing every prefix (equal),
 * so the device path's memory scopes and distances are checked in the same call.
 *
 * Usage (repository root): node dist/bench/model-search.js <outDir> [--layers 32] [--inputs 4] [--steps 20]
 *   [--sampler segment] [--calibration-steps spread|0,5,...] [--candidates LIST] [--mode independent|cumulative]
 *   [--threshold 0.025,0.05,0.1,0.2,0.4] [--skip-check] [--backend cuda|cpu] [--config FILE] [--frames 29]
 *   [--size 720p] [--text-tokens 120]
 * Small and on the CPU (host random weights, no check), e.g.:
 *   --backend cpu --config models/open-sora-plan/configs/tiny.json --frames 17 --size 64x64 --steps 4 --inputs 2
 * Expected time on one H200 (a full forward at batch 2 is ~1.62 s, bench/RESULTS.md): calibration
 * 1 + 6 + 11 + 16 = 34 forwards (~55 s); 3 sparse candidates x 4 inputs x 528 suffix blocks (~305 s); prefixes
 * and the per-layer attention comparison (~20 s); ~6.5 minutes in all.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseSize, VAE_STRIDE } from '../cli/generate-inputs.js';
import { renderScenePng, renderSceneSvg } from '../codegen/png/scene.js';
import { formatLayerPlan } from '../compiler/layer-plan.js';
import { gaussianNoise } from '../core/random.js';
import type { OpenSoraConfig } from '../models/open-sora-plan/config.js';
import { readModelConfig } from '../models/open-sora-plan/config-file.js';
import { randomDeviceWeights } from '../models/open-sora-plan/cuda-model.js';
import {
  createOpenSoraNetwork,
  networkDenoiser,
  type OpenSoraNetwork,
  tokenGrid,
} from '../models/open-sora-plan/network.js';
import { randomOpenSoraWeights } from '../models/open-sora-plan/random-weights.js';
import { DEFAULT_SPACING, type Guidance, type SamplerName } from '../models/samplers/index.js';
import { createCpuOps } from '../runtime/cpu/model-ops.js';
import { type CudaOps, createCudaOps } from '../runtime/cuda/model-ops.js';
import type { OpTensor } from '../runtime/model-ops.js';
import { type CalibrationInput, type CalibrationSteps, collectCalibration } from '../search/calibration.js';
import { compileCandidates, defaultCandidates, parseCandidates } from '../search/candidates.js';
import { errorHeatmapScene, searchHeatmaps } from '../search/heatmap.js';
import { type SearchMode, type SearchResult, searchLayers } from '../search/measure.js';
import { type SearchRecord, searchedPlans } from '../search/plans.js';
import { formatSearchReport, makeSearchReport } from '../search/report.js';

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    backend: { type: 'string', default: 'cuda' },
    config: { type: 'string', default: 'models/open-sora-plan/configs/open-sora-plan-1.2-720p.json' },
    layers: { type: 'string' },
    frames: { type: 'string', default: '29' },
    size: { type: 'string', default: '720p' },
    'text-tokens': { type: 'string', default: '120' },
    inputs: { type: 'string', default: '4' },
    steps: { type: 'string', default: '20' },
    sampler: { type: 'string', default: 'segment' },
    'calibration-steps': { type: 'string', default: 'spread' },
    candidates: { type: 'string' },
    mode: { type: 'string', default: 'independent' },
    threshold: { type: 'string', default: '0.025,0.05,0.1,0.2,0.4' },
    'skip-check': { type: 'boolean', default: false },
  },
});
const outDir = positionals[0] ?? 'out/bench-search';
const TEXT_TOKENS = Number(args['text-tokens']);
const GUIDANCE = 7.5;
const BLOCKS = { blockQ: 128, blockK: 128 };
const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(2)} GiB`;
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** mT5-shaped text: the prompt fills all tokens, the negative prompt ("") is one token and padding. */
function textGuidance(width: number, seed: number): Guidance {
  const mask = (visible: number) => Uint8Array.from({ length: TEXT_TOKENS }, (_, i) => (i < visible ? 1 : 0));
  return {
    cond: { embeddings: gaussianNoise(seed, 0, TEXT_TOKENS * width), mask: mask(TEXT_TOKENS) },
    uncond: { embeddings: gaussianNoise(seed, 1, TEXT_TOKENS * width), mask: mask(1) },
    scale: GUIDANCE,
  };
}

/** Random calibration inputs for the small check (batch 2, 3 text tokens). */
function randomInputs(
  config: OpenSoraConfig,
  latent: { frames: number; height: number; width: number },
  count: number,
): CalibrationInput[] {
  const size = config.inChannels * latent.frames * latent.height * latent.width;
  return Array.from({ length: count }, (_, i) => {
    const x = gaussianNoise(100 + i, 0, size);
    const t = 150 + 300 * i;
    return {
      seed: 100 + i,
      prompt: 0,
      step: i,
      timestep: t,
      batch: 2,
      x: Float32Array.from([...x, ...x]),
      timesteps: Float32Array.of(t, t),
      text: gaussianNoise(100 + i, 1, 2 * 3 * config.captionChannels),
      textMask: Uint8Array.of(1, 0, 0, 1, 1, 1),
    };
  });
}

/** The search on a small network, on CUDA (bf16) and on the CPU (float64): the same errors within bf16. */
async function smallCheck(ops: CudaOps, base: OpenSoraConfig): Promise<boolean> {
  // The model's structure scaled down, with a head dim the attention kernels take (64, 96 or 128).
  const config: OpenSoraConfig = {
    ...base,
    name: 'search-check',
    layers: 3,
    heads: 2,
    headDim: 96,
    ffnDim: 384,
    captionChannels: 64,
    timestepChannels: 32,
  };
  const latent = { frames: 4, height: 16, width: 16 }; // 4 x 8 x 8 = 256 tokens
  const weights = randomOpenSoraWeights(config, 3);
  // Attention gates of 3 (random tables give ~0.1): the masks then move the output well above the bf16 floor.
  const d = config.heads * config.headDim;
  for (let l = 0; l < config.layers; l++)
    weights.get(`transformer_blocks.${l}.scale_shift_table`).data.fill(3, 2 * d, 3 * d);
  const grid = tokenGrid(config, latent);
  const candidates = await compileCandidates(defaultCandidates(grid.frames), grid, {
    blockQ: 64,
    blockK: 64,
  });
  const inputs = randomInputs(config, latent, 2);
  const run = <T extends OpTensor>(network: OpenSoraNetwork<T>, recompute = false) =>
    searchLayers({ network, candidates, inputs, thresholds: [0.01, 0.1], mode: 'independent', recompute });
  const cpu = await run(createOpenSoraNetwork(config, weights, { latent, ops: createCpuOps('float64') }));
  const mark = ops.mark();
  const cudaNetwork = createOpenSoraNetwork(config, weights, { latent, ops });
  const cuda = await run(cudaNetwork);
  const recomputed = await run(cudaNetwork, true);
  ops.release(mark);
  let ok = true;
  console.log('small check (3 layers, 256 tokens, independent mode): CUDA bf16 against CPU float64, and the');
  console.log('CUDA prefix cache against recomputing every prefix (the same kernels in the same order)');
  console.log(
    '  layer  candidate  output err cuda / cpu / recomputed     attention err cuda / cpu / recomputed',
  );
  cpu.matrix.forEach((row, l) => {
    const got = cuda.matrix[l]!;
    const again = recomputed.matrix[l]!;
    candidates.forEach((c, i) => {
      // bf16 activations: the errors agree with float64 to a fraction of themselves plus a bf16 floor.
      const close = (a: number, b: number) => Math.abs(a - b) <= 0.2 * b + 1e-2;
      const same = (a: number, b: number) => Math.abs(a - b) <= 1e-3 * b + 1e-5;
      const pass =
        close(got.output[i]!, row.output[i]!) &&
        close(got.attention[i]!, row.attention[i]!) &&
        same(got.output[i]!, again.output[i]!) &&
        same(got.attention[i]!, again.attention[i]!);
      ok &&= pass;
      const f = (x: number) => x.toFixed(4);
      console.log(
        `  ${l}      ${c.label.padEnd(9)}  ${f(got.output[i]!)} / ${f(row.output[i]!)} / ${f(again.output[i]!)}       ` +
          `${f(got.attention[i]!)} / ${f(row.attention[i]!)} / ${f(again.attention[i]!)}${pass ? '' : '  MISMATCH'}`,
      );
    });
  });
  console.log(`  small check ${ok ? 'PASS' : 'FAIL'}\n`);
  return ok;
}

/** The network on the chosen backend, and what it holds. */
async function setUp(
  config: OpenSoraConfig,
  latent: { frames: number; height: number; width: number },
): Promise<{
  device: string;
  network: OpenSoraNetwork<OpTensor>;
  checkOk: boolean | null;
  held: () => number | null;
  weightBytes: number | null;
  dispose: () => void;
}> {
  if (args.backend === 'cpu') {
    const ops = createCpuOps('float32');
    const network = createOpenSoraNetwork(config, randomOpenSoraWeights(config, 0), { latent, ops });
    return {
      device: ops.name,
      network,
      checkOk: null,
      held: () => null,
      weightBytes: null,
      dispose: () => {},
    };
  }
  const ops = createCudaOps({ syncAttention: false });
  console.log(`device ${ops.device.info.name}`);
  const checkOk = args['skip-check'] ? null : await smallCheck(ops, config);
  const weight = randomDeviceWeights(ops, config, 0);
  ops.synchronize();
  const weightBytes = ops.arena.heldBytes;
  const network = ops.persistent(() => createOpenSoraNetwork(config, weight, { latent, ops }));
  const held = (): number => {
    ops.synchronize();
    return ops.arena.heldBytes;
  };
  return {
    device: ops.device.info.name,
    network: network as OpenSoraNetwork<OpTensor>,
    checkOk,
    held,
    weightBytes,
    dispose: () => ops.dispose(),
  };
}

const gibOrDash = (bytes: number | null) => (bytes === null ? '-' : gib(bytes));

async function main(): Promise<void> {
  const started = performance.now();
  mkdirSync(outDir, { recursive: true });
  const base = await readModelConfig(args.config!);
  const layers = Number(args.layers ?? base.layers);
  const config = layers === base.layers ? base : { ...base, layers, name: `${base.name} (${layers} layers)` };
  const { width, height } = parseSize(args.size!);
  const latent = {
    frames: (Number(args.frames) - 1) / VAE_STRIDE.frames + 1,
    height: height / VAE_STRIDE.height,
    width: width / VAE_STRIDE.width,
  };
  const grid = tokenGrid(config, latent);
  const { device, network, checkOk, held, weightBytes, dispose } = await setUp(config, latent);
  console.log(
    `${config.name}: ${grid.frames} x ${grid.height} x ${grid.width} tokens, batch 2 (guidance ${GUIDANCE}), ` +
      `${TEXT_TOKENS} text tokens; weights on the device ${gibOrDash(weightBytes)}`,
  );

  const specs = args.candidates ? parseCandidates(args.candidates) : defaultCandidates(grid.frames);
  const compileStart = performance.now();
  const candidates = await compileCandidates(specs, grid, BLOCKS);
  console.log(
    `candidates: ${candidates.map((c) => `${c.label} (${c.computedBlocks} blocks)`).join(', ')} ` +
      `compiled in ${seconds(performance.now() - compileStart)}`,
  );

  const inputCount = Number(args.inputs);
  const steps = Number(args.steps);
  const at: CalibrationSteps =
    args['calibration-steps'] === 'spread' ? 'spread' : args['calibration-steps']!.split(',').map(Number);
  const guidance = textGuidance(config.captionChannels, 0);
  const stepMs: number[] = [];
  const calibrationStart = performance.now();
  const inputs = await collectCalibration(
    networkDenoiser(network),
    {
      prompts: [guidance],
      seeds: Array.from({ length: inputCount }, (_, i) => i),
      sampler: args.sampler as SamplerName,
      steps,
      at,
    },
    (r) => {
      stepMs.push(r.ms);
      console.log(
        `  calibration seed ${r.seed} step ${r.index + 1}/${r.of} (t=${r.timestep}): ${r.ms.toFixed(0)} ms`,
      );
    },
  );
  const calibrationMs = performance.now() - calibrationStart;
  const forwardMs = [...stepMs].sort((a, b) => a - b)[Math.floor(stepMs.length / 2)] ?? Number.NaN;
  console.log(
    `calibration: ${inputs.length} inputs (steps ${inputs.map((i) => i.step).join(', ')}) in ${seconds(calibrationMs)}; ` +
      `full forward ${forwardMs.toFixed(0)} ms (median; the first compiles kernels)`,
  );
  const heldAfterCalibration = held();

  let lastLayer = -1;
  const result: SearchResult = await searchLayers({
    network,
    candidates,
    inputs,
    thresholds: args.threshold!.split(',').map(Number),
    mode: args.mode as SearchMode,
    onProgress: (p) => {
      if (p.layer === lastLayer) return;
      lastLayer = p.layer;
      const eta = p.done === 0 ? 0 : (p.elapsedMs * (p.total - p.done)) / p.done;
      console.log(
        `  layer ${p.layer + 1}/${config.layers}: ${((100 * p.done) / p.total).toFixed(0)}%, ${seconds(p.elapsedMs)} elapsed, ETA ${seconds(eta)}`,
      );
    },
  });
  const heldAfterSearch = held();
  const s = result.stats;
  const msPerBlock = s.suffixMs / Math.max(1, s.suffixBlocks);
  const record: SearchRecord = {
    config,
    grid,
    blocks: BLOCKS,
    checkpoint: { weights: 'randomDeviceWeights(seed 0), bf16 on the device' },
    calibration: {
      sampler: args.sampler!,
      steps,
      spacing: DEFAULT_SPACING[args.sampler as SamplerName],
      guidance: GUIDANCE,
      seeds: inputs.map((i) => i.seed),
      prompts: 1,
      at,
    },
    inputs,
  };
  const plans = searchedPlans(result, record, outDir);
  const files: string[] = [];
  for (const p of plans) {
    writeFileSync(join(outDir, p.fileName), formatLayerPlan(p.plan, outDir));
    files.push(join(outDir, p.fileName));
  }
  for (const { name, input } of searchHeatmaps(result, record)) {
    const scene = errorHeatmapScene(input);
    writeFileSync(join(outDir, `${name}.png`), renderScenePng(scene));
    writeFileSync(join(outDir, `${name}.svg`), renderSceneSvg(scene));
    files.push(join(outDir, `${name}.png`), join(outDir, `${name}.svg`));
  }
  const report = makeSearchReport(result, record, plans, files, (p) => join(outDir, p.fileName));
  console.log(`\n${formatSearchReport(report)}`);

  const totalMs = performance.now() - started;
  const summary = {
    device,
    config: config.name,
    grid,
    candidates: candidates.map((c) => c.label),
    inputs: inputs.length,
    smallCheck: checkOk,
    calibration: { forwards: stepMs.length, ms: calibrationMs, medianForwardMs: forwardMs },
    search: {
      ms: s.ms,
      suffixForwards: s.suffixForwards,
      msPerSuffixForward: s.suffixMs / Math.max(1, s.suffixForwards),
      msPerBlock,
      blocks: s.blocks,
      blocksWithoutCache: s.blocksWithoutCache,
      prefixSaving: 1 - s.blocks / s.blocksWithoutCache,
      msSavedByPrefixCache: (s.blocksWithoutCache - s.blocks) * msPerBlock,
    },
    memory: {
      weightsBytes: weightBytes,
      heldAfterCalibrationBytes: heldAfterCalibration,
      heldAfterSearchBytes: heldAfterSearch,
      prefixCacheBytes: s.cachedElements * 2,
      prefixCacheInputs: s.cachedInputs,
    },
    totalMs,
    report,
  };
  writeFileSync(join(outDir, 'model-search.json'), `${JSON.stringify(summary, null, 2)}\n`);
  console.log(
    [
      '| measure | value |',
      '| --- | ---: |',
      `| full forward (batch 2, calibration median) | ${forwardMs.toFixed(0)} ms |`,
      `| calibration (${stepMs.length} forwards) | ${seconds(calibrationMs)} |`,
      `| suffix forwards | ${s.suffixForwards}, ${(s.suffixMs / Math.max(1, s.suffixForwards)).toFixed(0)} ms each (${msPerBlock.toFixed(1)} ms per block) |`,
      `| measurement (suffixes, prefixes, attention comparison) | ${seconds(s.ms)} |`,
      `| prefix caching | ${s.blocks} blocks instead of ${s.blocksWithoutCache} (${(100 * summary.search.prefixSaving).toFixed(1)}% saved, ~${seconds(summary.search.msSavedByPrefixCache)}) |`,
      `| prefix cache held | ${s.cachedInputs} layer inputs, ${gib(s.cachedElements * 2)} with the staged context |`,
      `| device memory held (arena) | weights ${gibOrDash(weightBytes)}, after calibration ${gibOrDash(heldAfterCalibration)}, after the search ${gibOrDash(heldAfterSearch)} |`,
      `| whole run | ${seconds(totalMs)} |`,
    ].join('\n'),
  );
  console.log(`summary: ${join(outDir, 'model-search.json')}`);
  dispose();
  if (checkOk === false) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
