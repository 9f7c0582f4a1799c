/**
 * The compiler version that goes into every cache key, so a new compiler never reuses an old result.
 * Bump `FORMAT` when the meaning of a cached plan or generated kernel changes without a package release.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const FORMAT = 1;

/** The package root: the nearest folder above this module with tessera's package.json (source or dist). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'package.json');
    if (
      existsSync(candidate) &&
      (JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string }).name === 'tessera'
    )
      return dir;
    const parent = dirname(dir);
    if (parent === dir)
      throw new Error('tessera: cannot find the package root (package.json named "tessera")');
    dir = parent;
  }
}

const packageVersion = (
  JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }
).version;

/** `<package version>+f<format>`, e.g. `0.1.0+f1`. */
export const COMPILER_VERSION = `${packageVersion}+f${FORMAT}`;
