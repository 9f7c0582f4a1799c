/**
 * The Open-Sora-Plan 1.2 network (OpenSoraT2V, SPEC §2) as a {@link Denoiser}: weights uploaded to a backend
 * once, then one forward pass per `predictNoise` call. The backend is any {@link ModelOps}; the default is the
 * CPU one in float32 (float64 for oracle runs).
 */
import { type CompiledLayerPlan, LayerPlanError } from '../../compiler/layer-plan.js';
import { TensorError } from '../../core/tensor.js';
import { createCpuOps } from '../../runtime/cpu/model-ops.js';
import type {
  ModelOps,
  OpPrecision,
  OpTensor,
  SelfAttentionSpec,
  TokenGrid,
} from '../../runtime/model-ops.js';
import { type DeviceWeights, forwardPass, type NetworkInputs } from './blocks.js';
import type { OpenSoraConfig } from './config.js';
import type { Denoiser, LatentShape } from './denoiser.js';
import { layerAttention } from './layer-attention.js';
import type { ModelWeights } from './weights.js';

/** How to build the model. */
export interface OpenSoraModelOptions<T extends OpTensor> {
  /** Latent frames, height and width of one batch element (channels come from the config). */
  readonly latent: { readonly frames: number; readonly height: number; readonly width: number };
  /** The backend; default: CPU ops in `precision`. */
  readonly ops?: ModelOps<T>;
  /** Arithmetic of the default CPU backend (default float32). Ignored when `ops` is given. */
  readonly precision?: OpPrecision;
  /**
   * Per-layer attention plans, compiled on the model's token grid (`planLayers` of compiler/layer-plan.ts, with
   * {@link tokenGrid}); none = full attention everywhere.
   */
  readonly layerPlan?: CompiledLayerPlan;
  /** Already-resolved self-attention per layer (overrides `layerPlan`; tests and the layer search use it). */
  readonly attention?: readonly SelfAttentionSpec[];
  /**
   * Called after each transformer block of a forward pass with the blocks done and the total (progress inside
   * a slow step). On an asynchronous backend it reports launches, not finished work.
   */
  readonly onLayer?: (done: number, layers: number) => void;
}

/** The model as a denoiser, plus what it was built with. */
export interface OpenSoraModel extends Denoiser {
  readonly config: OpenSoraConfig;
  /** The token grid self-attention runs over: latent frames x (height / ph) x (width / pw). */
  readonly grid: TokenGrid;
  /** Self-attention of each layer. */
  readonly attention: readonly SelfAttentionSpec[];
  /** The backend's name, e.g. `cpu float32`. */
  readonly backend: string;
  /** Wall milliseconds the last `predictNoise` spent in attention (self and cross); undefined before any call. */
  lastAttentionMs(): number | undefined;
}

/**
 * The backend's ops with self- and cross-attention timed: wall clock around each call, exact for the synchronous
 * CPU ops; an asynchronous backend settles its queue before the timer starts and before it stops
 * ({@link ModelOps.settle}), or the split means nothing.
 */
function timeAttention<T extends OpTensor>(ops: ModelOps<T>, add: (ms: number) => void): ModelOps<T> {
  const timed =
    <A extends unknown[]>(f: (...args: A) => T) =>
    (...args: A): T => {
      // Queued work first, outside the timer: an asynchronous backend would otherwise count it as attention.
      ops.settle?.();
      const start = performance.now();
      try {
        const out = f(...args);
        ops.settle?.();
        return out;
      } finally {
        add(performance.now() - start);
      }
    };
  // Object.create keeps a class-based backend's other methods reachable through the prototype.
  return Object.assign(Object.create(ops) as ModelOps<T>, {
    selfAttention: timed(ops.selfAttention.bind(ops)),
    crossAttention: timed(ops.crossAttention.bind(ops)),
  });
}

/**
 * The token grid self-attention runs over for a latent of `frames x height x width` (latent pixels): frames x
 * (height / ph) x (width / pw). Layer plans are compiled on it (`planLayers`).
 */
export function tokenGrid(
  config: OpenSoraConfig,
  latent: OpenSoraModelOptions<OpTensor>['latent'],
): TokenGrid {
  const [, ph, pw] = config.patch;
  for (const [name, v] of Object.entries(latent)) {
    if (!Number.isSafeInteger(v) || v < 1)
      throw new TensorError('latent', `${name} must be a positive integer, got ${v}`);
  }
  if (latent.height % ph !== 0 || latent.width % pw !== 0) {
    throw new TensorError(
      'latent',
      `height ${latent.height} and width ${latent.width} must be multiples of the patch size ${ph} x ${pw}`,
    );
  }
  return { frames: latent.frames, height: latent.height / ph, width: latent.width / pw };
}

/** The self-attention of each layer from a compiled plan, checked against the model's layers and grid. */
function layerPlanAttention(
  compiled: CompiledLayerPlan,
  config: OpenSoraConfig,
  grid: TokenGrid,
): SelfAttentionSpec[] {
  const { plan } = compiled;
  if (plan.layers !== config.layers)
    throw new LayerPlanError(
      plan.file,
      '$.layers',
      `the plan has ${plan.layers} layers but the model has ${config.layers}`,
    );
  if (plan.heads !== undefined && plan.heads !== config.heads)
    throw new LayerPlanError(
      plan.file,
      '$.heads',
      `the plan has ${plan.heads} heads but the model has ${config.heads}`,
    );
  const g = compiled.grid;
  if (g.frames !== grid.frames || g.height !== grid.height || g.width !== grid.width)
    throw new LayerPlanError(
      plan.file,
      '$.sizes',
      `compiled for a ${g.frames} x ${g.height} x ${g.width} token grid, but the model's is ${grid.frames} x ${grid.height} x ${grid.width}`,
    );
  return layerAttention(compiled);
}

/** Host inputs of one evaluation, checked ({@link OpenSoraNetwork.check}). */
export interface OpenSoraHostInputs {
  readonly batch: number;
  readonly x: Float32Array;
  readonly timesteps: Float32Array;
  readonly text: Float32Array;
  /** Text tokens per batch element (L). */
  readonly textTokens: number;
  /** [B * L], 1 = real text token (any non-zero input counts as 1). */
  readonly textMask: Uint8Array;
}

/**
 * The network in the pieces of one evaluation: host inputs checked, uploaded (the pass's only host-to-device
 * copies), the forward pass on the backend (launches only), and the output turned into epsilon. `predictNoise`
 * is these in order; a backend that replays the forward (CUDA graphs) runs them itself.
 */
export interface OpenSoraNetwork<T extends OpTensor> extends Omit<OpenSoraModel, 'predictNoise'> {
  /** The backend ops, with self- and cross-attention timed for {@link OpenSoraModel.lastAttentionMs}. */
  readonly ops: ModelOps<T>;
  /** The weights on the backend, by checkpoint name (the layer search runs parts of the graph with them). */
  readonly weight: DeviceWeights<T>;
  /** Throws a TensorError naming the first input whose size does not fit the model and `batch`. */
  check(
    x: Float32Array,
    timesteps: Float32Array,
    text: Float32Array,
    textMask: Float32Array | Uint8Array,
    batch: number,
  ): OpenSoraHostInputs;
  /** The inputs on the backend (the timestep features are computed there). */
  upload(host: OpenSoraHostInputs): NetworkInputs<T>;
  /** {@link forwardPass} with the model's weights and attention, timing its attention. */
  forward(inputs: NetworkInputs<T>): T;
  /** The downloaded output [B, outChannels, ...] as epsilon [B, C, ...] (drops variance channels). */
  epsilon(out: Float32Array, batch: number): Float32Array;
}

/**
 * Build the network on a backend, in pieces (see {@link OpenSoraNetwork}). Weights must match the config; they
 * are host weights (uploaded here, once) or weights already on the backend (e.g. `randomDeviceWeights`).
 */
export function createOpenSoraNetwork<T extends OpTensor = OpTensor>(
  config: OpenSoraConfig,
  weights: ModelWeights | DeviceWeights<T>,
  options: OpenSoraModelOptions<T>,
): OpenSoraNetwork<T> {
  if (
    typeof weights !== 'function' &&
    weights.config !== config &&
    JSON.stringify(weights.config) !== JSON.stringify(config)
  ) {
    throw new TensorError('weights', `were loaded for ${weights.config.name}, not for ${config.name}`);
  }
  let attentionMs = 0;
  let lastAttentionMs: number | undefined;
  const backend = (options.ops ?? createCpuOps(options.precision ?? 'float32')) as ModelOps<T>;
  const ops = timeAttention(backend, (ms) => {
    attentionMs += ms;
  });
  const grid = tokenGrid(config, options.latent);
  const latent: LatentShape = { channels: config.inChannels, ...options.latent };

  let attention: readonly SelfAttentionSpec[];
  if (options.attention) {
    if (options.attention.length !== config.layers)
      throw new TensorError(
        'attention',
        `expected one spec per layer (${config.layers}), got ${options.attention.length}`,
      );
    attention = options.attention;
  } else if (options.layerPlan) {
    attention = layerPlanAttention(options.layerPlan, config, grid);
  } else {
    attention = Array.from({ length: config.layers }, () => ({ kind: 'dense' as const }));
  }

  const weight = typeof weights === 'function' ? weights : uploadWeights(ops, weights, config);
  const { channels: C, frames: F, height: H, width: W } = latent;
  const perLatent = C * F * H * W;

  return {
    latent,
    captionChannels: config.captionChannels,
    config,
    grid,
    attention,
    backend: backend.name,
    ops,
    weight,
    lastAttentionMs: () => lastAttentionMs,
    check(x, timesteps, text, textMask, batch) {
      if (!Number.isSafeInteger(batch) || batch < 1)
        throw new TensorError('batch', `must be a positive integer, got ${batch}`);
      if (x.length !== batch * perLatent)
        throw new TensorError(
          'x',
          `expected [${batch}, ${C}, ${F}, ${H}, ${W}] (${batch * perLatent} values), got ${x.length}`,
        );
      if (timesteps.length !== batch)
        throw new TensorError('timesteps', `expected ${batch} values, got ${timesteps.length}`);
      const perToken = batch * config.captionChannels;
      if (text.length % perToken !== 0)
        throw new TensorError(
          'text',
          `expected [${batch}, L, ${config.captionChannels}], got ${text.length} values`,
        );
      const L = text.length / perToken;
      if (textMask.length !== batch * L)
        throw new TensorError('textMask', `expected [${batch}, ${L}], got ${textMask.length} values`);
      const mask = Uint8Array.from(textMask, (m) => (m !== 0 ? 1 : 0));
      return { batch, x, timesteps, text, textTokens: L, textMask: mask };
    },
    upload(host) {
      const { batch, textTokens } = host;
      return {
        latents: ops.upload(host.x, [batch, C, F, H, W]),
        text: ops.upload(host.text, [batch, textTokens, config.captionChannels]),
        timestepFeatures: ops.timestepFeatures(host.timesteps, config.timestepChannels),
        textMask: host.textMask,
      };
    },
    forward(inputs) {
      attentionMs = 0;
      const out = forwardPass(ops, weight, config, grid, attention, inputs, options.onLayer);
      lastAttentionMs = attentionMs;
      return out;
    },
    epsilon(out, batch) {
      if (config.outChannels === C) return out;
      // A variance-predicting head: keep the epsilon channels (the first C of each batch element).
      const eps = new Float32Array(batch * perLatent);
      for (let b = 0; b < batch; b++)
        eps.set(
          out.subarray(b * config.outChannels * F * H * W, b * config.outChannels * F * H * W + perLatent),
          b * perLatent,
        );
      return eps;
    },
  };
}

/** Every weight uploaded once; the patch conv's kernel [D, C, ph, pw] is used as a [D, C * ph * pw] matrix. */
function uploadWeights<T extends OpTensor>(
  ops: ModelOps<T>,
  weights: ModelWeights,
  config: OpenSoraConfig,
): DeviceWeights<T> {
  const device = new Map<string, T>();
  for (const name of weights.names) {
    const w = weights.get(name);
    const shape = name === 'pos_embed.proj.weight' ? [w.shape[0]!, w.data.length / w.shape[0]!] : w.shape;
    device.set(name, ops.upload(w.data, shape));
  }
  return (name: string): T => {
    const t = device.get(name);
    if (!t) throw new TensorError(name, `no such weight in ${config.name}`);
    return t;
  };
}

/**
 * A built network as a {@link Denoiser}: each `predictNoise` checks and uploads its inputs, runs the forward pass
 * and downloads epsilon, with the pass's memory released after it (on backends with scoped memory).
 */
export function networkDenoiser<T extends OpTensor>(network: OpenSoraNetwork<T>): OpenSoraModel {
  const { check, upload, forward, epsilon, ops, weight: _weight, ...model } = network;
  return {
    ...model,
    async predictNoise(x, timesteps, text, textMask, batch) {
      const host = check(x, timesteps, text, textMask, batch);
      const outer = ops.mark?.();
      try {
        return epsilon(ops.download(forward(upload(host))), batch);
      } finally {
        if (outer !== undefined) ops.release?.(outer);
      }
    },
  };
}

/** Build the network on a backend. Weights must have been loaded for the same config. */
export function createOpenSoraModel<T extends OpTensor = OpTensor>(
  config: OpenSoraConfig,
  weights: ModelWeights,
  options: OpenSoraModelOptions<T>,
): OpenSoraModel {
  return networkDenoiser(createOpenSoraNetwork(config, weights, options));
}
