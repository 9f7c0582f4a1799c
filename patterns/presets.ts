/**
 * Named layout sizes of the video models tessera's benchmarks use, so `--layout wan-720p` stands for the
 * numbers. Latent frames = (video frames - 1) / 4 + 1 (the VAEs compress time 4x); at 720p (1280 x 720) the
 * VAE's 8x and the 2 x 2 patches leave 45 x 80 tokens per frame.
 */

/** One named layout size. */
export interface LayoutPreset {
  readonly name: string;
  readonly description: string;
  readonly sizes: Readonly<Record<string, number>>;
}

/** Every preset, smallest model first. */
export const LAYOUT_PRESETS: readonly LayoutPreset[] = [
  {
    name: 'osp-29',
    description: 'Open-Sora-Plan 1.2, 29 frames at 720p: 8 x 45 x 80 = 28,800 tokens',
    sizes: { t: 8, h: 45, w: 80 },
  },
  {
    name: 'osp-93',
    description: 'Open-Sora-Plan 1.2, 93 frames at 720p: 24 x 45 x 80 = 86,400 tokens',
    sizes: { t: 24, h: 45, w: 80 },
  },
  {
    name: 'wan-480p',
    description: 'Wan 2.x, 81 frames at 480p (832 x 480): 21 x 30 x 52 = 32,760 tokens',
    sizes: { t: 21, h: 30, w: 52 },
  },
  {
    name: 'wan-720p',
    description: 'Wan 2.x, 81 frames at 720p: 21 x 45 x 80 = 75,600 tokens',
    sizes: { t: 21, h: 45, w: 80 },
  },
  {
    name: 'hunyuan-720p',
    description: 'HunyuanVideo, 129 frames at 720p: 33 x 45 x 80 = 118,800 tokens (bench/attention-cases.ts)',
    sizes: { t: 33, h: 45, w: 80 },
  },
];

/** The preset called `name`, or undefined. */
export function findLayoutPreset(name: string): LayoutPreset | undefined {
  return LAYOUT_PRESETS.find((p) => p.name === name);
}
