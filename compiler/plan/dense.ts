/**
 * Dense attention as a block plan built in code: no pattern file, no parse. The runtime uses it for layers that
 * attend to every token; it is the plan `patterns/full.tile` compiles to on a single row of `n` tokens, so the
 * kernels and their cache keys are the same either way.
 */
import type { PatternInstance } from '../ir.js';
import { makeLayout } from '../layout.js';
import { buildPlan } from './build.js';
import type { BlockPlan } from './plan.js';

/** The `full` pattern over `n` tokens laid out as one frame of one row (t = 1, h = 1, w = n). */
export function densePattern(n: number): PatternInstance {
  if (!Number.isSafeInteger(n) || n < 1)
    throw new RangeError(`dense attention needs a positive token count, got ${n}`);
  return {
    key: `full_t1x1x${n}`,
    name: 'full',
    params: {},
    layout: makeLayout({
      name: 'video',
      videoAxes: ['t', 'h', 'w'],
      videoSizes: [1, 1, n],
      tile: null,
      unitPad: 1,
      text: null,
    }),
    predicate: { op: 'bool', value: true },
  };
}

/** Every block pair full: dense attention over `n` tokens at blocks of `blockQ` x `blockK`. */
export function denseBlockPlan(n: number, blockQ: number, blockK: number): BlockPlan {
  return buildPlan(densePattern(n), blockQ, blockK);
}
