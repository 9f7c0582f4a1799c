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
  pattern: fc.constantFrom('attention_tile', 'frame_window', 'causal', 'text_video', 'dilated_frames'),
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
          if (c.pattern === 'text_video') sizes.l = 5;
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
});
