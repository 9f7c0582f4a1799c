/**
 * Where `--verify` checks the numbers: at the requested size when the backend can run it (every row, or sampled
 * rows compared exactly), and on a shrunken layout only when it cannot, saying so and to what.
 */
import { describe, expect, it } from 'vitest';
import { makeCompileOptions } from '../../compiler/options.js';
import { type CompileResult, compile, PLAN_STAGES } from '../../compiler/pipeline.js';
import type { BlockPlan } from '../../compiler/plan/plan.js';
import { computedPairs } from '../../compiler/report.js';
import { createCpuBackend } from '../../runtime/cpu/backend.js';
import {
  numericCheck,
  VERIFY_MAX_SOFTWARE_PAIRS,
  VERIFY_MAX_TOKENS,
  VERIFY_SAMPLED_ROWS,
} from '../../verify/backends.js';
import { verifyCompiled } from '../../verify/verify.js';

const FRAMES = 'layout v(t, h, w)\npattern frames() on v { attend q.t == k.t }';

async function compileFrames(sizes: Record<string, number>, block: number): Promise<CompileResult> {
  return compile({
    source: { name: 'frames.tile', text: FRAMES },
    options: makeCompileOptions({ sizes, blockQ: block, blockK: block }),
    stages: PLAN_STAGES,
    cache: null,
  });
}

/** `plan` without the first full block of query block 0: a kernel that reads it computes a wrong row 0. */
function dropFirstFullBlock(plan: BlockPlan): BlockPlan {
  const end = plan.full.offsets[1]!;
  expect(end).toBeGreaterThan(0);
  const indices = Int32Array.from([...plan.full.indices.subarray(0, 0), ...plan.full.indices.subarray(1)]);
  const offsets = Int32Array.from(plan.full.offsets, (o, i) => (i > 0 ? o - 1 : o));
  return { ...plan, full: { offsets, indices }, closedForm: null };
}

describe('numericCheck on the CPU reference', () => {
  const backend = createCpuBackend();

  it('verifies a small plan itself, every row', async () => {
    const result = await compileFrames({ t: 3, h: 4, w: 5 }, 16);
    const check = numericCheck(result, backend);
    expect(check.plan).toBe(result.outputs.plan);
    expect(check.rows).toBeUndefined();
    expect(check.size).toBe('the requested size, every query row');
  });

  it('verifies a long but cheap plan at its size on sampled rows, and catches a wrong row among them', async () => {
    const result = await compileFrames({ t: 40, h: 8, w: 8 }, 64);
    const plan = result.outputs.plan!;
    expect(plan.seqLen).toBeGreaterThan(VERIFY_MAX_TOKENS);
    expect(computedPairs(plan)).toBeLessThanOrEqual(VERIFY_MAX_SOFTWARE_PAIRS);
    const check = numericCheck(result, backend);
    expect(check.plan).toBe(plan);
    expect(check.rows).toHaveLength(VERIFY_SAMPLED_ROWS);
    expect(check.rows).toContain(0);
    expect(check.size).toContain('the requested size; 128 sampled query rows');
    const options = { rows: check.rows!, size: check.size, heads: 1, headDim: 32 };
    const good = await verifyCompiled(plan, plan, backend, options);
    expect(good.numeric).toMatchObject({
      tokens: plan.seqLen,
      requestedTokens: plan.seqLen,
      rowsChecked: 128,
    });
    expect(good.numeric!.outError).toBeLessThan(1e-5);
    expect(good.ok).toBe(true);
    const bad = dropFirstFullBlock(plan);
    expect((await verifyCompiled(bad, bad, backend, options)).numeric!.outError).toBeGreaterThan(1e-3);
  }, 60_000);

  it('shrinks a plan too costly for the CPU and says so, and to what', async () => {
    const result = await compileFrames({ t: 4, h: 30, w: 40 }, 64);
    expect(computedPairs(result.outputs.plan!)).toBeGreaterThan(VERIFY_MAX_SOFTWARE_PAIRS);
    const check = numericCheck(result, backend);
    expect(check.plan!.seqLen).toBe(4 * 6 * 6);
    expect(check.size).toMatch(
      /^SHRUNK to 144 tokens \(t=4, h=6, w=6\) from 4,800: the cpu backend would compute/,
    );
  });
});
