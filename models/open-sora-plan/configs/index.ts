/**
 * Model configs shipped with tessera: the real Open-Sora-Plan 1.2 network and a tiny one with the same
 * structure for tests and smoke runs. The JSON files are the source of truth (the CLI's `--config` reads them);
 * this module loads and validates them once.
 *
 * Sources for open-sora-plan-1.2.json: OpenSoraT2V_ROPE_L_122 in Open-Sora-Plan's
 * opensora/models/diffusion/opensora/modeling_opensora.py (32 layers, 24 heads x 96, patch 1x2x2, caption
 * 4096, cross_attention_dim 2304) and the arguments train_t2v_diffusers.py builds it with
 * (in_channels = out_channels = ae_channel_config[ae] = 4, attention_bias True, activation "gelu-approximate",
 * norm_elementwise_affine False, norm_eps 1e-6); RoPE3D(freq=10000) with interpolation_scale_thw from
 * --interpolation_scale_{t,h,w} 1.0 in the v1.2 training scripts. FFN 9216 is diffusers' FeedForward default of
 * 4 x dim; 256 timestep features are diffusers' PixArtAlphaCombinedTimestepSizeEmbeddings.
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

/** OpenSoraT2V-ROPE-L/122: 32 blocks, 24 heads x 96 = 2304, FFN 9216, 4 latent channels, patch 1x2x2. */
export const OPEN_SORA_PLAN_1_2: OpenSoraConfig = load('open-sora-plan-1.2.json');

/** The same structure scaled down (2 blocks, 2 heads x 12, FFN 48, caption 32) for tests. */
export const TINY_CONFIG: OpenSoraConfig = load('tiny.json');
