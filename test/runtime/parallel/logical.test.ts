/**
 * The partitioning on logical ranks (the whole world in one process, exchanges as copies): Ulysses over 2, 3,
 * 4 and 6 ranks of a 5-frame video (uneven slices), CFG-parallel, and both together, against the unsharded
 * float64 graph, with full attention and a sparse layer plan. The multi-process tests (processes.test.ts) run
 * the same decorators over the host communicator.
 */
import { describe, expect, it } from 'vitest';
import { layerAttention } from '../../../models/open-sora-plan/layer-attention.js';
import { createOpenSoraModel } from '../../../models/open-sora-plan/network.js';
import { createParallelOpenSoraModel } from '../../../models/open-sora-plan/parallel-model.js';
import { ParallelConfigError } from '../../../runtime/parallel/errors.js';
import type { ParallelDegrees } from '../../../runtime/parallel/layout.js';
import { logicalCpuWorld } from '../../../runtime/parallel/world.js';
import {
  PARALLEL_CONFIG,
  PARALLEL_LATENT,
  PARALLEL_WEIGHTS,
  parallelForward,
  parallelInputs,
  perHeadPlan,
  relativeError,
  sparsePlan,
  unshardedForward,
} from './support.js';

const DEGREES: ParallelDegrees[] = [
  { sp: 2, cfg: 1 },
  { sp: 3, cfg: 1 },
  { sp: 4, cfg: 1 },
  { sp: 6, cfg: 1 },
  { sp: 1, cfg: 2 },
  { sp: 2, cfg: 2 },
  { sp: 3, cfg: 2 },
];

describe('logical ranks against the unsharded float64 graph', () => {
  const inputs = parallelInputs();

  it.each(DEGREES)('Ulysses $sp x CFG $cfg, full attention', ({ sp, cfg }) => {
    if (sp > PARALLEL_LATENT.frames) {
      expect(() => parallelForward(logicalCpuWorld({ sp, cfg }), inputs)).toThrow(
        /at least 6 latent frames|one of the 5/,
      );
      return;
    }
    const want = unshardedForward(inputs);
    const got = parallelForward(logicalCpuWorld({ sp, cfg }), inputs);
    expect(got.length).toBe(want.length);
    expect(relativeError(got, want)).toBeLessThan(1e-12);
  });

  it.each(DEGREES.filter((d) => d.sp <= PARALLEL_LATENT.frames))(
    'Ulysses $sp x CFG $cfg, a sparse layer plan',
    async ({ sp, cfg }) => {
      const attention = layerAttention(await sparsePlan());
      const dense = unshardedForward(inputs);
      const want = unshardedForward(inputs, attention);
      expect(relativeError(want, dense)).toBeGreaterThan(1e-3);
      const got = parallelForward(logicalCpuWorld({ sp, cfg }), inputs, attention);
      expect(relativeError(got, want)).toBeLessThan(1e-12);
    },
  );

  it.each(DEGREES.filter((d) => d.sp <= PARALLEL_LATENT.frames))(
    'Ulysses $sp x CFG $cfg, a per-head layer plan (each rank uses the plans of its global heads)',
    async ({ sp, cfg }) => {
      const attention = layerAttention(await perHeadPlan());
      expect(attention[0]!.kind).toBe('heads');
      const want = unshardedForward(inputs, attention);
      // The head split matters: the same layer with one pattern for every head gives another output.
      const oneFor = (h: number) => {
        const spec = attention[0]!;
        return spec.kind === 'heads' ? spec.perHead[h]! : spec;
      };
      for (const h of [0, 5, 7])
        expect(relativeError(want, unshardedForward(inputs, [oneFor(h), attention[1]!]))).toBeGreaterThan(
          1e-3,
        );
      const got = parallelForward(logicalCpuWorld({ sp, cfg }), inputs, attention);
      expect(relativeError(got, want)).toBeLessThan(1e-12);
    },
  );

  it('a degree that does not divide the heads is refused, naming the valid ones', () => {
    expect(() => parallelForward(logicalCpuWorld({ sp: 5, cfg: 1 }), inputs)).toThrow(ParallelConfigError);
    expect(() => parallelForward(logicalCpuWorld({ sp: 5, cfg: 1 }), inputs)).toThrow(
      /must divide the 12 attention heads; valid degrees: 1, 2, 3, 4/,
    );
  });

  it('CFG-parallel refuses a batch without the two guidance rows', async () => {
    const model = createParallelOpenSoraModel(PARALLEL_CONFIG, PARALLEL_WEIGHTS, {
      latent: PARALLEL_LATENT,
      world: logicalCpuWorld({ sp: 1, cfg: 2 }),
    });
    const one = parallelInputs(5, 1);
    await expect(model.predictNoise(one.x, one.timesteps, one.text, one.textMask, 1)).rejects.toThrow(
      /two rank groups; a batch of 1/,
    );
  });

  it('the parallel denoiser returns the unsharded one bits (float32 outputs)', async () => {
    const plain = createOpenSoraModel(PARALLEL_CONFIG, PARALLEL_WEIGHTS, {
      latent: PARALLEL_LATENT,
      precision: 'float64',
    });
    const parallel = createParallelOpenSoraModel(PARALLEL_CONFIG, PARALLEL_WEIGHTS, {
      latent: PARALLEL_LATENT,
      world: logicalCpuWorld({ sp: 2, cfg: 2 }),
    });
    const i = parallelInputs(9);
    const want = await plain.predictNoise(i.x, i.timesteps, i.text, i.textMask, 2);
    const got = await parallel.predictNoise(i.x, i.timesteps, i.text, i.textMask, 2);
    expect(got).toEqual(want);
  });
});
