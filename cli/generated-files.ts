/**
 * `generated/`: what `tessera compile` writes for every built-in pattern at its reference configuration
 * (bindings, WGSL and CUDA kernels; the CUDA kernel headers stay in codegen/cuda/kernels), checked in so a reader
 * sees real output. `tessera regenerate` rewrites it;
 * a test regenerates it in memory and fails on any difference.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { HEADER_PREFIX } from '../codegen/cuda/headers.js';
import type { Artifact } from '../codegen/index.js';
import { STAGES, type Target } from '../codegen/index.js';
import { makeCompileOptions } from '../compiler/options.js';
import { compile } from '../compiler/pipeline.js';
import { packageRoot } from '../compiler/version.js';
import { BUILTIN_PATTERNS } from '../patterns/index.js';

/** Targets checked in for every built-in pattern (text artefacts only, so diffs stay readable). */
export const GENERATED_TARGETS: readonly Target[] = ['ts', 'wgsl', 'cuda'];

/** Block size of the checked-in kernels. */
export const GENERATED_BLOCK = 128;

/** The folder `generated/` of the package. */
export function generatedRoot(): string {
  return join(packageRoot(), 'generated');
}

/** Every generated file, with paths relative to `generated/` (one folder per pattern). */
export async function generateBuiltins(): Promise<Artifact[]> {
  const root = packageRoot();
  const out: Artifact[] = [];
  for (const builtin of BUILTIN_PATTERNS) {
    const text = await readFile(builtin.file, 'utf8');
    // Name the source by its path inside the package, so the output is the same on every machine.
    const source = { name: relative(root, builtin.file).split('\\').join('/'), text };
    const options = makeCompileOptions({
      pattern: builtin.name,
      params: builtin.defaultParams,
      sizes: builtin.defaultSizes,
      blockQ: GENERATED_BLOCK,
      blockK: GENERATED_BLOCK,
      targets: GENERATED_TARGETS,
    });
    const { outputs } = await compile({ source, options, stages: STAGES, cache: null });
    for (const artifact of outputs.artifacts ?? []) {
      // The CUDA kernel headers are the same for every pattern: generated/ names them where they live
      // (codegen/cuda/kernels/tessera, `nvcc -I codegen/cuda/kernels`) instead of holding nine copies.
      if (typeof artifact.contents !== 'string' || artifact.path.startsWith(HEADER_PREFIX)) continue;
      out.push({ ...artifact, path: `${builtin.name}/${artifact.path}` });
    }
  }
  return out;
}

/** Relative paths of every file currently under `generated/`. */
export async function listGenerated(root: string = generatedRoot()): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(root, join(e.parentPath, e.name)).split('\\').join('/'))
    .filter((p) => p !== 'README.md')
    .sort();
}
