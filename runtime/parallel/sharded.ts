/**
 * The tensors of a parallel step and the ops that run them rank by rank. A {@link Sharded} tensor holds one
 * backend tensor per rank this process drives (one for a process per rank, all of them for logical ranks);
 * {@link shardedOps} runs every op of the graph on each part and is the base the parallel decorators
 * (cfg-parallel.ts, ulysses.ts) wrap. What a decorator needs of the backend beyond its ops is a
 * {@link ShardBackend}: new [B, N, W] tensors, block copies between them, and the exchange of tensors between
 * ranks (NCCL, the host communicator, or device copies between logical ranks).
 */
import { TensorError } from '../../core/tensor.js';
import type { ModelOps, OpTensor, TokenGrid } from '../model-ops.js';
import type { RankLayout } from './layout.js';

/**
 * A tensor of a parallel step: `parts[i]` belongs to rank `layout.local[i]`. Replicated values (weights,
 * uploads) share one backend tensor between parts. `whole`: every part holds the entire logical tensor (weights,
 * uploads, gathered outputs); otherwise each holds its rank's share (a token slice, a batch row).
 */
export interface Sharded<T extends OpTensor> extends OpTensor {
  readonly parts: readonly T[];
  readonly whole: boolean;
}

/** [batch, row, column] of a [B, N, W] tensor. */
export type Index3 = readonly [number, number, number];

/**
 * One transfer of an exchange. `send` is given where `from` is a rank of this process, `recv` where `to` is; the
 * two have the same shape. Between logical ranks both are given and the transfer is a copy.
 */
export interface Transfer<T extends OpTensor> {
  readonly from: number;
  readonly to: number;
  readonly send?: T;
  readonly recv?: T;
}

/** What the parallel decorators need of a backend besides its ops. */
export interface ShardBackend<T extends OpTensor> {
  /** A new [B, N, W] activation tensor (contents undefined until written). */
  empty(shape: Index3, name: string): T;
  /** Copy the `size` block of `src` at `srcAt` into `dst` at `dstAt` (both [B, N, W]). */
  copy(dst: T, dstAt: Index3, src: T, srcAt: Index3, size: Index3): void;
  /**
   * Every transfer of one exchange, posted together (one NCCL group on the model's stream; messages through the
   * host communicator; copies between logical ranks). Later ops may read the received tensors. `what` names
   * the exchange in errors.
   */
  exchange(transfers: readonly Transfer<T>[], what: string): void;
}

/**
 * Everything a decorator works with: the layout, the backend's ops and its shard operations, and the token grid
 * of the video (a parallel step is built for one latent shape, like the model).
 */
export interface ParallelContext<T extends OpTensor> {
  readonly layout: RankLayout;
  readonly base: ModelOps<T>;
  readonly shards: ShardBackend<T>;
  readonly grid: TokenGrid;
}

/** Collects the transfers of one exchange, one entry per (from, to) pair. */
export class TransferList<T extends OpTensor> {
  private readonly byPair = new Map<string, { from: number; to: number; send?: T; recv?: T }>();

  /** `from` sends `t` to `to` (from is a rank of this process). */
  send(from: number, to: number, t: T): void {
    this.entry(from, to).send = t;
  }

  /** `to` receives into `t` from `from` (to is a rank of this process). */
  recv(from: number, to: number, t: T): void {
    this.entry(from, to).recv = t;
  }

  /** The transfers, in the order they were first named (the same on every rank). */
  list(): Transfer<T>[] {
    return [...this.byPair.values()];
  }

  private entry(from: number, to: number) {
    const key = `${from}>${to}`;
    const known = this.byPair.get(key);
    if (known) return known;
    const e: { from: number; to: number; send?: T; recv?: T } = { from, to };
    this.byPair.set(key, e);
    return e;
  }
}

/** A sharded tensor from its parts. */
export function sharded<T extends OpTensor>(parts: readonly T[], whole: boolean): Sharded<T> {
  return { parts, whole, shape: parts[0]?.shape ?? [] };
}

/** `t` on each of `count` local ranks (a replicated value: weights, inputs). */
export function replicated<T extends OpTensor>(t: T, count: number): Sharded<T> {
  return sharded(
    Array.from({ length: count }, () => t),
    true,
  );
}

/** The 3-D shape of a [B, N, W] tensor, checked. */
export function dims3(name: string, t: OpTensor): [number, number, number] {
  if (t.shape.length !== 3) throw new TensorError(name, `expected [B, N, W], got [${t.shape.join(', ')}]`);
  return t.shape as [number, number, number];
}

/**
 * `f` on each rank's parts; ranks whose inputs are the same tensors share one result (replicated work, such as
 * the caption projection, runs once per process, not once per logical rank).
 */
function mapParts<T extends OpTensor>(
  count: number,
  args: readonly Sharded<T>[],
  f: (...parts: T[]) => T,
): Sharded<T> {
  const parts: T[] = [];
  for (let i = 0; i < count; i++) {
    const ins = args.map((a) => a.parts[i]!);
    let same = -1;
    for (let j = 0; j < i && same < 0; j++) if (args.every((a, k) => a.parts[j] === ins[k])) same = j;
    parts.push(same >= 0 ? parts[same]! : f(...ins));
  }
  return sharded(
    parts,
    args.every((a) => a.whole),
  );
}

/**
 * The graph's ops on every rank of `layout.local` with no parallel semantics: each part computes what the
 * unsharded graph would on its inputs. The decorators override the ops that split or gather.
 */
export function shardedOps<T extends OpTensor>(base: ModelOps<T>, layout: RankLayout): ModelOps<Sharded<T>> {
  const n = layout.local.length;
  const map = (args: readonly Sharded<T>[], f: (...parts: T[]) => T) => mapParts(n, args, f);
  const replicate = (t: T) =>
    sharded(
      Array.from({ length: n }, () => t),
      true,
    );
  return {
    name: layout.world > 1 ? `${base.name}, ${layout.world} ranks` : base.name,
    precision: base.precision,
    upload: (data, shape) => replicate(base.upload(data, shape)),
    ...(base.mark && base.release
      ? {
          mark: () => base.mark!(),
          release: (mark: number, keep?: readonly Sharded<T>[]) =>
            base.release!(
              mark,
              (keep ?? []).flatMap((k) => k.parts),
            ),
        }
      : {}),
    ...(base.settle ? { settle: () => base.settle!() } : {}),
    download(t) {
      if (!t.whole)
        throw new TensorError(
          'download',
          `a sharded tensor [${t.shape.join(', ')}] holds one rank's share; gather it first`,
        );
      return base.download(t.parts[0]!);
    },
    reshape(t, shape) {
      if (!t.whole)
        throw new TensorError('reshape', `a sharded tensor [${t.shape.join(', ')}] cannot be reshaped`);
      return map([t], (p) => base.reshape(p, shape));
    },
    linear: (x, w, b) => map([x, w, b], (xp, wp, bp) => base.linear(xp, wp, bp)),
    layerNorm: (x, eps) => map([x], (p) => base.layerNorm(p, eps)),
    modulate: (x, mod, s, c) => map([x, mod], (xp, mp) => base.modulate(xp, mp, s, c)),
    layerNormModulate: (x, eps, mod, s, c) =>
      map([x, mod], (xp, mp) => base.layerNormModulate(xp, eps, mp, s, c)),
    gatedAdd: (x, y, mod, g) => map([x, y, mod], (xp, yp, mp) => base.gatedAdd(xp, yp, mp, g)),
    add: (x, y) => map([x, y], (xp, yp) => base.add(xp, yp)),
    geluTanh: (x) => map([x], (p) => base.geluTanh(p)),
    silu: (x) => map([x], (p) => base.silu(p)),
    modulationRows: (table, emb) => map([table, emb], (tp, ep) => base.modulationRows(tp, ep)),
    timestepFeatures: (timesteps, channels) => replicate(base.timestepFeatures(timesteps, channels)),
    patchify: (x, patch) => map([x], (p) => base.patchify(p, patch)),
    unpatchify: (y, grid, patch, channels) => map([y], (p) => base.unpatchify(p, grid, patch, channels)),
    rope3d: (x, heads, grid, rope, firstFrame) =>
      map([x], (p) => base.rope3d(p, heads, grid, rope, firstFrame)),
    selfAttention: (q, k, v, heads, spec) =>
      map([q, k, v], (qp, kp, vp) => base.selfAttention(qp, kp, vp, heads, spec)),
    crossAttention: (q, k, v, heads, keyMask) =>
      map([q, k, v], (qp, kp, vp) => base.crossAttention(qp, kp, vp, heads, keyMask)),
  };
}

/**
 * A new tensor holding the `size` block of `src` at `at` (a slice of batch rows, tokens or channels).
 */
export function sliceBlock<T extends OpTensor>(
  shards: ShardBackend<T>,
  src: T,
  at: Index3,
  size: Index3,
  name: string,
): T {
  const out = shards.empty(size, name);
  shards.copy(out, [0, 0, 0], src, at, size);
  return out;
}
