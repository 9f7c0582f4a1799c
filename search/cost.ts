/**
 * What a searched plan is predicted to save, the way the paper's Table 2 reports it: the attention work of the
 * computed blocks against dense attention in every layer, and the whole step, where the rest of each block
 * (projections, cross-attention, FFN) costs the same whatever the mask. Predictions from FLOP counts, not
 * measurements (bench/RESULTS.md has those).
 */
import type { OpenSoraConfig } from '../models/open-sora-plan/config.js';
import type { TokenGrid } from '../runtime/model-ops.js';
import type { SearchCandidate } from './candidates.js';

/** FLOPs of one block for one batch element: self-attention at full attention, and everything else. */
export function blockFlops(
  config: OpenSoraConfig,
  grid: TokenGrid,
  textTokens: number,
): { attention: number; rest: number } {
  const n = grid.frames * grid.height * grid.width;
  const d = config.heads * config.headDim;
  const l = textTokens;
  const attention = 4 * n * n * d; // Q K^T and P V
  const projections = 2 * n * d * d * 4 + 2 * n * d * d * 2 + 2 * l * d * d * 2; // self q k v o; cross q o; cross k v
  const cross = 4 * n * l * d;
  const ffn = 2 * 2 * n * d * config.ffnDim;
  return { attention, rest: projections + cross + ffn };
}

/** A plan's predicted savings. */
export interface PlanPrediction {
  /** Layers per candidate name. */
  readonly layers: Readonly<Record<string, number>>;
  /** Mean over layers of the skipped share of block pairs. */
  readonly meanSparsity: number;
  /** Dense attention work over the computed blocks' work, all layers. */
  readonly attentionSpeedup: number;
  /** Full step FLOPs over the plan's (attention scaled by computed pairs, the rest unchanged). */
  readonly stepSpeedup: number;
}

/** The prediction for one candidate per layer. */
export function predictPlan(
  choices: readonly number[],
  candidates: readonly SearchCandidate[],
  config: OpenSoraConfig,
  grid: TokenGrid,
  textTokens: number,
): PlanPrediction {
  const layers: Record<string, number> = Object.fromEntries(candidates.map((c) => [c.name, 0]));
  const flops = blockFlops(config, grid, textTokens);
  const real = grid.frames * grid.height * grid.width;
  let computed = 0;
  let sparsity = 0;
  let step = 0;
  for (const choice of choices) {
    const c = candidates[choice]!;
    layers[c.name]! += 1;
    const pairs = c.dense ? real * real : c.computedPairs;
    computed += pairs;
    sparsity += c.dense ? 0 : c.sparsity;
    step += flops.attention * (pairs / (real * real)) + flops.rest;
  }
  const dense = choices.length * real * real;
  return {
    layers,
    meanSparsity: sparsity / choices.length,
    attentionSpeedup: dense / computed,
    stepSpeedup: (choices.length * (flops.attention + flops.rest)) / step,
  };
}
