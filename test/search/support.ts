/**
 * Tiny models for the search tests: Open-Sora-Plan's structure with a few blocks over 4 latent frames of 4 x 4
 * tokens, seeded random weights (optionally edited), calibration inputs drawn from seeds, and the candidates of
 * 4 frames compiled at 16 x 16 blocks (one frame per block row, so the masks skip whole blocks).
 */
import { gaussianNoise } from '../../core/random.js';
import type { OpenSoraConfig } from '../../models/open-sora-plan/config.js';
import { createOpenSoraNetwork, type OpenSoraNetwork } from '../../models/open-sora-plan/network.js';
import { randomOpenSoraWeights } from '../../models/open-sora-plan/random-weights.js';
import { type ModelWeights, weightsFromArrays } from '../../models/open-sora-plan/weights.js';
import type { OpTensor } from '../../runtime/model-ops.js';
import type { CalibrationInput } from '../../search/calibration.js';
import { compileCandidates, defaultCandidates, type SearchCandidate } from '../../search/candidates.js';
import { TEST_CONFIG } from '../models/open-sora-plan/support.js';

/** 4 latent frames of 8 x 8 latents: 4 x 4 x 4 = 64 tokens. */
export const LATENT = { frames: 4, height: 8, width: 8 } as const;
export const GRID = { frames: 4, height: 4, width: 4 } as const;
export const BLOCKS = { blockQ: 16, blockK: 16 } as const;
export const TEXT_TOKENS = 3;

/** The model tests' config (2 heads x 12, RoPE needs a head dim in three even parts) with `layers` blocks. */
export function tinyConfig(layers: number): OpenSoraConfig {
  return { ...TEST_CONFIG, layers, name: `search-test-${layers}` };
}

/** Seeded random weights, edited by `edit` (name -> values, changed in place) before they are checked. */
export function tinyWeights(
  config: OpenSoraConfig,
  seed: number,
  edit?: (get: (name: string) => Float32Array) => void,
): ModelWeights {
  const random = randomOpenSoraWeights(config, seed);
  const arrays = new Map(random.names.map((n) => [n, Float32Array.from(random.get(n).data)]));
  edit?.((name) => {
    const a = arrays.get(name);
    if (!a) throw new Error(`no weight ${name}`);
    return a;
  });
  return weightsFromArrays(config, arrays);
}

/** The network in float64 on the CPU (the search's oracle precision). */
export function tinyNetwork(config: OpenSoraConfig, weights: ModelWeights): OpenSoraNetwork<OpTensor> {
  return createOpenSoraNetwork(config, weights, { latent: LATENT, precision: 'float64' });
}

/** `count` calibration inputs with a guidance batch of 2 from seeds (no sampler: random latents and timesteps). */
export function randomInputs(config: OpenSoraConfig, count: number, seed: number): CalibrationInput[] {
  const size = config.inChannels * LATENT.frames * LATENT.height * LATENT.width;
  return Array.from({ length: count }, (_, i) => {
    const x = gaussianNoise(seed + i, 0, size);
    const batch = 2;
    return {
      seed: seed + i,
      prompt: 0,
      step: i,
      timestep: 100 + 200 * i,
      batch,
      x: Float32Array.of(...x, ...x),
      timesteps: Float32Array.of(100 + 200 * i, 100 + 200 * i),
      text: gaussianNoise(seed + i, 1, batch * TEXT_TOKENS * config.captionChannels),
      textMask: Uint8Array.of(1, 0, 0, 1, 1, 1),
    };
  });
}

/** The default candidates of 4 frames (full, 2:2, 1:3), sparsest first. */
export function tinyCandidates(): Promise<SearchCandidate[]> {
  return compileCandidates(defaultCandidates(GRID.frames), GRID, BLOCKS, null);
}
