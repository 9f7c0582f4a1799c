/**
 * Sequence parallelism on one GPU (`scripts/gpu/run-all.sh parallel`, never CI):
 * 1. logical ranks (the whole world in this process, device-to-device copies in place of the all-to-alls)
 *    against the unsharded CUDA step at full size: Open-Sora-Plan 1.2's width (24 heads x 96) over 29 frames
 *    at 720p (8 x 45 x 80 = 28,800 tokens), guidance's batch of 2, random bf16 weights made on the device;
 *    Ulysses 2, 4 and 8, CFG-parallel, and both, dense and with plans/example-t8.json; bf16 tolerance (the
 *    same kernels on fewer rows: cuBLASLt may pick another GEMM algorithm, so sums may round differently);
 *    then the parallel step captured as one CUDA graph and replayed, bit for bit the eager step;
 * 2. NCCL through the addon with a world of one: the control channel, init, an exchange (all-to-all) to
 *    itself, in pieces above the chunk size, all-gather, broadcast, the shard layer's exchange, destroy; and
 *    the error paths (a peer outside the world, use after destroy, abort), each naming the call and the rank.
 * TESSERA_PARALLEL_LAYERS (default 8) sets the depth of the full-size network (the plan's first layers).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { planLayers, readLayerPlan } from '../../compiler/layer-plan.js';
import { relativeError } from '../../core/error-metrics.js';
import { readModelConfig } from '../../models/open-sora-plan/config-file.js';
import { randomDeviceTensor, randomDeviceWeights } from '../../models/open-sora-plan/cuda-model.js';
import { layerAttention } from '../../models/open-sora-plan/layer-attention.js';
import { deviceStepPass } from '../../models/open-sora-plan/parallel-model.js';
import {
  type CudaOps,
  type CudaPass,
  CudaStepGraph,
  type CudaTensor,
  createCudaOps,
} from '../../runtime/cuda/model-ops.js';
import { loadNative } from '../../runtime/cuda/native-binding.js';
import type { SelfAttentionSpec, TokenGrid } from '../../runtime/model-ops.js';
import { ControlChannel } from '../../runtime/parallel/control.js';
import { cudaShards, deviceBytes } from '../../runtime/parallel/cuda-shards.js';
import { RankError } from '../../runtime/parallel/errors.js';
import { freePort } from '../../runtime/parallel/launch.js';
import type { ParallelDegrees } from '../../runtime/parallel/layout.js';
import { NcclCommunicator, ncclAvailable } from '../../runtime/parallel/nccl.js';
import { TransferList } from '../../runtime/parallel/sharded.js';
import { logicalCudaWorld } from '../../runtime/parallel/world.js';
import { cudaModelSkip } from './skip.js';

const skip = cudaModelSkip();
const nccl = skip ? null : ncclAvailable();
const skipNccl = skip || (nccl && !nccl.available ? `no NCCL: ${nccl.reason.split('\n')[0]}` : false);

/** Sharded vs unsharded bf16 networks, relative L2: the same kernels, GEMMs over fewer rows may round otherwise. */
const TOLERANCE = 1e-2;
const LAYERS = Number(process.env.TESSERA_PARALLEL_LAYERS ?? 8);
const LATENT = { frames: 8, height: 90, width: 160 };
const GRID: TokenGrid = { frames: 8, height: 45, width: 80 };
const BATCH = 2;
const TEXT = 120;

describe('logical ranks against the unsharded CUDA step at full size', { skip }, () => {
  let ops: CudaOps;
  /** The step on `degrees` (null: unsharded) as a pass: inputs (host uploads) and forward (launches only). */
  let pass: (degrees: ParallelDegrees | null, attention: readonly SelfAttentionSpec[]) => CudaPass<unknown>;
  let dense: SelfAttentionSpec[];
  let planned: SelfAttentionSpec[];
  const unsharded = new Map<string, Float32Array>();

  /** One eager run of a pass, downloaded. */
  const once = (p: ReturnType<typeof pass>): Float32Array => {
    const mark = ops.mark();
    try {
      return ops.download(p.forward(p.inputs()));
    } finally {
      ops.release(mark);
    }
  };

  before(async () => {
    ops = createCudaOps({ syncAttention: false });
    const full = await readModelConfig('models/open-sora-plan/configs/open-sora-plan-1.2-720p.json');
    const config = { ...full, layers: LAYERS };
    const weight = randomDeviceWeights(ops, config, 0);
    const x = randomDeviceTensor(ops, [BATCH, 4, LATENT.frames, LATENT.height, LATENT.width], 1);
    const text = randomDeviceTensor(ops, [BATCH, TEXT, config.captionChannels], 2);
    // Different timesteps and text padding per row, so a row mix-up of CFG-parallel shows.
    const timesteps = Float32Array.of(900, 300);
    const textMask = new Uint8Array(BATCH * TEXT).fill(1);
    textMask.fill(0, 100, TEXT);
    dense = Array.from({ length: LAYERS }, () => ({ kind: 'dense' as const }));
    const compiled = await planLayers(await readLayerPlan('plans/example-t8.json'), GRID, undefined, null);
    planned = layerAttention(compiled).slice(0, LAYERS);
    const inputs = { latents: x, text, timesteps, textMask };
    pass = (degrees, attention) =>
      deviceStepPass(
        ops,
        degrees ? logicalCudaWorld(degrees, ops) : null,
        weight,
        config,
        GRID,
        attention,
        inputs,
      );
  });
  after(() => ops?.dispose());

  const splits: [string, ParallelDegrees][] = [
    ['Ulysses 2', { sp: 2, cfg: 1 }],
    ['Ulysses 4', { sp: 4, cfg: 1 }],
    ['Ulysses 8', { sp: 8, cfg: 1 }],
    ['CFG-parallel', { sp: 1, cfg: 2 }],
    ['CFG-parallel x Ulysses 2', { sp: 2, cfg: 2 }],
  ];
  for (const [kind, specs] of [
    ['dense', () => dense],
    ['plans/example-t8.json', () => planned],
  ] as const) {
    for (const [name, degrees] of splits) {
      it(`${name}, ${kind}`, () => {
        if (!unsharded.has(kind)) unsharded.set(kind, once(pass(null, specs())));
        const want = unsharded.get(kind)!;
        const got = once(pass(degrees, specs()));
        for (let i = 0; i < got.length; i++) assert.ok(Number.isFinite(got[i]!), `element ${i} is ${got[i]}`);
        const err = relativeError(got, want);
        console.log(`  ${name}, ${kind}: relative error ${err.toExponential(3)} against the unsharded step`);
        assert.ok(err < TOLERANCE, `relative error ${err}`);
      });
    }
  }

  it('the parallel step on a memory plan and replayed as one CUDA graph gives the eager bits', () => {
    const degrees = { sp: 2, cfg: 2 } as const;
    const eager = once(pass(degrees, planned));
    for (const execution of ['planned', 'graph'] as const) {
      const steps = new CudaStepGraph(ops, execution);
      const p = pass(degrees, planned);
      for (let i = 0; i < 3; i++)
        assert.deepEqual(
          steps.run('step', p, (t) => ops.download(t)),
          eager,
          `${execution}, call ${i}`,
        );
      const stats = steps.stats();
      if (execution === 'graph') {
        assert.deepEqual([stats.captures, stats.replays], [1, 1]);
        console.log(`  one CUDA graph of ${stats.graphNodes} nodes for the parallel step`);
      }
      steps.dispose();
    }
  });
});

describe('NCCL through the addon, a world of one', { skip: skipNccl }, () => {
  let ops: CudaOps;
  let comm: NcclCommunicator;
  const native = () => loadNative().native!;
  const bytes = (n: number, seed: number) => randomDeviceTensor(ops, [1, 1, n], seed);

  before(async () => {
    ops = createCudaOps();
    console.log(`  NCCL ${nccl!.version} from ${nccl!.path}`);
    // Small pieces, so the exchange below goes in several groups.
    process.env.TESSERA_NCCL_CHUNK_BYTES = String(64 * 1024);
    const channel = ControlChannel.join({
      rank: 0,
      size: 1,
      host: '127.0.0.1',
      port: await freePort(),
      timeoutMs: 30_000,
      summary: { test: 'nccl world of one' },
      setup: native().ncclUniqueId(),
    });
    comm = NcclCommunicator.init({ rank: 0, size: 1, channel });
  });
  after(() => {
    try {
      comm?.close();
    } catch {
      // Closed by a test already.
    }
    ops?.dispose();
  });

  it('exchanges with itself (in several groups), all-gathers and broadcasts', () => {
    const a = bytes(300_000, 5); // 600 kB: ten pieces of 64 kB
    const b = bytes(300_000, 6);
    comm.exchange(
      [{ peer: 0, buffer: deviceBytes(a) }],
      [{ peer: 0, buffer: deviceBytes(b) }],
      'self exchange',
    );
    assert.deepEqual(ops.download(b), ops.download(a));
    const g = bytes(300_000, 9);
    comm.allGather(deviceBytes(a), deviceBytes(g), 'all-gather');
    assert.deepEqual(ops.download(g), ops.download(a));
    comm.broadcast(deviceBytes(g), 0, 'broadcast');
    comm.check();
  });

  it("the shard layer's exchange (an all-to-all of a tensor to itself) goes through NCCL", () => {
    const shards = cudaShards(ops, comm);
    const src = randomDeviceTensor(ops, [2, 64, 96], 10);
    const dst = randomDeviceTensor(ops, [2, 64, 96], 11);
    const list = new TransferList<CudaTensor>();
    list.send(0, 0, src);
    list.recv(0, 0, dst);
    shards.exchange(list.list(), 'all-to-all to itself');
    assert.deepEqual(ops.download(dst), ops.download(src));
  });

  it('a peer outside the world is an error naming the call, the rank and the peer', () => {
    const a = bytes(1024, 12);
    assert.throws(
      () => comm.exchange([{ peer: 1, buffer: deviceBytes(a) }], [], 'bad peer'),
      (e: unknown) =>
        e instanceof RankError &&
        /rank 0 of 1: bad peer: ncclSend failed: .*\[rank 0 of 1, peer 1, bad peer\]/.test(e.message),
    );
  });

  it('after destroy and after abort, calls say so instead of touching a freed communicator', () => {
    const a = bytes(1024, 13);
    comm.close();
    assert.throws(
      () => native().ncclExchange([{ peer: 0, ptr: a.buffer.ptr, bytes: 2048 }], [], 'after destroy'),
      /no NCCL communicator: call ncclInit\(\) first \[rank 0 of 1, after destroy\]/,
    );
    native().ncclInit(native().ncclUniqueId(), 1, 0);
    assert.equal(native().ncclAbort(), true);
    assert.throws(
      () => native().ncclExchange([{ peer: 0, ptr: a.buffer.ptr, bytes: 2048 }], [], 'after abort'),
      /the NCCL communicator was aborted \[rank 0 of 1, after abort\]/,
    );
    assert.throws(() => native().ncclInit(new Uint8Array(7), 1, 0), /the unique id must be 128 bytes/);
  });
});
