/**
 * Generated WGSL executed through Dawn on random layouts, patterns, block sizes and shapes, compared with the
 * float64 CPU oracle. Variants follow the device's capabilities (f16 I/O, subgroups); the base f32 kernel
 * always runs, and under CI=true a missing adapter fails instead of skipping.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { WgslIoType } from '../../../codegen/wgsl/kernel-config.js';
import { attentionTilePattern, videoLayout } from '../../../compiler/classify/reference-patterns.js';
import { compileSource } from '../../../compiler/frontend.js';
import type { PatternInstance } from '../../../compiler/ir.js';
import { buildPlan } from '../../../compiler/plan/build.js';
import { TensorError } from '../../../core/tensor.js';
import { TesseraError } from '../../../dsl/diagnostics.js';
import { compileAttentionKernel } from '../../../runtime/webgpu/pipeline.js';
import { predicateArbitrary } from '../../support/arbitraries/ir.js';
import { boolNodeArb, boolSource, kleeneLayoutArb } from '../../support/arbitraries/kleene.js';
import { layoutArbitrary, testRuns } from '../../support/arbitraries/layout.js';
import {
  lseMismatch,
  openTestBackend,
  oracleCase,
  type RunShape,
  relativeError,
  TOLERANCE,
} from './gpu-fixture.js';

const backend = await openTestBackend();
afterAll(() => backend?.dispose());

interface Variant {
  readonly name: string;
  readonly io: WgslIoType;
  readonly subgroups: boolean;
}

/** Kernel variants this device can run; the base f32 kernel is always one. */
function variants(): Variant[] {
  const caps = backend!.capabilities;
  const list: Variant[] = [{ name: 'f32', io: 'f32', subgroups: false }];
  if (caps.f16) list.push({ name: 'f16', io: 'f16', subgroups: false });
  if (caps.subgroups) list.push({ name: 'f32 subgroups', io: 'f32', subgroups: true });
  if (caps.f16 && caps.subgroups) list.push({ name: 'f16 subgroups', io: 'f16', subgroups: true });
  return list;
}

const shapeArb: fc.Arbitrary<RunShape> = fc.record({
  batch: fc.integer({ min: 1, max: 2 }),
  heads: fc.integer({ min: 1, max: 2 }),
  headDim: fc.constantFrom(32, 40, 64, 96, 128),
  layout: fc.constantFrom('bshd' as const, 'bhsd' as const),
});

async function expectMatchesOracle(
  pattern: PatternInstance,
  blockQ: number,
  blockK: number,
  shape: RunShape,
  variant: Variant,
  seed: number,
) {
  const plan = buildPlan(pattern, blockQ, blockK);
  const { q, k, v, ref } = oracleCase(plan, shape, seed);
  const got = await backend!.attention(plan, q, k, v, {
    ...shape,
    io: variant.io,
    subgroups: variant.subgroups,
    poison: true,
  });
  const tolerance = TOLERANCE[variant.io];
  expect(got.out.every(Number.isFinite), 'every output element written and finite').toBe(true);
  expect(relativeError(got.out, ref.out)).toBeLessThan(tolerance);
  expect(lseMismatch(got.lse, ref.lse, tolerance)).toBeNull();
}

describe.skipIf(backend === null)('WGSL block-sparse attention on the WebGPU backend', () => {
  it('matches the float64 oracle on random patterns, layouts, block sizes and shapes', async () => {
    for (const variant of variants()) {
      await fc.assert(
        fc.asyncProperty(
          layoutArbitrary({ maxLength: 160 }).chain((layout) =>
            fc.record({
              layout: fc.constant(layout),
              predicate: predicateArbitrary(layout.axisNames.length, 2),
              blockQ: fc.integer({ min: 4, max: 48 }),
              blockK: fc.integer({ min: 3, max: 48 }),
              shape: shapeArb,
              seed: fc.integer({ min: 1, max: 2 ** 30 }),
            }),
          ),
          async ({ layout, predicate, blockQ, blockK, shape, seed }) => {
            const pattern: PatternInstance = {
              key: `random_${seed}`,
              name: 'random',
              params: {},
              layout,
              predicate,
            };
            await expectMatchesOracle(pattern, blockQ, blockK, shape, variant, seed);
          },
        ),
        { numRuns: testRuns(8) },
      );
    }
  });

  it('matches the oracle on three-valued patterns over text tokens (README, tokens without an axis)', async () => {
    // The predicate equals the Kleene reference (test/compiler/kleene-property.test.ts); here the kernel equals it.
    await fc.assert(
      fc.asyncProperty(
        kleeneLayoutArb,
        boolNodeArb(3),
        fc.integer({ min: 2, max: 12 }),
        fc.integer({ min: 1, max: 2 ** 30 }),
        async (layout, e, block, seed) => {
          const text = `${layout.source}\npattern p() on vt {\n  attend ${boolSource(e)}\n}`;
          let pattern: PatternInstance;
          try {
            pattern = compileSource({ name: 'kleene.tile', text }, { sizes: layout.sizes });
          } catch (error) {
            if (error instanceof TesseraError) return; // a divisor that folds to 0 (TP309)
            throw error;
          }
          const shape: RunShape = { batch: 1, heads: 1, headDim: 32, layout: 'bshd' };
          await expectMatchesOracle(pattern, block, block, shape, variants()[0]!, seed);
        },
      ),
      { numRuns: testRuns(6) },
    );
  });

  it('runs Attention Tile masks with partial blocks (frames not block multiples)', async () => {
    for (const variant of variants()) {
      const pattern = attentionTilePattern(videoLayout(6, 5, 7), 2);
      await expectMatchesOracle(
        pattern,
        32,
        24,
        { batch: 2, heads: 3, headDim: 64, layout: 'bshd' },
        variant,
        7,
      );
    }
  });

  it('writes 0 and lse = -inf, never NaN, on fully masked rows', async () => {
    const layout = videoLayout(3, 4, 5, 8);
    // Queries of frame 1 see nothing; padding rows (unit slots of 24 for 20 tokens) see nothing either.
    const predicate: PatternInstance['predicate'] = {
      op: 'cmp',
      cmp: 'ne',
      a: { op: 'coord', side: 'q', axis: 0 },
      b: { op: 'const', value: 1 },
    };
    const pattern: PatternInstance = {
      key: 'masked_rows',
      name: 'masked_rows',
      params: {},
      layout,
      predicate,
    };
    for (const variant of variants()) {
      const plan = buildPlan(pattern, 16, 16);
      const shape: RunShape = { batch: 1, heads: 2, headDim: 32, layout: 'bhsd' };
      const { q, k, v, ref } = oracleCase(plan, shape, 3);
      const got = await backend!.attention(plan, q, k, v, {
        ...shape,
        io: variant.io,
        subgroups: variant.subgroups,
        poison: true,
      });
      expect(got.out.some(Number.isNaN)).toBe(false);
      for (let h = 0; h < 2; h++) {
        for (let t = 0; t < plan.seqLen; t++) {
          const frame = Math.floor(t / 24);
          const padding = t % 24 >= 20;
          const masked = frame === 1 || padding;
          expect(got.lse[h * plan.seqLen + t] === Number.NEGATIVE_INFINITY).toBe(masked);
          if (masked) {
            const row = got.out.subarray((h * plan.seqLen + t) * 32, (h * plan.seqLen + t + 1) * 32);
            expect(row.every((x) => x === 0)).toBe(true);
          }
        }
      }
      expect(relativeError(got.out, ref.out)).toBeLessThan(TOLERANCE[variant.io]);
    }
  });

  it('gives the same result with the compiler closed forms as with the CSR tables', async () => {
    // Frames of 4 x 8 = 32 tokens: blocks of 16 and 32 align with them, so the compiler emits closed forms.
    const cases = [
      { frames: 4, globals: 1, block: 16 },
      { frames: 6, globals: 2, block: 32 },
      { frames: 5, globals: 5, block: 16 },
    ];
    for (const { frames, globals, block } of cases) {
      const plan = buildPlan(attentionTilePattern(videoLayout(frames, 4, 8), globals), block, block);
      expect(plan.closedForm, `closed form for T=${frames} a=${globals}`).not.toBeNull();
      const shape: RunShape = { batch: 1, heads: 2, headDim: 64, layout: 'bshd' };
      const { q, k, v, ref } = oracleCase(plan, shape, frames * 10 + globals);
      const csr = await backend!.attention(plan, q, k, v, { ...shape, enumeration: 'csr', poison: true });
      const closed = await backend!.attention(plan, q, k, v, {
        ...shape,
        enumeration: 'closed-form',
        poison: true,
      });
      expect(Array.from(closed.out)).toEqual(Array.from(csr.out));
      expect(Array.from(closed.lse)).toEqual(Array.from(csr.lse));
      expect(relativeError(closed.out, ref.out)).toBeLessThan(TOLERANCE.f32);
    }
  });

  it('rejects operands of the wrong size, naming the tensor', async () => {
    const plan = buildPlan(attentionTilePattern(videoLayout(2, 2, 4), 1), 8, 8);
    const good = new Float32Array(plan.seqLen * 32);
    const bad = new Float32Array(plan.seqLen * 32 - 1);
    const shape: RunShape = { batch: 1, heads: 1, headDim: 32, layout: 'bshd' };
    await expect(backend!.attention(plan, good, bad, good, shape)).rejects.toThrow(TensorError);
    await expect(backend!.attention(plan, good, bad, good, shape)).rejects.toThrow(/tensor 'k'/);
  });
});

describe.skipIf(backend === null)('WGSL compilation errors', () => {
  it('become a TesseraError naming the pattern and the WGSL line', async () => {
    const code = [
      '// line 1',
      '@compute @workgroup_size(1)',
      'fn main() {',
      '  let x: i32 = undefined_name;',
      '}',
    ].join('\n');
    const failure = await compileAttentionKernel(backend!.device, 'broken_pattern_t2x2x2', code).catch(
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(TesseraError);
    const diagnostic = (failure as TesseraError).diagnostics[0]!;
    expect(diagnostic.code).toBe('TP406');
    expect(diagnostic.file).toBe('broken_pattern_t2x2x2.wgsl');
    expect(diagnostic.range.start.line).toBe(4);
    expect(diagnostic.message).toMatch(/broken_pattern_t2x2x2.*line 4/);
    expect(diagnostic.hint).toContain('undefined_name');
  });
});
