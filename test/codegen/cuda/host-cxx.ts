/**
 * The host C++ compiler as a test oracle: CUDA-side layouts and device helpers that are plain C++ are compiled
 * and run on the CPU, and their output compared with the TypeScript twin.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inlineKernelHeaders } from '../../../codegen/cuda/headers.js';

/** Whether `c++` runs on this machine (tests that need it skip otherwise). */
export function hasCxx(): boolean {
  try {
    execFileSync('c++', ['--version']);
    return true;
  } catch {
    return false;
  }
}

/**
 * A kernel header as the host compiler sees it (its plain C++ part: the device part is under __CUDACC__), with
 * the headers it includes, e.g. `hostHeader('tessera/tessera.cuh')`.
 */
export function hostHeader(path: string): string {
  return inlineKernelHeaders(`#include "${path}"`);
}

/** Compile `program` (C++17) and return what it prints. */
export function runCxx(program: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-cxx-'));
  writeFileSync(join(dir, 'p.cc'), program);
  execFileSync('c++', ['-std=c++17', '-o', join(dir, 'p'), join(dir, 'p.cc')]);
  return execFileSync(join(dir, 'p'), { maxBuffer: 1 << 24 }).toString();
}
