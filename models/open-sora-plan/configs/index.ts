/**
 * Model configs shipped with tessera: Open-Sora-Plan 1.2 at each released resolution (720p and 480p differ in
 * their RoPE interpolation scales, which belong to the checkpoint) and a tiny one with the same structure for
 * tests and smoke runs. The JSON files are the source of truth (the CLI's `--config` reads them) and each says,
 * in its `sources` object, where every value comes from (Open-Sora-Plan v1.2.0's model code and training
 * scripts); this module loads and validates them once. A released checkpoint folder carries its own
 * `config.json`, which `--weights FOLDER` reads instead (diffusers-config.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type OpenSoraConfig, parseModelConfig } from '../config.js';

/** Where a config file is, next to this module or (when compiled to dist/) in the source tree. */
export function configFile(fileName: string): string {
  const candidates = [
    new URL(`./${fileName}`, import.meta.url),
    new URL(`../../../../models/open-sora-plan/configs/${fileName}`, import.meta.url),
  ];
  const found = candidates.map((u) => fileURLToPath(u)).find((p) => existsSync(p));
  return found ?? fileURLToPath(candidates[0]!);
}

function load(fileName: string): OpenSoraConfig {
  const path = configFile(fileName);
  return parseModelConfig(JSON.parse(readFileSync(path, 'utf8')), path);
}

/** The names `--config` accepts without a path. */
export const BUILTIN_CONFIG_NAMES = ['open-sora-plan-1.2-720p', 'open-sora-plan-1.2-480p', 'tiny'] as const;

/**
 * OpenSoraT2V-ROPE-L/122 as released at 720p: 32 blocks, 24 heads x 96 = 2304, FFN 9216, 4 latent channels,
 * patch 1x2x2, RoPE interpolation (t, h, w) = (1, 1.5, 2).
 */
export const OPEN_SORA_PLAN_1_2_720P: OpenSoraConfig = load('open-sora-plan-1.2-720p.json');

/** The same network as released at 480p: RoPE interpolation (1, 1, 1). */
export const OPEN_SORA_PLAN_1_2_480P: OpenSoraConfig = load('open-sora-plan-1.2-480p.json');

/** The same structure scaled down (2 blocks, 2 heads x 12, FFN 96, caption 32) for tests. */
export const TINY_CONFIG: OpenSoraConfig = load('tiny.json');
