/**
 * Dawn in Node (the npm package `webgpu`): the only Node-specific part of the WebGPU backend. Browsers pass
 * `navigator.gpu` to `createWebGpuBackend` directly and never load this file.
 *
 * Adapter search: `TESSERA_DAWN_BACKEND` (e.g. `vulkan`, `opengles`) picks one Dawn backend; otherwise
 * Dawn's default backends at core feature level (a real GPU), then OpenGL ES at compatibility level, which is
 * how a GPU-less CI machine runs kernels on Mesa's llvmpipe (EGL_PLATFORM=surfaceless, set here if unset).
 */
import { create, globals } from 'webgpu';
import { createWebGpuBackend, type WebGpuBackend } from './backend.js';
import { WebGpuUnavailableError } from './errors.js';

interface Attempt {
  readonly flags: string[];
  readonly featureLevel: 'core' | 'compatibility';
}

/**
 * Adapters to try, best first. `TESSERA_DAWN_BACKEND` picks Dawn's backend (vulkan, opengles, ...);
 * `TESSERA_DAWN_FLAGS` adds Dawn options (comma-separated `key=value`, e.g. `enable-dawn-features=...`).
 */
function attempts(): Attempt[] {
  const extra = (process.env.TESSERA_DAWN_FLAGS ?? '').split(',').filter((f) => f.length > 0);
  const chosen = process.env.TESSERA_DAWN_BACKEND;
  if (chosen) {
    const flags = [`backend=${chosen}`, ...extra];
    return [
      { flags, featureLevel: 'core' },
      { flags, featureLevel: 'compatibility' },
    ];
  }
  return [
    { flags: extra, featureLevel: 'core' },
    { flags: ['backend=opengles', ...extra], featureLevel: 'compatibility' },
  ];
}

/** Find a Dawn adapter; null when no backend offers one. */
export async function findNodeAdapter(): Promise<{ gpu: GPU; adapter: GPUAdapter; tried: string } | null> {
  // Mesa's EGL needs a platform without a display server; harmless where a display exists.
  process.env.EGL_PLATFORM ??= 'surfaceless';
  Object.assign(globalThis, globals);
  for (const attempt of attempts()) {
    const gpu = create(attempt.flags);
    const adapter = await gpu.requestAdapter({ featureLevel: attempt.featureLevel });
    if (adapter)
      return {
        gpu,
        adapter,
        tried: `${attempt.flags.join(' ') || 'default backends'} (${attempt.featureLevel})`,
      };
  }
  return null;
}

/**
 * The WebGPU backend on Dawn. Throws `WebGpuUnavailableError` with what to install when no adapter exists.
 * Call `dispose()` on the result, or Node will not exit.
 */
export async function createNodeWebGpuBackend(): Promise<WebGpuBackend> {
  const found = await findNodeAdapter();
  if (!found) {
    throw new WebGpuUnavailableError(
      'no WebGPU adapter found through Dawn: install a GPU driver with Vulkan, or Mesa EGL/GLES for the software ' +
        'renderer (Debian packages in .ci/mesa-packages.txt), or choose a backend with TESSERA_DAWN_BACKEND',
    );
  }
  return createWebGpuBackend({ gpu: found.gpu, adapter: found.adapter });
}
