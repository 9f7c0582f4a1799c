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
import type { ModelOps, OpTensor, RopeSpec, SelfAttentionSpec, TokenGrid } from '../../runtime/model-ops.js';
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

/** `fn`'s result, with everything else `fn` allocated released after it (on backends with scoped memory). */
function scoped<T extends OpTensor>(ops: ModelOps<T>, fn: () => T): T {
  const mark = ops.mark?.();
  const out = fn();
  if (mark !== undefined) ops.release?.(mark, [out]);
  return out;
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
 * adaLN-single: the sinusoidal features [B, timestepChannels] (`ops.timestepFeatures`) -> linear_1 -> SiLU ->
 * linear_2 = the embedded timestep [B, D]; then SiLU -> linear gives the shared modulation [B, 6 * D].
 */
export function embedTimestepFeatures<T extends OpTensor>(
  ops: ModelOps<T>,
  weight: DeviceWeights<T>,
  features: T,
): { embedded: T; modulation: T } {
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

  const norm = (h: T, shiftRow: number, scaleRow: number) =>
    ops.layerNormModulate(h, config.normEps, mod, shiftRow, scaleRow);
  const rope = (t: T) => ops.rope3d(t, config.heads, ctx.grid, ctx.rope);

  // Each sub-block releases its intermediates when it ends (the projections before RoPE as soon as it ran, the
  // residual after self-attention once cross-attention has added to it), so a pass holds one sub-block's
  // activations rather than a whole block's: the same ops in the same order.
  x = scoped(ops, () => {
    const afterSelf = scoped(ops, () => {
      const attended = scoped(ops, () => {
        const normed = norm(x, MOD.shiftMsa, MOD.scaleMsa);
        const q = scoped(ops, () => rope(dense(ops, weight, normed, `${p}.attn1.to_q`)));
        const k = scoped(ops, () => rope(dense(ops, weight, normed, `${p}.attn1.to_k`)));
        const v = dense(ops, weight, normed, `${p}.attn1.to_v`);
        return ops.selfAttention(q, k, v, config.heads, attention);
      });
      return ops.gatedAdd(x, dense(ops, weight, attended, `${p}.attn1.to_out.0`), mod, MOD.gateMsa);
    });
    const attended = scoped(ops, () => {
      const cq = dense(ops, weight, afterSelf, `${p}.attn2.to_q`);
      const ck = dense(ops, weight, ctx.text, `${p}.attn2.to_k`);
      const cv = dense(ops, weight, ctx.text, `${p}.attn2.to_v`);
      return ops.crossAttention(cq, ck, cv, config.heads, ctx.textMask);
    });
    return ops.add(afterSelf, dense(ops, weight, attended, `${p}.attn2.to_out.0`));
  });

  return scoped(ops, () => {
    const hidden = scoped(ops, () =>
      ops.geluTanh(
        scoped(ops, () => dense(ops, weight, norm(x, MOD.shiftMlp, MOD.scaleMlp), `${p}.ff.net.0.proj`)),
      ),
    );
    return ops.gatedAdd(x, dense(ops, weight, hidden, `${p}.ff.net.2`), mod, MOD.gateMlp);
  });
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

/** One evaluation's inputs on the backend: what {@link forwardPass} reads (uploading them is all the host traffic). */
export interface NetworkInputs<T extends OpTensor> {
  /** Noisy latents [B, C, T, H, W]. */
  readonly latents: T;
  /** Text-encoder embeddings [B, L, captionChannels]. */
  readonly text: T;
  /** Sinusoidal timestep features [B, timestepChannels] (`ops.timestepFeatures`). */
  readonly timestepFeatures: T;
  /** [B * L], 1 = real text token. */
  readonly textMask: Uint8Array;
}

/** What the blocks of one evaluation start from: their shared context, the embedded timestep and the tokens. */
export interface EmbeddedInputs<T extends OpTensor> {
  readonly context: BlockContext<T>;
  /** The embedded timestep [B, D] the output layer modulates with. */
  readonly embedded: T;
  /** Patch-embedded tokens [B, N, D]: the input of block 0. */
  readonly hidden: T;
  /**
   * The allocation mark taken before the tokens were embedded (backends with scoped memory): passing it to
   * {@link runBlocks} releases the embedded tokens with the first block's intermediates.
   */
  readonly scope: number | undefined;
}

/** The inputs embedded: timestep (adaLN-single), caption, patches; the patching's intermediates released. */
export function embedInputs<T extends OpTensor>(
  ops: ModelOps<T>,
  weight: DeviceWeights<T>,
  config: OpenSoraConfig,
  grid: TokenGrid,
  inputs: NetworkInputs<T>,
): EmbeddedInputs<T> {
  const { embedded, modulation } = embedTimestepFeatures(ops, weight, inputs.timestepFeatures);
  const caption = projectCaption(ops, weight, inputs.text);
  const rope: RopeSpec = { base: config.ropeBase, interpolation: config.ropeInterpolation };
  const context = {
    ops,
    config,
    weight,
    grid,
    rope,
    timestep: modulation,
    text: caption,
    textMask: inputs.textMask,
  };
  const scope = ops.mark?.();
  const hidden = embedPatches(ops, weight, inputs.latents, config);
  if (scope !== undefined) ops.release?.(scope, [hidden]);
  return { context, embedded, hidden, scope };
}

/**
 * Blocks `from` to `to - 1` on hidden states [B, N, D], block `layer` with `attention[layer]`. Backends with
 * scoped memory get everything allocated after `scope` but the latest hidden states released after each block
 * (default: a mark taken here, so `hidden` itself stays live: the layer search reuses it).
 */
export function runBlocks<T extends OpTensor>(
  context: BlockContext<T>,
  hidden: T,
  from: number,
  to: number,
  attention: readonly SelfAttentionSpec[],
  scope: number | undefined = context.ops.mark?.(),
  onLayer?: (done: number, layers: number) => void,
): T {
  const { ops } = context;
  let h = hidden;
  for (let layer = from; layer < to; layer++) {
    h = transformerBlock(context, layer, h, attention[layer]!);
    if (scope !== undefined) ops.release?.(scope, [h]);
    onLayer?.(layer + 1, context.config.layers);
  }
  return h;
}

/**
 * The whole network on uploaded inputs: embeddings, every block with `attention[layer]`, the output layer;
 * returns [B, outChannels, T, H, W] on the backend. Backends with scoped memory get everything but the residual
 * stream released after each block, so a pass holds one block's activations at a time. `onLayer` hears of each
 * finished block.
 */
export function forwardPass<T extends OpTensor>(
  ops: ModelOps<T>,
  weight: DeviceWeights<T>,
  config: OpenSoraConfig,
  grid: TokenGrid,
  attention: readonly SelfAttentionSpec[],
  inputs: NetworkInputs<T>,
  onLayer?: (done: number, layers: number) => void,
): T {
  const { context, embedded, hidden, scope } = embedInputs(ops, weight, config, grid, inputs);
  const h = runBlocks(context, hidden, 0, config.layers, attention, scope, onLayer);
  return outputLayer(ops, weight, h, embedded, config, grid);
}
