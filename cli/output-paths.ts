/**
 * Output paths checked before any work: a folder `--out` names must be (or become) a writable folder, a file
 * `--out` names must sit in a writable folder and not be a folder itself. Problems are option errors (exit 1)
 * that name the option, the path and the system's reason, instead of a stack trace after minutes of work.
 */
import { constants, existsSync, statSync } from 'node:fs';
import { access, mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { OptionError } from '../core/errors.js';

function reason(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  return e.code ?? e.message;
}

/** Create `dir` if needed and prove a file can be written into it (a probe file, removed at once). */
async function writableFolder(dir: string, option: string, what: string): Promise<void> {
  if (existsSync(dir) && !statSync(dir).isDirectory())
    throw new OptionError(`${option}: ${what} ${dir} is a file, not a folder`);
  try {
    await mkdir(dir, { recursive: true });
  } catch (error) {
    throw new OptionError(`${option}: cannot create the folder ${dir} (${reason(error)})`);
  }
  const probe = join(dir, `.tessera-write-test-${process.pid}`);
  try {
    await writeFile(probe, '');
  } catch (error) {
    throw new OptionError(`${option}: cannot write into the folder ${dir} (${reason(error)})`);
  } finally {
    await rm(probe, { force: true }).catch(() => undefined);
  }
}

/** Make sure files can be written into folder `dir` (created when missing). */
export async function prepareOutputFolder(dir: string, option = '--out'): Promise<void> {
  await writableFolder(dir, option, 'the output folder');
}

/** Make sure file `path` can be written: its folder exists (created when missing) and is writable. */
export async function prepareOutputFile(path: string, option = '--out'): Promise<void> {
  if (existsSync(path)) {
    if (statSync(path).isDirectory())
      throw new OptionError(
        `${option}: ${path} is a folder; give a file name, e.g. ${join(path, 'out.safetensors')}`,
      );
    await access(path, constants.W_OK).catch((error: unknown) => {
      throw new OptionError(`${option}: cannot overwrite ${path} (${reason(error)})`);
    });
  }
  await writableFolder(dirname(resolve(path)), option, 'the folder of');
}
