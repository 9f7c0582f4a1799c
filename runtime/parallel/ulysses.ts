/**
 * Ulysses sequence parallelism as a decorator over the graph's ops (SPEC §1.4). Between attentions each rank
 * of a group holds a contiguous, frame-aligned slice of the video tokens (layout.ts); everything per token runs
 * on the slice (norms, projections, FFN, cross-attention to the replicated text), RoPE with each token's global
 * frame. Self-attention is wrapped in two all-to-alls: Q, K and V go from (all heads, the rank's tokens) to
 * (the rank's H / U heads, all tokens) in one packed exchange, attention runs with the unchanged compiled plan
 * (a per-head plan cut to the rank's global heads, whose work may then differ between ranks; a plan shared by
 * every head keeps them balanced), and the output comes back to (all heads,
 * the rank's tokens). The patch outputs are gathered before unpatchify, so every rank ends with the whole
 * output.
 */
import { TensorError } from '../../core/tensor.js';
import { headsOfSpec } from '../head-specs.js';
import type { ModelOps, OpTensor, TokenGrid } from '../model-ops.js';
import { frameSlices, rankAt, rankPosition } from './layout.js';
import { dims3, type ParallelContext, type Sharded, sharded, sliceBlock, TransferList } from './sharded.js';

/** A position's frames and tokens: frames [first, first + frames), tokens [offset, offset + count). */
export interface TokenSlice {
  readonly first: number;
  readonly frames: number;
  readonly offset: number;
  readonly count: number;
}

/** The token slice of every position of a group of `sp` ranks over `grid`. */
export function tokenSlices(grid: TokenGrid, sp: number): TokenSlice[] {
  const perFrame = grid.height * grid.width;
  return frameSlices(grid.frames, sp).map((s) => ({
    first: s.first,
    frames: s.count,
    offset: s.first * perFrame,
    count: s.count * perFrame,
  }));
}

function sameGrid(a: TokenGrid, b: TokenGrid): boolean {
  return a.frames === b.frames && a.height === b.height && a.width === b.width;
}

/** `ops` with the tokens of `ctx.grid` split over the `sp` ranks of each group. Identity when sp is 1. */
export function ulyssesOps<T extends OpTensor>(
  ops: ModelOps<Sharded<T>>,
  ctx: ParallelContext<T>,
): ModelOps<Sharded<T>> {
  const { layout, base, shards, grid } = ctx;
  const U = layout.sp;
  if (U === 1) return ops;
  const slices = tokenSlices(grid, U);
  const N = grid.frames * grid.height * grid.width;
  const rankOf = (i: number) => layout.local[i]!;
  const positionOf = (i: number) => rankPosition(layout, rankOf(i)).position;
  /** The ranks of part i's group, by position. */
  const groupRanks = (i: number) => {
    const { group } = rankPosition(layout, rankOf(i));
    return slices.map((_, s) => rankAt(layout, group, s));
  };
  const checkGrid = (what: string, g: TokenGrid) => {
    if (!sameGrid(g, grid))
      throw new TensorError(
        what,
        `the parallel ops were built for a ${grid.frames} x ${grid.height} x ${grid.width} token grid, got ${g.frames} x ${g.height} x ${g.width}`,
      );
  };
  const checkSlice = (what: string, i: number, n: number) => {
    const want = slices[positionOf(i)]!.count;
    if (n !== want)
      throw new TensorError(what, `rank ${rankOf(i)} holds ${n} tokens; its frame slice has ${want}`);
  };

  /** Gather the group's token slices [B, n_u, W] into the whole [B, N, W] on every rank of the group. */
  const gatherTokens = (y: Sharded<T>): Sharded<T> => {
    const transfers = new TransferList<T>();
    const received = y.parts.map((part, i) => {
      const [B, n, W] = dims3('patch outputs', part);
      checkSlice('patch outputs', i, n);
      const recvs = slices.map((s) => shards.empty([B, s.count, W], 'gathered tokens'));
      groupRanks(i).forEach((peer, s) => {
        transfers.send(rankOf(i), peer, part);
        transfers.recv(peer, rankOf(i), recvs[s]!);
      });
      return { B, W, recvs };
    });
    shards.exchange(transfers.list(), 'token gather before unpatchify');
    const parts = received.map(({ B, W, recvs }) => {
      const whole = shards.empty([B, N, W], 'gathered patch outputs');
      recvs.forEach((r, s) => {
        shards.copy(whole, [0, slices[s]!.offset, 0], r, [0, 0, 0], [B, slices[s]!.count, W]);
      });
      return whole;
    });
    // With one group the group's batch is the whole batch; with CFG-parallel each group holds its row.
    return sharded(parts, layout.cfg === 1);
  };

  return {
    ...ops,
    name: `${ops.name}, Ulysses ${U}`,
    patchify(x, patch) {
      const y = ops.patchify(x, patch);
      const parts = y.parts.map((part, i) => {
        const [B, n, C] = dims3('patches', part);
        if (n !== N)
          throw new TensorError('latents', `give ${n} tokens; the parallel ops were built for ${N}`);
        const s = slices[positionOf(i)]!;
        return sliceBlock(shards, part, [0, s.offset, 0], [B, s.count, C], 'token slice');
      });
      return sharded(parts, false);
    },
    rope3d(x, heads, g, rope, firstFrame = 0) {
      checkGrid('rope input', g);
      const parts = x.parts.map((part, i) => {
        const s = slices[positionOf(i)]!;
        const local = { frames: s.frames, height: g.height, width: g.width };
        return base.rope3d(part, heads, local, rope, firstFrame + s.first);
      });
      return sharded(parts, false);
    },
    selfAttention(q, k, v, heads, spec) {
      if (heads % U !== 0)
        throw new TensorError(
          'self-attention',
          `${heads} heads cannot be split over ${U} ranks (the Ulysses degree must divide the head count)`,
        );
      const Hg = heads / U;
      const [, , D] = dims3('q', q.parts[0]!);
      const cols = (D / heads) * Hg;
      const batch = q.parts.map((qp, i) => {
        const [B, n] = dims3('q', qp);
        checkSlice('q', i, n);
        return B;
      });
      // Scratch goes back to the pool between the phases (on CUDA later launches queue behind the reads).
      const mark = base.mark?.();
      const keepOnly = (keep: readonly T[]) => {
        if (mark !== undefined) base.release?.(mark, keep);
      };

      // All-to-all 1, Q, K and V packed: rank u sends peer s its tokens of s's heads as one [3B, n_u, cols].
      const toHeads = new TransferList<T>();
      const arriving = q.parts.map((qp, i) => {
        const B = batch[i]!;
        const n = slices[positionOf(i)]!.count;
        const me = rankOf(i);
        groupRanks(i).forEach((peer, s) => {
          const packed = shards.empty([3 * B, n, cols], 'q, k, v to heads');
          shards.copy(packed, [0, 0, 0], qp, [0, 0, s * cols], [B, n, cols]);
          shards.copy(packed, [B, 0, 0], k.parts[i]!, [0, 0, s * cols], [B, n, cols]);
          shards.copy(packed, [2 * B, 0, 0], v.parts[i]!, [0, 0, s * cols], [B, n, cols]);
          toHeads.send(me, peer, packed);
        });
        return groupRanks(i).map((peer, s) => {
          const r = shards.empty([3 * B, slices[s]!.count, cols], 'q, k, v of the head group');
          toHeads.recv(peer, me, r);
          return r;
        });
      });
      shards.exchange(toHeads.list(), 'all-to-all of q, k, v to head groups');
      const heads3 = arriving.map((recvs, i) => {
        const B = batch[i]!;
        return [0, 1, 2].map((which) => {
          const t = shards.empty([B, N, cols], 'head group');
          recvs.forEach((r, s) => {
            shards.copy(t, [0, slices[s]!.offset, 0], r, [which * B, 0, 0], [B, slices[s]!.count, cols]);
          });
          return t;
        }) as [T, T, T];
      });
      keepOnly(heads3.flat());

      // Attention of the head group over all tokens, with the layer's plan as it is.
      // A per-head spec is cut to the rank's global heads (position s in its group holds heads s * Hg ...).
      const attended = heads3.map(([hq, hk, hv], i) =>
        base.selfAttention(hq, hk, hv, Hg, headsOfSpec(spec, positionOf(i) * Hg, Hg)),
      );
      keepOnly(attended);

      // All-to-all 2: rank u sends peer s the rows of s's tokens; each rank puts the head groups side by side.
      const toTokens = new TransferList<T>();
      const back = attended.map((o, i) => {
        const B = batch[i]!;
        const me = rankOf(i);
        const n = slices[positionOf(i)]!.count;
        groupRanks(i).forEach((peer, s) => {
          const sl = slices[s]!;
          const rows = sliceBlock(shards, o, [0, sl.offset, 0], [B, sl.count, cols], 'attention to tokens');
          toTokens.send(me, peer, rows);
        });
        return groupRanks(i).map((peer) => {
          const r = shards.empty([B, n, cols], 'attention of a head group');
          toTokens.recv(peer, me, r);
          return r;
        });
      });
      shards.exchange(toTokens.list(), 'all-to-all of the attention output to token slices');
      const parts = back.map((recvs, i) => {
        const B = batch[i]!;
        const n = slices[positionOf(i)]!.count;
        const out = shards.empty([B, n, D], 'attention out');
        recvs.forEach((r, s) => {
          shards.copy(out, [0, 0, s * cols], r, [0, 0, 0], [B, n, cols]);
        });
        return out;
      });
      keepOnly(parts);
      return sharded(parts, false);
    },
    unpatchify(y, g, patch, channels) {
      checkGrid('patch outputs', g);
      return ops.unpatchify(gatherTokens(y), g, patch, channels);
    },
  };
}
