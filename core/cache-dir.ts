/**
 * The one folder tessera caches into: compiled plans (compiler/cache.ts) at its top, cubins in `cubin/`
 * (runtime/cuda/cubin-cache.ts). `$TESSERA_CACHE_DIR`, else `$XDG_CACHE_HOME/tessera`, else `~/.cache/tessera`.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The cache folder in effect (read from the environment at each call, so tests can point it elsewhere). */
export function cacheDir(): string {
  if (process.env.TESSERA_CACHE_DIR) return process.env.TESSERA_CACHE_DIR;
  const base = process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache');
  return join(base, 'tessera');
}
