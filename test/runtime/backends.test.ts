/**
 * Every attention backend present, through the one interface, on random built-in patterns against the
 * float64 reference. Backends are chosen and sized by their capabilities, never by name: the CPU is always
 * here, WebGPU on CI's software adapter, CUDA where a driver exists.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compiledElementMask } from '../../compiler/classify/element-mask.js';
import { compileSource } from '../../compiler/frontend.js';
import { buildPlan } from '../../compiler/plan/build.js';
import { relativeError } from '../../core/error-metrics.js';
import { findBuiltinPattern } from '../../patterns/index.js';
import { type AttentionBackend, preferredDtype } from '../../runtime/attention-backend.js';
import { denseAttention } from '../../runtime/cpu/attention.js';
import { createCpuBackend } from '../../runtime/cpu/backend.js';
import { perHeadAttention } from '../../runtime/per-head-attention.js';
import { GPU_PROBES, verificationBlock } from '../../verify/backends.js';
import { TOLERANCE } from '../../verify/tolerances.js';
import { randomInputs } from '../../verify/verify.js';
import { testRuns } from '../support/arbitraries/layout.js';

const backends: AttentionBackend[] = [];

beforeAll(async () => {
  backends.push(createCpuBackend());
  for (const probe of GPU_PROBES) {
    const made = await probe.create().catch((error: unknown) => ({ unavailable: String(error) }));
    if (!('unavailable' in made)) backends.push(made);
  }
});

afterAll(async () => {
  for (const b of backends) await b.dispose();
});

const caseArb = fc.record({
  pattern: fc.constantFrom(
    'attention_tile',
    'frame_window',
    'causal',
    'text_video',
    'dilated_frames',
    'radial',
    'svg_spatial',
    'svg_temporal',
  ),
  frames: fc.integer({ min: 2, max: 6 }),
  height: fc.integer({ min: 1, max: 4 }),
  width: fc.integer({ min: 2, max: 6 }),
  headDim: fc.constantFrom(64, 96, 128),
  seed: fc.nat(100_000),
});

describe('every backend present', () => {
  it("computes the plan's attention like the float64 reference", async () => {
    expect(backends.length).toBeGreaterThan(0);
    for (const backend of backends) {
      const dtype = preferredDtype(backend);
      const block = verificationBlock(backend);
      await fc.assert(
        fc.asyncProperty(caseArb, async (c) => {
          const builtin = findBuiltinPattern(c.pattern)!;
          const sizes: Record<string, number> = { t: c.frames, h: c.height, w: c.width };
          if (c.pattern === 'text_video' || c.pattern.startsWith('svg_')) sizes.l = 5;
          const params =
            'a' in builtin.defaultParams
              ? { ...builtin.defaultParams, a: 1 + (c.seed % c.frames) }
              : builtin.defaultParams;
          const pattern = compileSource(
            { name: builtin.file, text: readFileSync(builtin.file, 'utf8') },
            { sizes, params },
          );
          const plan = buildPlan(pattern, block, block);
          const inputs = randomInputs(plan.seqLen, 2, c.headDim, c.seed);
          const got = await backend.attention(plan, inputs, dtype);
          const ref = denseAttention(inputs, compiledElementMask(pattern));
          const error = relativeError(got.out, ref.out);
          expect(error, `${backend.name} ${plan.key} hd${c.headDim}`).toBeLessThan(TOLERANCE[dtype]);
          ref.lse.forEach((r, i) => {
            if (r === Number.NEGATIVE_INFINITY) expect(got.lse[i]).toBe(r);
            else expect(Math.abs(got.lse[i]! - r)).toBeLessThan(1e-2 * Math.max(1, Math.abs(r)));
          });
        }),
        { numRuns: testRuns(6) },
      );
    }
  });

  it('computes per-head plans like the float64 reference of each head', async () => {
    // Patterns on the same video layout (one token order), mixed over 2-4 heads at random.
    const names = ['attention_tile', 'frame_window', 'causal', 'dilated_frames', 'spatial', 'temporal'];
    const headsArb = fc.record({
      frames: fc.integer({ min: 2, max: 5 }),
      height: fc.integer({ min: 1, max: 3 }),
      width: fc.integer({ min: 2, max: 5 }),
      headDim: fc.constantFrom(64, 128),
      patternOfHead: fc.array(fc.integer({ min: 0, max: names.length - 1 }), { minLength: 2, maxLength: 4 }),
      seed: fc.nat(100_000),
    });
    for (const backend of backends) {
      const dtype = preferredDtype(backend);
      const block = verificationBlock(backend);
      await fc.assert(
        fc.asyncProperty(headsArb, async (c) => {
          // Only the patterns some head uses (a WGSL pipeline per plan is slow to build on llvmpipe).
          const patterns = names.map((name, i) => {
            if (!c.patternOfHead.includes(i)) return null;
            const builtin = findBuiltinPattern(name)!;
            return compileSource(
              { name: builtin.file, text: readFileSync(builtin.file, 'utf8') },
              { sizes: { t: c.frames, h: c.height, w: c.width }, params: builtin.defaultParams },
            );
          });
          const plans = patterns.map((pattern) => pattern && buildPlan(pattern, block, block));
          const H = c.patternOfHead.length;
          const S = plans[c.patternOfHead[0]!]!.seqLen;
          const D = c.headDim;
          // Each head's inputs drawn on their own, then interleaved into [1, S, H, D].
          const alone = c.patternOfHead.map((_, h) => randomInputs(S, 1, D, c.seed + 7919 * h));
          const interleave = (pick: (i: (typeof alone)[number]) => ArrayLike<number>) => {
            const x = new Float64Array(S * H * D);
            alone.forEach((i, h) => {
              for (let s = 0; s < S; s++)
                for (let d = 0; d < D; d++) x[(s * H + h) * D + d] = pick(i)[s * D + d]!;
            });
            return x;
          };
          const inputs = {
            ...alone[0]!,
            heads: H,
            q: interleave((i) => i.q),
            k: interleave((i) => i.k),
            v: interleave((i) => i.v),
          };
          const perHead = c.patternOfHead.map((p) => plans[p]!);
          const got = await perHeadAttention(backend, perHead, inputs, dtype);
          c.patternOfHead.forEach((p, h) => {
            const ref = denseAttention(alone[h]!, compiledElementMask(patterns[p]!));
            const out = new Float64Array(S * D);
            for (let s = 0; s < S; s++)
              for (let d = 0; d < D; d++) out[s * D + d] = got.out[(s * H + h) * D + d]!;
            const what = `${backend.name} head ${h} of ${H}: ${perHead[h]!.key} hd${D}`;
            expect(relativeError(out, ref.out), what).toBeLessThan(TOLERANCE[dtype]);
            ref.lse.forEach((r, s) => {
              const l = got.lse[h * S + s]!;
              if (r === Number.NEGATIVE_INFINITY) expect(l, what).toBe(r);
              else expect(Math.abs(l - r), what).toBeLessThan(1e-2 * Math.max(1, Math.abs(r)));
            });
          });
        }),
        { numRuns: testRuns(4) },
      );
    }
  });
});
