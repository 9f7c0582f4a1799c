/**
 * The OpenSoraT2V network's pieces written over {@link ModelOps}: the input embeddings (patches, timestep,
 * caption), one transformer block, and the output layer. The order of operations follows Open-Sora-Plan 1.2's
 * BasicTransformerBlock for norm_type "ada_norm_single" (PixArt-alpha style):
 *
 *   shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = block.scale_shift_table + t   (rows 0..5)
 *   x += gate_msa * attn1(LN(x) * (1 + scale_msa) + shift_msa)        (RoPE3D on q and k)
 *   x += attn2(x, text)                                                  (no norm, no gate: PixArt)
 *   x += gate_mlp * ff(LN(x) * (1 + scale_mlp) + shift_mlp)
 *
 * and, at the end, shift, scale = scale_shift_table + embedded_timestep; proj_out(LN(x) * (1 + scale) + shift).
 */
import type { ModelOps, OpTensor, RopeSpec, SelfAttentionSpec, TokenGrid } from '../ops/ops.js';
import type { OpenSoraConfig } from './config.js';

/** Rows of the per-block modulation table (diffusers' chunk order). */
export const MOD = { shiftMsa: 0, scaleMsa: 1, gateMsa: 2, shiftMlp: 3, scaleMlp: 4, gateMlp: 5 } as const;

/** The weights on the backend, by checkpoint name. */
export type DeviceWeights<T extends OpTensor> = (name: string) => T;

/** What every block of one evaluation shares. */
export interface BlockContext<T extends OpTensor> {
  readonly ops: ModelOps<T>;
  readonly config: OpenSoraConfig;
  readonly weight: DeviceWeights<T>;
  readonly grid: TokenGrid;
  readonly rope: RopeSpec;
  /** adaLN-single output, [B, 6 * D]. */
  readonly timestep: T;
  /** Projected caption, [B, L, D]. */
  readonly text: T;
  /** [B * L], 1 = real text token. */
  readonly textMask: Uint8Array;
}

function dense<T extends OpTensor>(ops: ModelOps<T>, weight: DeviceWeights<T>, x: T, layer: string): T {
  return ops.linear(x, weight(`${layer}.weight`), weight(`${layer}.bias`));
}

/** Patch embedding: latents [B, C, T, H, W] -> tokens [B, N, D] (the conv as a linear map over patches). */
export function embedPatches<T extends OpTensor>(
  ops: ModelOps<T>,
  weight: DeviceWeights<T>,
  latents: T,
  config: OpenSoraConfig,
): T {
  return dense(ops, weight, ops.patchify(latents, config.patch), 'pos_embed.proj');
}

/**
 * adaLN-single: sinusoidal features -> linear_1 -> SiLU -> linear_2 = the embedded timestep [B, D]; then
 * SiLU -> linear gives the shared modulation [B, 6 * D].
 */
export function embedTimesteps<T extends OpTensor>(
  ops: ModelOps<T>,
  weight: DeviceWeights<T>,
  timesteps: Float32Array,
  config: OpenSoraConfig,
): { embedded: T; modulation: T } {
  const features = ops.timestepFeatures(timesteps, config.timestepChannels);
  const hidden = ops.silu(dense(ops, weight, features, 'adaln_single.emb.timestep_embedder.linear_1'));
  const embedded = dense(ops, weight, hidden, 'adaln_single.emb.timestep_embedder.linear_2');
  const modulation = dense(ops, weight, ops.silu(embedded), 'adaln_single.linear');
  return { embedded, modulation };
}

/** Caption projection: [B, L, caption] -> linear_1 -> GELU(tanh) -> linear_2 -> [B, L, D]. */
export function projectCaption<T extends OpTensor>(ops: ModelOps<T>, weight: DeviceWeights<T>, text: T): T {
  const hidden = ops.geluTanh(dense(ops, weight, text, 'caption_projection.linear_1'));
  return dense(ops, weight, hidden, 'caption_projection.linear_2');
}

/** One transformer block on hidden states [B, N, D]. */
export function transformerBlock<T extends OpTensor>(
  ctx: BlockContext<T>,
  layer: number,
  x: T,
  attention: SelfAttentionSpec,
): T {
  const { ops, weight, config } = ctx;
  const p = `transformer_blocks.${layer}`;
  const mod = ops.modulationRows(weight(`${p}.scale_shift_table`), ctx.timestep);

  const normed = ops.layerNormModulate(x, config.normEps, mod, MOD.shiftMsa, MOD.scaleMsa);
  const q = ops.rope3d(dense(ops, weight, normed, `${p}.attn1.to_q`), config.heads, ctx.grid, ctx.rope);
  const k = ops.rope3d(dense(ops, weight, normed, `${p}.attn1.to_k`), config.heads, ctx.grid, ctx.rope);
  const v = dense(ops, weight, normed, `${p}.attn1.to_v`);
  const selfOut = dense(
    ops,
    weight,
    ops.selfAttention(q, k, v, config.heads, attention),
    `${p}.attn1.to_out.0`,
  );
  x = ops.gatedAdd(x, selfOut, mod, MOD.gateMsa);

  const cq = dense(ops, weight, x, `${p}.attn2.to_q`);
  const ck = dense(ops, weight, ctx.text, `${p}.attn2.to_k`);
  const cv = dense(ops, weight, ctx.text, `${p}.attn2.to_v`);
  const crossOut = dense(
    ops,
    weight,
    ops.crossAttention(cq, ck, cv, config.heads, ctx.textMask),
    `${p}.attn2.to_out.0`,
  );
  x = ops.add(x, crossOut);

  const ffIn = ops.layerNormModulate(x, config.normEps, mod, MOD.shiftMlp, MOD.scaleMlp);
  const ffOut = dense(
    ops,
    weight,
    ops.geluTanh(dense(ops, weight, ffIn, `${p}.ff.net.0.proj`)),
    `${p}.ff.net.2`,
  );
  return ops.gatedAdd(x, ffOut, mod, MOD.gateMlp);
}

/** Output layer and unpatchify: hidden [B, N, D] -> [B, outChannels, T, H, W]. */
export function outputLayer<T extends OpTensor>(
  ops: ModelOps<T>,
  weight: DeviceWeights<T>,
  x: T,
  embedded: T,
  config: OpenSoraConfig,
  grid: TokenGrid,
): T {
  // Row 0 shift, row 1 scale, each the top-level table plus the embedded timestep (not its SiLU).
  const mod = ops.modulationRows(weight('scale_shift_table'), embedded);
  const normed = ops.layerNormModulate(x, config.normEps, mod, 0, 1);
  const patches = dense(ops, weight, normed, 'proj_out');
  return ops.unpatchify(patches, grid, config.patch, config.outChannels);
}
