/**
 * What the attention benchmark (bench/cuda-attention.ts) times: the attention shapes of the video DiTs people run,
 * each with full attention, an Attention Tile plan and a 3D sliding-tile plan, in named sets that each fit one
 * device call of a few minutes (`node dist/bench/cuda-attention.js <out> <iterations> <set>`; run-all.sh
 * `attention-bench <set>`).
 *
 * Shapes, batch 1, 720p (a latent frame of 45 x 80 tokens: 720 x 1280 pixels, VAE 8 x 8, patch 2 x 2):
 * - Open-Sora-Plan 1.2: 24 heads x 96; 29 frames -> 8 latent frames (28,800 tokens), 93 -> 24 (86,400).
 * - Wan 2.x 14B: 40 heads x 128 (hidden 5120); 81 frames -> 21 latent frames (VAE 4x in time): 75,600 tokens.
 * - HunyuanVideo: 24 heads x 128 (hidden 3072); 129 frames -> 33 latent frames: 118,800 tokens.
 * The sliding-tile plans group tokens into 6 x 8 x 8 tiles (384 tokens, three 128-token blocks) as Sliding Tile
 * Attention does; 45 x 80 frames and 21 or 33 frames are not tile multiples, so the layout is padded to whole tiles
 * (Wan: 24 x 48 x 80 = 92,160 slots; HunyuanVideo: 36 x 48 x 80 = 138,240) and the padding is masked.
 */
import type { CudaDType } from '../codegen/cuda/kernel-options.js';
import { type BenchMask, H, W } from './cuda-bench-common.js';

/** A model's attention: heads x head dim, and its name in tables. */
export interface ModelShape {
  readonly name: string;
  readonly heads: number;
  readonly headDim: number;
}

/** The models benchmarked, by key. */
export const MODELS = {
  osp: { name: 'Open-Sora-Plan 1.2', heads: 24, headDim: 96 },
  wan: { name: 'Wan 2.x 14B 720p', heads: 40, headDim: 128 },
  hunyuan: { name: 'HunyuanVideo 720p', heads: 24, headDim: 128 },
} as const satisfies Record<string, ModelShape>;

/** One timed row: a model's heads over `frames` latent frames of 45 x 80, a mask, a head dim and a dtype. */
export interface AttentionCase {
  readonly model: keyof typeof MODELS;
  readonly frames: number;
  readonly mask: BenchMask;
  readonly headDim: number;
  readonly dtype: CudaDType;
}

/** Latent frames of each model's shape (Open-Sora-Plan: 29 and 93 video frames). */
const FRAMES = { osp: [8, 24], wan: [21], hunyuan: [33] } as const;

const full: BenchMask = { kind: 'full' };
const tile = (a: number): BenchMask => ({ kind: 'tile', a });
/** A query tile sees 3 x 3 x 3 tiles of 6 x 8 x 8 tokens around it (the Sliding Tile Attention setting). */
const sliding: BenchMask = { kind: 'sliding', wt: 3, wh: 3, ww: 3 };

/**
 * The masks of each model: full attention, Attention Tile plans (Open-Sora-Plan: the family; Wan and
 * HunyuanVideo: a = 3 and 4, about the density of 3:21 at 24 frames) and the sliding-tile plan.
 */
const MASKS: Record<keyof typeof MODELS, Record<number, readonly BenchMask[]>> = {
  osp: { 8: [full, tile(4), tile(2), tile(1)], 24: [full, tile(12), tile(6), tile(3)] },
  wan: { 21: [full, tile(3), sliding] },
  hunyuan: { 33: [full, tile(4), sliding] },
};

/** Every mask of a model at its head dim in bf16: the rows the targets are judged on. */
function modelCases(model: keyof typeof MODELS): AttentionCase[] {
  return FRAMES[model].flatMap((frames) =>
    MASKS[model][frames]!.map((mask) => ({
      model,
      frames,
      mask,
      headDim: MODELS[model].headDim,
      dtype: 'bfloat16' as const,
    })),
  );
}

/** A model's masks at the head dims and dtypes other than its own in bf16 (those are in `targets`). */
function sweep(
  model: keyof typeof MODELS,
  masks?: (frames: number) => readonly BenchMask[],
): AttentionCase[] {
  const combos = ([64, 96, 128] as const).flatMap((headDim) =>
    (['bfloat16', 'float16'] as const).map((dtype) => ({ headDim, dtype })),
  );
  return FRAMES[model].flatMap((frames) =>
    (masks?.(frames) ?? MASKS[model][frames]!).flatMap((mask) =>
      combos
        .filter((c) => !(c.headDim === MODELS[model].headDim && c.dtype === 'bfloat16'))
        .map((c) => ({ model, frames, mask, ...c })),
    ),
  );
}

/**
 * The sets, each one device call. `targets` (the default): Open-Sora-Plan's masks at 8 and 24 frames (head dim
 * 96), Wan and HunyuanVideo dense, Attention Tile and sliding tile (head dim 128), all bf16: 14 rows. `wan`,
 * `hunyuan`: the other head dims (64, 96, 128) and fp16, 15 rows each. `osp`: full and the middle Attention Tile
 * mask at 8 and 24 frames at the other head dims and fp16, 20 rows.
 */
export const BENCH_SETS: Record<string, () => AttentionCase[]> = {
  targets: () => [...modelCases('osp'), ...modelCases('wan'), ...modelCases('hunyuan')],
  wan: () => sweep('wan'),
  hunyuan: () => sweep('hunyuan'),
  osp: () => sweep('osp', (frames) => [full, tile(frames === 8 ? 2 : 6)]),
};

/** The latent grid of a case. */
export function caseGrid(c: AttentionCase): { t: number; h: number; w: number } {
  return { t: c.frames, h: H, w: W };
}
