/** Shared helpers of the model tests: seeded data, error norms, tiny configs. */

import { seededUniform } from '../../../core/random.js';
import { type OpenSoraConfig, parseModelConfig } from '../../../models/open-sora-plan/config.js';

export { relativeError } from '../../../core/error-metrics.js';

/** Uniform values in [-spread, spread) from a seed. */
export function randomArray(seed: number, n: number, spread = 1): Float32Array {
  const rand = seededUniform(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (2 * rand() - 1) * spread;
  return out;
}

/** Largest |a - b|. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/**
 * The test network: Open-Sora-Plan's structure scaled down (2 blocks, 2 heads x 12 = 24 channels: RoPE needs
 * a head dim that splits in three even parts, so 16 is not possible), 8 caption channels.
 */
export const TEST_CONFIG: OpenSoraConfig = parseModelConfig({
  name: 'test-2x12',
  layers: 2,
  heads: 2,
  headDim: 12,
  ffnDim: 48,
  inChannels: 4,
  outChannels: 4,
  patch: [1, 2, 2],
  captionChannels: 8,
  timestepChannels: 16,
  normEps: 1e-6,
  ropeBase: 10000,
  ropeInterpolation: [1, 1, 1],
});

/** 3 latent frames of 8 x 8 latents: a 3 x 4 x 4 token grid (48 tokens). */
export const TEST_LATENT = { frames: 3, height: 8, width: 8 } as const;
