/**
 * The on-disk cubin cache: NVRTC output keyed by sha256(source), the target architecture and the driver
 * version (a new driver may load old cubins, but recompiling once is cheap and rules out surprises).
 * Location: `cubin/` in tessera's cache folder (core/cache-dir.ts: `TESSERA_CACHE_DIR`, else
 * `$XDG_CACHE_HOME/tessera`, else `~/.cache/tessera`). Writes are atomic (temp file + rename), so
 * concurrent processes never read half a cubin.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir } from '../../core/cache-dir.js';

/** The cache directory in effect. */
export function cubinCacheDir(): string {
  return join(cacheDir(), 'cubin');
}

/** The cache file name for a source, arch (`sm_90`) and driver version. */
export function cubinCacheKey(source: string, arch: string, driverVersion: number): string {
  const hash = createHash('sha256').update(source).digest('hex');
  return `${hash}-${arch}-drv${driverVersion}.cubin`;
}

/** A cached cubin, or null when absent or unreadable. */
export function readCachedCubin(key: string): Uint8Array | null {
  try {
    return new Uint8Array(readFileSync(join(cubinCacheDir(), key)));
  } catch {
    return null;
  }
}

/** Store a cubin; a cache that cannot be written (read-only home) only costs a recompile next time. */
export function writeCachedCubin(key: string, cubin: Uint8Array): void {
  const dir = cubinCacheDir();
  try {
    mkdirSync(dir, { recursive: true });
    const tmp = join(dir, `${key}.${process.pid}.tmp`);
    writeFileSync(tmp, cubin);
    renameSync(tmp, join(dir, key));
  } catch {
    // Deliberately ignored: the cache is an optimisation.
  }
}

/** The cubin for `source`: from the cache, or compiled by `compile` and stored. */
export function cachedCompile(
  source: string,
  arch: string,
  driverVersion: number,
  compile: () => Uint8Array,
): { cubin: Uint8Array; hit: boolean } {
  const key = cubinCacheKey(source, arch, driverVersion);
  const hit = readCachedCubin(key);
  if (hit) return { cubin: hit, hit: true };
  const cubin = compile();
  writeCachedCubin(key, cubin);
  return { cubin, hit: false };
}
