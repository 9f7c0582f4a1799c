/**
 * The contract between the DiT graph and the samplers: one call evaluates the network on a batch of noisy
 * latents and returns its epsilon (noise) prediction. Samplers code against this interface only, so any backend
 * (the CPU graph today, the CUDA graph later) or a closed-form test double can stand behind it.
 */

/** Shape of one batch element's latent video: channels x frames x height x width (latent pixels, unpatched). */
export interface LatentShape {
  /** Latent channels C (4 for Open-Sora-Plan 1.2). */
  readonly channels: number;
  /** Latent frames T. */
  readonly frames: number;
  /** Latent height H. */
  readonly height: number;
  /** Latent width W. */
  readonly width: number;
}

/**
 * A denoising network bound to one latent shape (the per-layer attention plans are compiled for one token
 * layout, so the shape is fixed when the model is created).
 */
export interface Denoiser {
  /** The latent shape of one batch element; `x` holds `batch` of them. */
  readonly latent: LatentShape;
  /** Width of one text embedding vector (4096 for mT5-XXL). */
  readonly captionChannels: number;
  /**
   * Evaluate the network once and return epsilon, [B, C, T, H, W] float32 (only the epsilon channels when the
   * network also predicts variance). Inputs are never mutated.
   *
   * @param x noisy latents, [B, C, T, H, W] float32, row-major
   * @param timesteps diffusion timestep per batch element, length B (training-step units 0..999, may be fractional)
   * @param text text-encoder embeddings, [B, L, captionChannels] float32; L is inferred from the length
   * @param textMask text padding mask, [B, L]: 1 = real token, 0 = padding (cross-attention ignores padding)
   * @param batch B
   */
  predictNoise(
    x: Float32Array,
    timesteps: Float32Array,
    text: Float32Array,
    textMask: Float32Array | Uint8Array,
    batch: number,
  ): Promise<Float32Array>;
}
