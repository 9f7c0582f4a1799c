/**
 * Reading a model config from disk: tessera's own JSON (the fields of {@link OpenSoraConfig}) or a checkpoint's
 * diffusers `config.json` (OpenSoraT2V's snake_case fields, mapped by `diffusers-config.ts`).
 */
import { readFile } from 'node:fs/promises';
import { ModelConfigError, type OpenSoraConfig, parseModelConfig } from './config.js';
import { isDiffusersConfig, openSoraConfigFromDiffusers } from './diffusers-config.js';

/** Read and validate a config file of either kind. */
export async function readModelConfig(path: string): Promise<OpenSoraConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new ModelConfigError(
      path,
      '$',
      `cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ModelConfigError(path, '$', `not valid JSON (${(e as Error).message})`);
  }
  return isDiffusersConfig(json)
    ? openSoraConfigFromDiffusers(json as Record<string, unknown>, path)
    : parseModelConfig(json, path);
}
