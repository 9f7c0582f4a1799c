/**
 * The graph's ops for one rank layout: the backend's ops run rank by rank (sharded.ts), CFG-parallel splitting
 * the guidance batch over rank groups (cfg-parallel.ts) and Ulysses splitting the tokens within a group
 * (ulysses.ts). With one rank this is the backend's ops with one part per tensor.
 */
import type { ModelOps, OpTensor, TokenGrid } from '../model-ops.js';
import { cfgParallelOps } from './cfg-parallel.js';
import type { RankLayout } from './layout.js';
import { type ShardBackend, type Sharded, shardedOps } from './sharded.js';
import { ulyssesOps } from './ulysses.js';

/** The decorated ops of `layout` over `base`, for a video of `grid` tokens. */
export function parallelOps<T extends OpTensor>(
  base: ModelOps<T>,
  shards: ShardBackend<T>,
  layout: RankLayout,
  grid: TokenGrid,
): ModelOps<Sharded<T>> {
  const ctx = { layout, base, shards, grid };
  return ulyssesOps(cfgParallelOps(shardedOps(base, layout), ctx), ctx);
}
