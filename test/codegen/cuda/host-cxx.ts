/**
 * The host C++ compiler as a test oracle: CUDA-side layouts and device helpers that are plain C++ are compiled
 * and run on the CPU, and their output compared with the TypeScript twin.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Whether `c++` runs on this machine (tests that need it skip otherwise). */
export function hasCxx(): boolean {
  try {
    execFileSync('c++', ['--version']);
    return true;
  } catch {
    return false;
  }
}

/** Compile `program` (C++17) and return what it prints. */
export function runCxx(program: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-cxx-'));
  writeFileSync(join(dir, 'p.cc'), program);
  execFileSync('c++', ['-std=c++17', '-o', join(dir, 'p'), join(dir, 'p.cc')]);
  return execFileSync(join(dir, 'p'), { maxBuffer: 1 << 24 }).toString();
}
