/**
 * The built-in pattern library: one `.tile` file per family. Adding a family is a new file here plus one row
 * in {@link BUILTIN_PATTERNS} and its test.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** One built-in pattern. */
export interface BuiltinPattern {
  /** The pattern's name inside its file (snake_case). */
  readonly name: string;
  /** Absolute path of the `.tile` file. */
  readonly file: string;
  readonly description: string;
  /** Layout sizes used when none are given (a 720p, 29-frame latent unless the family needs otherwise). */
  readonly defaultSizes: Readonly<Record<string, number>>;
  /** Parameter values of the reference configuration (the same as the file's defaults). */
  readonly defaultParams: Readonly<Record<string, number | boolean>>;
}

/**
 * Where a library file is. The `.tile` files stay in `patterns/` when this module is compiled to
 * `dist/patterns/`, so look next to the module first and then in the package's source tree.
 */
function libraryFile(fileName: string): string {
  const candidates = [
    new URL(`./${fileName}`, import.meta.url),
    new URL(`../../patterns/${fileName}`, import.meta.url),
  ];
  const found = candidates.map((u) => fileURLToPath(u)).find((p) => existsSync(p));
  return found ?? fileURLToPath(candidates[0]!);
}

const VIDEO_720P = { t: 8, h: 45, w: 80 } as const;
/**
 * With HunyuanVideo's 256 text tokens. The papers' own shapes (Wan 2.x, HunyuanVideo) are the `--layout`
 * presets of patterns/presets.ts; the defaults stay at the 29-frame size so generated/ stays small.
 */
const VIDEO_720P_TEXT = { ...VIDEO_720P, l: 256 } as const;

/** Every built-in pattern. */
export const BUILTIN_PATTERNS: readonly BuiltinPattern[] = [
  {
    name: 'attention_tile',
    file: libraryFile('attention-tile.tile'),
    description:
      'Attention Tile "a:(T-a)": each frame sees itself and the a global frames; global frames see all',
    defaultSizes: VIDEO_720P,
    defaultParams: { a: 2 },
  },
  {
    name: 'full',
    file: libraryFile('full.tile'),
    description: 'full attention over the video tokens',
    defaultSizes: VIDEO_720P,
    defaultParams: {},
  },
  {
    name: 'causal',
    file: libraryFile('causal.tile'),
    description: 'frame-causal attention (token-causal with token = true)',
    defaultSizes: VIDEO_720P,
    defaultParams: { token: false },
  },
  {
    name: 'frame_window',
    file: libraryFile('frame-window.tile'),
    description: 'sliding window over frames: |q.t - k.t| <= r',
    defaultSizes: VIDEO_720P,
    defaultParams: { r: 1 },
  },
  {
    name: 'sliding_tile',
    file: libraryFile('sliding-tile.tile'),
    description:
      'sliding 3D tile windows of wt x wh x ww tiles (6 x 8 x 8 tokens each), clamped at the edges',
    defaultSizes: { t: 12, h: 48, w: 80 },
    defaultParams: { wt: 3, wh: 3, ww: 3 },
  },
  {
    name: 'text_video',
    file: libraryFile('text-video.tile'),
    description: 'video tokens then text tokens: text sees all, all see text, video follows Attention Tile',
    defaultSizes: { ...VIDEO_720P, l: 120 },
    defaultParams: { a: 2 },
  },
  {
    name: 'spatial',
    file: libraryFile('spatial.tile'),
    description: 'spatial-only attention: each token sees its own frame',
    defaultSizes: VIDEO_720P,
    defaultParams: {},
  },
  {
    name: 'temporal',
    file: libraryFile('temporal.tile'),
    description: 'temporal-only attention: each token sees its own spatial position in every frame',
    defaultSizes: VIDEO_720P,
    defaultParams: {},
  },
  {
    name: 'dilated_frames',
    file: libraryFile('dilated-frames.tile'),
    description: 'dilated frames: frames a multiple of d apart, at most r strides away (r = 0: all)',
    defaultSizes: VIDEO_720P,
    defaultParams: { d: 2, r: 0 },
  },
  {
    name: 'radial',
    file: libraryFile('radial.tile'),
    description:
      'Radial Attention: a window over in-frame positions that halves per doubling of frame distance, plus the first frame',
    defaultSizes: VIDEO_720P,
    defaultParams: { decay_percent: 20, wan: true, block: 128 },
  },
  {
    name: 'svg_spatial',
    file: libraryFile('svg-spatial.tile'),
    description:
      "Sparse VideoGen's spatial head: a band of width frames around each token, the first frame, text",
    defaultSizes: VIDEO_720P_TEXT,
    defaultParams: { width: 2, sink: true, round: 128 },
  },
  {
    name: 'svg_temporal',
    file: libraryFile('svg-temporal.tile'),
    description: "Sparse VideoGen's temporal head: nearby in-frame positions in every frame, and text",
    defaultSizes: VIDEO_720P_TEXT,
    defaultParams: { width: 2 },
  },
];

/** The built-in pattern called `name` (snake_case, or the kebab-case file name), or undefined. */
export function findBuiltinPattern(name: string): BuiltinPattern | undefined {
  const normalized = name.replace(/-/g, '_');
  return BUILTIN_PATTERNS.find((p) => p.name === normalized);
}
