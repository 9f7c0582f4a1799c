/**
 * The tensor names and shapes of an OpenSoraT2V checkpoint (diffusers layout, `diffusion_pytorch_model.safetensors`)
 * as a function of the config: the single source of truth for the loader and for the checkpoints tests write.
 *
 * Sources (read through the code search, not guessed):
 * - OpenSoraT2V (Open-Sora-Plan v1.2, as vendored in NUS-HPC-AI-Lab/VideoSys
 *   videosys/models/transformers/open_sora_plan_v120_transformer_3d.py): `pos_embed` = PatchEmbed2D with
 *   `proj` = Conv2d(in, dim, kernel = stride = patch) (a temporal patch of 1 embeds each frame in 2D);
 *   `transformer_blocks.{i}` = BasicTransformerBlock; `scale_shift_table` (2, dim) and `proj_out`
 *   Linear(dim, pt * ph * pw * out) for norm_type "ada_norm_single"; `adaln_single` = AdaLayerNormSingle(dim);
 *   `caption_projection` = PixArtAlphaTextProjection(caption_channels, dim). With use_rope the absolute position
 *   embeddings are off and are non-persistent buffers anyway, so they are not in the file.
 * - BasicTransformerBlock (same file): `attn1` self-attention and `attn2` cross-attention (diffusers Attention:
 *   `to_q`, `to_k`, `to_v` with bias = attention_bias = True, `to_out.0` with out_bias); `ff` = diffusers
 *   FeedForward with activation "gelu-approximate" (`net.0.proj` = GELU's Linear(dim, inner), `net.2` =
 *   Linear(inner, dim)); `scale_shift_table` (6, dim). norm1/norm2 are LayerNorms with elementwise_affine False:
 *   no tensors.
 * - diffusers AdaLayerNormSingle: `emb` = PixArtAlphaCombinedTimestepSizeEmbeddings whose `timestep_embedder` is
 *   TimestepEmbedding(256, dim) (`linear_1`, `linear_2`) (no resolution/aspect embedders: OpenSoraT2V forces
 *   use_additional_conditions False), then `linear` = Linear(dim, 6 * dim).
 * - diffusers PixArtAlphaTextProjection: `linear_1` Linear(caption, dim), GELU(tanh), `linear_2` Linear(dim, dim).
 * cross_attention_dim is 2304 = dim for OpenSoraT2V-ROPE-L/122, so attn2.to_k / to_v read `dim` channels (the
 * caption projection's output); this map assumes cross_attention_dim == dim, true of every OpenSoraT2V variant.
 * Not confirmed against a downloaded checkpoint header (no network here): names follow PyTorch's state_dict
 * naming of the modules above.
 */
import { hiddenSize, type OpenSoraConfig } from './config.js';

/** One tensor a checkpoint must hold. */
export interface WeightSpec {
  readonly name: string;
  readonly shape: readonly number[];
}

function linear(prefix: string, out: number, inp: number): WeightSpec[] {
  return [
    { name: `${prefix}.weight`, shape: [out, inp] },
    { name: `${prefix}.bias`, shape: [out] },
  ];
}

/** The tensors of one transformer block, `transformer_blocks.{layer}.*`. */
export function blockWeightSpecs(config: OpenSoraConfig, layer: number): WeightSpec[] {
  const d = hiddenSize(config);
  const p = `transformer_blocks.${layer}`;
  return [
    { name: `${p}.scale_shift_table`, shape: [6, d] },
    ...linear(`${p}.attn1.to_q`, d, d),
    ...linear(`${p}.attn1.to_k`, d, d),
    ...linear(`${p}.attn1.to_v`, d, d),
    ...linear(`${p}.attn1.to_out.0`, d, d),
    ...linear(`${p}.attn2.to_q`, d, d),
    ...linear(`${p}.attn2.to_k`, d, d),
    ...linear(`${p}.attn2.to_v`, d, d),
    ...linear(`${p}.attn2.to_out.0`, d, d),
    ...linear(`${p}.ff.net.0.proj`, config.ffnDim, d),
    ...linear(`${p}.ff.net.2`, d, config.ffnDim),
  ];
}

/** Every tensor of an OpenSoraT2V checkpoint with `config`'s sizes, in a stable order (embeddings, blocks, output). */
export function openSoraWeightSpecs(config: OpenSoraConfig): WeightSpec[] {
  const d = hiddenSize(config);
  const [pt, ph, pw] = config.patch;
  const specs: WeightSpec[] = [
    // Conv2d weight [out, in, kh, kw]; pt is 1 (checked by the config), so the kernel is 2D.
    { name: 'pos_embed.proj.weight', shape: [d, config.inChannels, ph, pw] },
    { name: 'pos_embed.proj.bias', shape: [d] },
    ...linear('adaln_single.emb.timestep_embedder.linear_1', d, config.timestepChannels),
    ...linear('adaln_single.emb.timestep_embedder.linear_2', d, d),
    ...linear('adaln_single.linear', 6 * d, d),
    ...linear('caption_projection.linear_1', d, config.captionChannels),
    ...linear('caption_projection.linear_2', d, d),
  ];
  for (let layer = 0; layer < config.layers; layer++) specs.push(...blockWeightSpecs(config, layer));
  specs.push({ name: 'scale_shift_table', shape: [2, d] });
  specs.push(...linear('proj_out', pt * ph * pw * config.outChannels, d));
  return specs;
}
