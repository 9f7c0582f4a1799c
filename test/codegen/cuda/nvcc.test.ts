/**
 * CI gate for the CUDA kernels: the kernel of every built-in pattern (at its default sizes and parameters,
 * block 128), plus plans that force the other key walks (`units`, padded and short tiles), for head dims
 * 64/96/128 in bf16 and fp16, compiles with nvcc for sm_80 and sm_90 without errors and without register
 * spills. One `.cu` per plan holds all six instantiations, so each plan costs one nvcc call per arch; it is
 * compiled as `tessera compile` writes it, including the kernel headers from `tessera/` beside it. nvcc is
 * required when CI=true; elsewhere the test is skipped without it.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cudaSourcePath, emitCudaArtifacts } from '../../../codegen/cuda/artifacts.js';
import {
  type CudaKernelFamily,
  type CudaKernelTuning,
  DEFAULT_CUDA_TUNING,
} from '../../../codegen/cuda/kernel-options.js';
import { renderCudaKernel } from '../../../codegen/cuda/module.js';
import { buildCubins, CUBIN_ARCHS, compileWithNvcc, findNvcc } from '../../../codegen/cuda/nvcc.js';
import type { BlockPlan } from '../../../compiler/plan/plan.js';
import { BUILTIN_PATTERNS } from '../../../patterns/index.js';
import { builtinPlan } from '../../device/builtin-plans.js';
import { walkPlans } from './plan-fixture.js';

const nvcc = findNvcc();
const inCi = process.env.CI === 'true';

/** Every built-in pattern at its defaults, then the walk-forcing plans. */
function plansToCompile(): BlockPlan[] {
  const builtins = BUILTIN_PATTERNS.map((p) => builtinPlan(p.name, {}, 128));
  return [...builtins, ...walkPlans().map((w) => w.plan)];
}

/** Write an artefact under `dir` (the headers go in its `tessera/` folder). */
function writeFile(dir: string, file: { path: string; contents: string }): void {
  mkdirSync(dirname(join(dir, file.path)), { recursive: true });
  writeFileSync(join(dir, file.path), file.contents);
}

/** Compile plans with a small worker pool: nvcc is single-threaded and CI has 2 cores. */
async function compileAll(plans: readonly BlockPlan[], dir: string, family: CudaKernelFamily, arch: string) {
  const results: Awaited<ReturnType<typeof compileWithNvcc>>[] = [];
  let next = 0;
  const worker = async () => {
    while (next < plans.length) {
      const plan = plans[next++]!;
      const files = emitCudaArtifacts(plan).files;
      const cu = files.find((f) => f.path === cudaSourcePath(plan.key, family))!;
      for (const header of files.filter((f) => f.path.endsWith('.cuh'))) writeFile(dir, header);
      const path = join(dir, `${arch}-${cu.path}`);
      writeFileSync(path, cu.contents);
      results.push(await compileWithNvcc(path, arch, nvcc));
    }
  };
  await Promise.all([worker(), worker()]);
  return results;
}

describe('CUDA kernels compile with nvcc without spills', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-nvcc-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const plans = plansToCompile();

  it('finds nvcc in CI', () => {
    if (inCi)
      expect(nvcc, 'nvcc is required in CI (PATH, CUDA_HOME/bin or /usr/local/cuda/bin)').not.toBeNull();
  });

  it('compiles every built-in pattern and every key walk', () => {
    expect(plans.map((p) => p.pattern.name)).toEqual(
      expect.arrayContaining(BUILTIN_PATTERNS.map((p) => p.name)),
    );
    expect(new Set(plans.map((p) => p.closedForm?.kind ?? 'csr'))).toEqual(
      new Set(['dense', 'units', 'csr']),
    );
  });

  const targets = [
    ['mma', 'sm_80'],
    ['mma', 'sm_90'],
    ['wgmma', 'sm_90a'],
  ] as const;
  for (const [family, arch] of targets) {
    it.skipIf(nvcc === null && !inCi)(
      `every plan, head dim and dtype: ${family} kernels for ${arch}`,
      // Fifteen built-ins and the walk plans through nvcc on two (often shared) cores: minutes.
      { timeout: 360_000 },
      async () => {
        const results = await compileAll(plans, dir, family, arch);
        expect(results).toHaveLength(plans.length);
        for (const r of results) {
          expect(r.kernels).toHaveLength(6);
          for (const k of r.kernels) {
            expect(k.arch).toBe(arch);
            expect({
              kernel: k.kernel,
              spillStores: k.spillStores,
              spillLoads: k.spillLoads,
              stack: k.stackBytes,
            }).toEqual({ kernel: k.kernel, spillStores: 0, spillLoads: 0, stack: 0 });
          }
        }
      },
    );
  }
});

describe('tuned CUDA kernels compile with nvcc', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-tuned-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  // Off-default knobs (bench/cuda-variants.ts times them); spills are allowed here, errors are not.
  const tunings: readonly CudaKernelTuning[] = [
    { ...DEFAULT_CUDA_TUNING, tileK: 128 },
    { ...DEFAULT_CUDA_TUNING, warpRows: 32, minBlocksPerSm: 2, qInRegisters: false },
    { ...DEFAULT_CUDA_TUNING, minBlocksPerSm: 2, qInRegisters: false },
  ];
  it.skipIf(nvcc === null).each(tunings.map((t) => [JSON.stringify(t), t] as const))(
    '%s for sm_90',
    async (_, tuning) => {
      // Padding keys and partial tiles: every masking branch is compiled.
      const plan = builtinPlan('attention_tile', { sizes: { t: 3, h: 8, w: 20 }, params: { a: 1 } }, 128);
      const kernel = renderCudaKernel(plan, { headDim: 96, dtype: 'bfloat16', tuning });
      const path = join(dir, `${kernel.name}_${tunings.indexOf(tuning)}.cu`);
      writeFileSync(path, kernel.source);
      const result = await compileWithNvcc(path, 'sm_90', nvcc);
      expect(result.kernels.map((k) => k.kernel)).toEqual([kernel.name]);
    },
  );
});

describe('buildCubins (tessera compile --target cuda)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-cubin-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const plan = walkPlans()[0]!.plan;
  const files = emitCudaArtifacts(plan).files;
  for (const file of files) writeFile(dir, file);
  const cuPath = join(dir, files[0]!.path);

  it('says in one line why no cubin was built when nvcc is absent', async () => {
    const summary = await buildCubins(cuPath, CUBIN_ARCHS, null);
    expect(summary.written).toEqual([]);
    expect(summary.skipped).toMatch(/^cubin not built: nvcc was not found/);
    expect(existsSync(cuPath.replace(/\.cu$/, '.sm_90.cubin'))).toBe(false);
  });

  it.skipIf(nvcc === null)('writes the cubin next to the .cu with its resource summary', async () => {
    const summary = await buildCubins(cuPath, ['sm_90'], nvcc);
    const cubin = cuPath.replace(/\.cu$/, '.sm_90.cubin');
    expect(summary.skipped).toBeNull();
    expect(existsSync(cubin)).toBe(true);
    expect(summary.written).toEqual([
      expect.stringMatching(
        /\.sm_90\.cubin {2}\(cubin for sm_90: 6 kernels, \d+(-\d+)? registers, no spills\)$/,
      ),
    ]);
  });
});
