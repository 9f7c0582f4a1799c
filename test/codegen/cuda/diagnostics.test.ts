/** TP4xx diagnostics of the CUDA generator point at the user's `.tile` file, where the plan came from. */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderCudaKernel } from '../../../codegen/cuda/module.js';
import { compileWithNvcc } from '../../../codegen/cuda/nvcc.js';
import { type Diagnostic, TesseraError } from '../../../dsl/diagnostics.js';
import { findBuiltinPattern } from '../../../patterns/index.js';
import { builtinPlan } from '../../device/builtin-plans.js';

function diagnosticOf(f: () => unknown): Diagnostic | undefined {
  try {
    f();
  } catch (error) {
    if (error instanceof TesseraError) return error.diagnostics[0];
    throw error;
  }
  return undefined;
}

describe('CUDA codegen diagnostics', () => {
  it('point a TP401 at the `pattern` line of the .tile file the plan was compiled from', () => {
    // A real plan at blockQ 32 (the kernel takes 64 or 128), built from the library's source.
    const plan = builtinPlan('attention_tile', { sizes: { t: 2, h: 8, w: 16 }, params: { a: 1 } }, 32);
    const file = findBuiltinPattern('attention_tile')!.file;
    const lines = readFileSync(file, 'utf8').split('\n');
    const line = lines.findIndex((l) => l.startsWith('pattern attention_tile')) + 1;
    const d = diagnosticOf(() => renderCudaKernel(plan, { headDim: 64, dtype: 'bfloat16' }));
    expect(d?.code).toBe('TP401');
    expect(d?.file).toBe(file);
    expect(d?.range.start).toMatchObject({ line, column: 1 });
    expect(d?.message).toContain(plan.key);
  });

  it('point a TP410 at the first error nvcc reports in the generated .cu', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-nvcc-'));
    try {
      const cu = join(dir, 'p.cu');
      writeFileSync(cu, '// generated\n');
      // A stand-in nvcc that fails the way nvcc does, so the test needs no CUDA toolkit.
      const fake = join(dir, 'nvcc');
      writeFileSync(fake, `#!/bin/sh\necho '${cu}(12): error: identifier "x" is undefined' >&2\nexit 2\n`);
      chmodSync(fake, 0o755);
      let d: Diagnostic | undefined;
      try {
        await compileWithNvcc(cu, 'sm_80', fake);
      } catch (error) {
        d = (error as TesseraError).diagnostics[0];
      }
      expect(d?.code).toBe('TP410');
      expect(d?.file).toBe(cu);
      expect(d?.range.start.line).toBe(12);
      expect(d?.hint).toContain('identifier "x" is undefined');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
