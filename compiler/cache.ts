/**
 * A content-addressed compile cache on disk: `<dir>/<aa>/<hash>/<name>`, where the hash covers everything
 * that determines the output (canonical pattern IR and layout, block sizes, target options, compiler
 * version). Entries are written to a temporary name and renamed, so a crash never leaves a torn entry.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cacheDir } from '../core/cache-dir.js';
import { contentHash } from './hash.js';
import { COMPILER_VERSION } from './version.js';

/** The cache key of a compilation input; the compiler version is always part of it. */
export function cacheKey(input: unknown): string {
  return contentHash({ compiler: COMPILER_VERSION, input });
}

/**
 * Files stored under content hashes. A cache that cannot be read or written (a read-only home, a path through a
 * file) never fails a compilation: it is switched off, and {@link CompileCache.problem} says why so the caller
 * can warn once.
 */
export class CompileCache {
  private failure: string | undefined;

  /** `dir` defaults to tessera's cache folder (core/cache-dir.ts). */
  constructor(readonly dir: string = cacheDir()) {}

  /** Why the cache was switched off (undefined while it works). */
  get problem(): string | undefined {
    return this.failure;
  }

  private disable(error: unknown): void {
    const e = error as NodeJS.ErrnoException;
    this.failure ??= `cannot use the cache folder ${this.dir} (${e.code ?? e.message}); compiling without a cache`;
  }

  private entryDir(key: string): string {
    return join(this.dir, key.slice(0, 2), key);
  }

  /** The stored file `name` of entry `key`, or null when absent. */
  async get(key: string, name: string): Promise<Buffer | null> {
    if (this.failure) return null;
    try {
      return await readFile(join(this.entryDir(key), name));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.disable(error);
      return null;
    }
  }

  /** Store `data` as file `name` of entry `key`, atomically. */
  async put(key: string, name: string, data: string | Uint8Array): Promise<void> {
    if (this.failure) return;
    const dir = this.entryDir(key);
    try {
      await mkdir(dir, { recursive: true });
      const temporary = join(dir, `.${name}.${process.pid}.${Date.now()}.tmp`);
      await writeFile(temporary, data);
      await rename(temporary, join(dir, name));
    } catch (error) {
      this.disable(error);
    }
  }
}
