/**
 * The network in the pieces the search runs, composed from models/open-sora-plan/blocks.ts: a calibration input
 * staged on the backend (embedded once), a block advanced from cached hidden states, the suffix of the network
 * from layer l to the output, and the self-attention of one layer compared across candidates. Plus the one
 * reduction the search needs on the device, ||a - b||, written in the op vocabulary.
 */
import { relativeError } from '../core/error-metrics.js';
import {
  type BlockContext,
  type EmbeddedInputs,
  embedInputs,
  outputLayer,
  runBlocks,
} from '../models/open-sora-plan/blocks.js';
import type { OpenSoraNetwork } from '../models/open-sora-plan/network.js';
import type { ModelOps, OpTensor, SelfAttentionSpec } from '../runtime/model-ops.js';
import type { CalibrationInput } from './calibration.js';

/** Full attention, the reference every layer keeps unless it is being tried. */
export const DENSE: SelfAttentionSpec = { kind: 'dense' };

/** One calibration input on the backend: what every block of its passes shares, and its layer-0 input. */
export interface StagedInput<T extends OpTensor> {
  readonly input: CalibrationInput;
  readonly embedded: EmbeddedInputs<T>;
  /** Every backend tensor the staged input holds (kept when the search releases a scope). */
  readonly tensors: readonly T[];
}

/** Upload and embed one calibration input; the uploads are released once embedded. */
export function stageInput<T extends OpTensor>(
  network: OpenSoraNetwork<T>,
  input: CalibrationInput,
): StagedInput<T> {
  const { ops, weight, config, grid } = network;
  const host = network.check(input.x, input.timesteps, input.text, input.textMask, input.batch);
  const mark = ops.mark?.();
  const embedded = embedInputs(ops, weight, config, grid, network.upload(host));
  const { context } = embedded;
  const tensors = [context.timestep, context.text, embedded.embedded, embedded.hidden];
  if (mark !== undefined) ops.release?.(mark, tensors);
  return { input, embedded, tensors };
}

/**
 * Epsilon of the network from layer `from` on, given that layer's input `hidden`: blocks `from..L-1` with
 * `attention`, the output layer, downloaded. Everything it allocates is released; `hidden` is kept.
 */
export function suffixEpsilon<T extends OpTensor>(
  network: OpenSoraNetwork<T>,
  staged: StagedInput<T>,
  hidden: T,
  from: number,
  attention: readonly SelfAttentionSpec[],
): Float32Array {
  const { ops, weight, config, grid } = network;
  const mark = ops.mark?.();
  try {
    const h = runBlocks(staged.embedded.context, hidden, from, config.layers, attention);
    const out = outputLayer(ops, weight, h, staged.embedded.embedded, config, grid);
    return network.epsilon(ops.download(out), staged.input.batch);
  } finally {
    if (mark !== undefined) ops.release?.(mark);
  }
}

/** Layer `layer`'s self-attention, intercepted: gets q, k, v and the spec, and `inner` to run the real op. */
export type SelfAttentionProbe<T extends OpTensor> = (
  q: T,
  k: T,
  v: T,
  heads: number,
  spec: SelfAttentionSpec,
  inner: (spec: SelfAttentionSpec) => T,
) => T;

/**
 * Block `layer` on `hidden` with `spec`, its self-attention going through `probe` when given. Returns the
 * block's output (allocated after everything it released); `hidden` is kept.
 */
export function advanceBlock<T extends OpTensor>(
  context: BlockContext<T>,
  hidden: T,
  layer: number,
  attention: readonly SelfAttentionSpec[],
  probe?: SelfAttentionProbe<T>,
): T {
  if (!probe) return runBlocks(context, hidden, layer, layer + 1, attention);
  const { ops } = context;
  // Object.create keeps a class-based backend's other methods reachable through the prototype.
  const probed = Object.assign(Object.create(ops) as ModelOps<T>, {
    selfAttention: (q: T, k: T, v: T, heads: number, spec: SelfAttentionSpec) =>
      probe(q, k, v, heads, spec, (s) => ops.selfAttention(q, k, v, heads, s)),
  });
  return runBlocks({ ...context, ops: probed }, hidden, layer, layer + 1, attention);
}

/**
 * Relative L2 distances between backend tensors of one shape [B, N, D], computed on the backend (only m x m
 * scalars come back). Its constants are made when it is built: build it outside the scopes the caller releases.
 */
export class DeviceDistance<T extends OpTensor> {
  private readonly minusOne: T;
  private readonly zeroBias: T;
  private readonly rows: number;

  constructor(
    private readonly ops: ModelOps<T>,
    readonly shape: readonly [number, number, number],
  ) {
    const [batch, , width] = shape;
    const n = shape[0] * shape[1] * shape[2];
    this.rows = Math.min(256, n);
    while (n % this.rows !== 0) this.rows--;
    // gatedAdd's gate of -1, made by the ops' own rows op so it has the dtype the backend expects.
    const table = ops.upload(new Float32Array(width).fill(-1), [1, width]);
    this.minusOne = ops.modulationRows(table, ops.upload(new Float32Array(batch * width), [batch, width]));
    this.zeroBias = ops.upload(new Float32Array(this.rows), [this.rows]);
  }

  /** ||a - b|| / ||b|| (||a - b|| when b is 0). */
  relative(a: T, b: T): number {
    const { ops } = this;
    const mark = ops.mark?.();
    try {
      const num = this.squaredNorm(ops.gatedAdd(a, b, this.minusOne, 0));
      const den = this.squaredNorm(b);
      return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
    } finally {
      if (mark !== undefined) ops.release?.(mark);
    }
  }

  /**
   * ||t||^2 as the trace of the Gram matrix of t viewed as [m, n / m] (one GEMM): the op vocabulary has no
   * reduction, and downloading a full-size activation (265 MB) per candidate would cost more than the forward
   * it measures.
   */
  squaredNorm(t: T): number {
    const n = t.shape.reduce((a, b) => a * b, 1);
    const expected = this.shape[0] * this.shape[1] * this.shape[2];
    if (n !== expected)
      throw new RangeError(`DeviceDistance: ${n} values, built for [${this.shape.join(', ')}]`);
    const m = this.rows;
    const rows = this.ops.reshape(t, [m, n / m]);
    const gram = this.ops.download(this.ops.linear(rows, rows, this.zeroBias));
    let sum = 0;
    for (let i = 0; i < m; i++) sum += gram[i * m + i]!;
    return sum;
  }
}

/** Relative L2 of host outputs (the noise prediction), the metric of SPEC §4. */
export const outputError = relativeError;
