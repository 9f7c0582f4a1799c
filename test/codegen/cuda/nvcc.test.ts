/**
 * CI gate for the CUDA kernels: every built-in pattern's kernel, for head dims 64/96/128 in bf16 and fp16,
 * compiles with nvcc for sm_80 and sm_90 without errors and without register spills. One `.cu` per plan holds
 * all six instantiations, so each plan costs one nvcc call per arch. nvcc is required when CI=true; elsewhere
 * the test is skipped without it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { emitCudaArtifacts } from '../../../codegen/cuda/artifacts.js';
import { compileWithNvcc, findNvcc } from '../../../codegen/cuda/nvcc.js';
import {
  attentionTilePattern,
  fullPattern,
  slidingTilePattern,
  videoLayout,
} from '../../../compiler/analysis/reference-patterns.js';
import type { BlockPlan } from '../../../compiler/plan.js';
import { planFromClasses } from './plan-fixture.js';

const nvcc = findNvcc();
const inCi = process.env.CI === 'true';

/** The pattern library's shapes until models/patterns lands: every key walk and mask mode is represented. */
function builtInPlans(): BlockPlan[] {
  const t8 = videoLayout(8, 45, 80);
  return [
    planFromClasses(fullPattern(t8), 128, 128, { kind: 'dense' }),
    planFromClasses(attentionTilePattern(t8, 2), 128, 128),
    planFromClasses(attentionTilePattern(videoLayout(8, 45, 80, 128), 1), 128, 128),
    planFromClasses(attentionTilePattern(videoLayout(4, 8, 16), 2), 64, 128, {
      kind: 'units',
      units: 4,
      unitBlocksQ: 2,
      unitBlocksK: 1,
      firstBlockQ: 0,
      firstBlockK: 0,
      band: { lo: 0, hi: 0 },
      keyUnits: { start: 0, stride: 2, count: 2 },
      queryUnits: { start: 0, stride: 2, count: 2 },
    }),
    planFromClasses(slidingTilePattern([8, 48, 80], [2, 8, 8], [1, 3, 3]), 128, 128),
  ];
}

describe('CUDA kernels compile with nvcc without spills', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-nvcc-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('finds nvcc in CI', () => {
    if (inCi)
      expect(nvcc, 'nvcc is required in CI (PATH, CUDA_HOME/bin or /usr/local/cuda/bin)').not.toBeNull();
  });

  for (const arch of ['sm_80', 'sm_90']) {
    it.skipIf(nvcc === null && !inCi)(
      `every plan, head dim and dtype for ${arch}`,
      { timeout: 180_000 },
      async () => {
        const results = await Promise.all(
          builtInPlans().map(async (plan) => {
            const [cu] = emitCudaArtifacts(plan).files;
            const path = join(dir, `${arch}-${cu!.path}`);
            writeFileSync(path, cu!.contents);
            return compileWithNvcc(path, arch, nvcc);
          }),
        );
        for (const r of results) {
          expect(r.kernels).toHaveLength(6);
          for (const k of r.kernels) {
            expect(k.arch).toBe(arch);
            expect({
              kernel: k.kernel,
              spillStores: k.spillStores,
              spillLoads: k.spillLoads,
              stack: k.stackBytes,
            }).toEqual({
              kernel: k.kernel,
              spillStores: 0,
              spillLoads: 0,
              stack: 0,
            });
          }
        }
      },
    );
  }
});
