/**
 * The package's exports map follows the source folders: every subpath names a module that exists, imports
 * without loading anything native or touching a device, and exposes the layer's main entry points.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  exports: Record<string, string | { types: string; default: string }>;
};

/** The source module a `./dist/...js` export is built from. */
const sourceOf = (target: string) => join(root, target.replace(/^\.\/dist\//, '').replace(/\.js$/, '.ts'));

/** What each subpath must offer (one or two names a user reaches for first). */
const EXPECTED: Record<string, readonly string[]> = {
  '.': ['compile', 'STAGES', 'makeCompileOptions', 'createCpuBackend', 'UserError'],
  './dsl': ['parseTile', 'CODES'],
  './compiler': ['compile', 'planLayers', 'denseBlockPlan'],
  './codegen': ['RENDERERS', 'STAGES'],
  './runtime/cpu': ['createCpuBackend', 'createCpuOps'],
  './runtime/cuda': ['cudaAvailable', 'createCudaBackend', 'createCudaOps'],
  './runtime/webgpu': ['createWebGpuBackend'],
  './runtime/parallel': [
    'parallelOps',
    'launchRanks',
    'detectRankEnv',
    'NcclCommunicator',
    'logicalCpuWorld',
  ],
  './models': ['createOpenSoraModel', 'createParallelOpenSoraModel', 'sample', 'loadOpenSoraWeights'],
  './verify': ['bestBackend', 'verifyCompiled', 'TOLERANCE'],
  './search': ['searchLayers', 'compileCandidates', 'collectCalibration'],
};

describe('the exports map', () => {
  const subpaths = Object.entries(pkg.exports).filter(([, t]) => typeof t !== 'string');
  it('lists every layer with a public entry', () => {
    expect(subpaths.map(([path]) => path).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  it.each(subpaths)('%s resolves to a source module with its entry points', async (path, target) => {
    const { default: js, types } = target as { types: string; default: string };
    expect(types.replace(/\.d\.ts$/, '.js')).toBe(js);
    const source = sourceOf(js);
    expect(existsSync(source), source).toBe(true);
    const module = (await import(pathToFileURL(source).href)) as Record<string, unknown>;
    for (const name of EXPECTED[path]!) expect(module[name], `${path} exports ${name}`).toBeDefined();
  });
});
