/**
 * CFG-parallel as a decorator over the graph's ops: with classifier-free guidance the step's batch is the
 * unconditional and the conditional row (models/samplers/guidance.ts), and with two rank groups each group runs
 * one row. The row is chosen where per-sample data meets the video stream: the patch embedding (latents), the
 * timestep features (so the modulation is the row's), and cross-attention (the row's text keys and padding
 * mask; the caption projection runs on both rows, 2 x L tokens, which is negligible). The patch outputs of the
 * two rows are exchanged before unpatchify, so every rank ends with the whole [2, ...] output.
 */
import { TensorError } from '../../core/tensor.js';
import type { ModelOps, OpTensor } from '../model-ops.js';
import { rankAt, rankPosition } from './layout.js';
import { dims3, type ParallelContext, type Sharded, sharded, sliceBlock, TransferList } from './sharded.js';

/** `ops` with batch row g on rank group g. Identity without CFG-parallel. */
export function cfgParallelOps<T extends OpTensor>(
  ops: ModelOps<Sharded<T>>,
  ctx: ParallelContext<T>,
): ModelOps<Sharded<T>> {
  const { layout, base, shards } = ctx;
  const G = layout.cfg;
  if (G === 1) return ops;
  const rankOf = (i: number) => layout.local[i]!;
  const groupOf = (i: number) => rankPosition(layout, rankOf(i)).group;
  const rows = (what: string, b: number) => {
    if (b !== G)
      throw new TensorError(
        what,
        `CFG-parallel runs the ${G} rows of guidance (unconditional, conditional) on ${G} rank groups; got a batch of ${b}`,
      );
  };
  /** Row g of a whole [G, N, W] tensor, once per distinct (tensor, group). */
  const row = (t: Sharded<T>, what: string): Sharded<T> => {
    const cache = new Map<string, T>();
    const parts = t.parts.map((p, i) => {
      const [B, n, W] = dims3(what, p);
      rows(what, B);
      const g = groupOf(i);
      const key = `${t.parts.indexOf(p)}/${g}`;
      const cached = cache.get(key);
      if (cached) return cached;
      const r = sliceBlock(shards, p, [g, 0, 0], [1, n, W], `${what} row`);
      cache.set(key, r);
      return r;
    });
    return sharded(parts, false);
  };

  return {
    ...ops,
    name: `${ops.name}, CFG-parallel`,
    timestepFeatures(timesteps, channels) {
      rows('timesteps', timesteps.length);
      const byGroup = new Map<number, T>();
      const parts = layout.local.map((_, i) => {
        const g = groupOf(i);
        const cached = byGroup.get(g);
        if (cached) return cached;
        const t = base.timestepFeatures(timesteps.subarray(g, g + 1), channels);
        byGroup.set(g, t);
        return t;
      });
      return sharded(parts, false);
    },
    patchify(x, patch) {
      return row(ops.patchify(x, patch), 'patches');
    },
    crossAttention(q, k, v, heads, keyMask) {
      // The text is replicated (both rows on every rank); take this group's row of keys, values and mask.
      const [B, L] = dims3('k', k.parts[0]!);
      if (!k.whole) return ops.crossAttention(q, k, v, heads, keyMask);
      rows('text', B);
      const kr = row(k, 'text keys');
      const vr = row(v, 'text values');
      const parts = q.parts.map((qp, i) => {
        const g = groupOf(i);
        const mask = keyMask.subarray(g * L, (g + 1) * L);
        return base.crossAttention(qp, kr.parts[i]!, vr.parts[i]!, heads, mask);
      });
      return sharded(parts, false);
    },
    unpatchify(y, grid, patch, channels) {
      // Every rank sends its row to the rank at its position in the other group; both then hold [G, N, W].
      const transfers = new TransferList<T>();
      const received = y.parts.map((part, i) => {
        const [b, n, W] = dims3('patch outputs', part);
        rows('patch outputs', b * G);
        const me = rankOf(i);
        const { position } = rankPosition(layout, me);
        const recvs = Array.from({ length: G }, (_, g) => {
          const peer = rankAt(layout, g, position);
          transfers.send(me, peer, part);
          const r = shards.empty([1, n, W], 'patch outputs of a row');
          transfers.recv(peer, me, r);
          return r;
        });
        return { n, W, recvs };
      });
      shards.exchange(transfers.list(), 'row gather before unpatchify');
      const parts = received.map(({ n, W, recvs }) => {
        const whole = shards.empty([G, n, W], 'patch outputs of both rows');
        recvs.forEach((r, g) => {
          shards.copy(whole, [g, 0, 0], r, [0, 0, 0], [1, n, W]);
        });
        return whole;
      });
      return ops.unpatchify(sharded(parts, true), grid, patch, channels);
    },
  };
}
