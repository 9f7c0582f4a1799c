/**
 * The order in which an attention launch's CTAs take their work: which (batch * head, query block) the CTA of
 * `blockIdx.x` runs. Both kernel families use it.
 *
 * A sparse mask's query blocks differ in work: with the Attention Tile masks, the rows of a global frame visit
 * every key block and the others a few frames' worth (1:7 at 8 frames: 225 against about 60). Walking head
 * after head, heaviest block first within a head, still starts the last head's heavy CTAs near the end of
 * the grid, and the GPU idles behind them (measured on the H100: 14% of the SMs' time at 1:7, 8 frames).
 * So the heavy blocks of head h + d are moved in front of the light blocks of head h (d = 1, 2 or 3, the
 * lookahead):
 *
 *   heavy(0) ... heavy(d-1) | heavy(d) light(0) | heavy(d+1) light(1) | ... | light(n-d) ... light(n-1)
 *
 * The longest CTAs start early and the light ones fill the end, like a longest-first list schedule, while at
 * most d + 1 heads' keys and values are being read at a time, so they stay in L2.
 */
import { type BlockPlan, queryBlockWork } from '../../compiler/plan/plan.js';

/**
 * How many leading entries of `plan.schedule` are heavy: their work is over the midpoint of the lightest and
 * the heaviest query block's. Zero when every query block has the same work (dense masks keep the
 * head-by-head order).
 */
export function heavyQueryBlocks(plan: BlockPlan): number {
  if (plan.numQBlocks === 0) return 0;
  const most = queryBlockWork(plan, plan.schedule[0]!);
  const least = queryBlockWork(plan, plan.schedule[plan.numQBlocks - 1]!);
  let heavy = 0;
  while (heavy < plan.numQBlocks && 2 * queryBlockWork(plan, plan.schedule[heavy]!) > most + least) heavy++;
  return heavy;
}

/** The launch's CTA order: the heavy schedule entries, and how many units ahead of the light ones they run. */
export interface CtaOrder {
  readonly heavyBlocks: number;
  readonly lookahead: number;
}

/**
 * The CTA order of `plan` on a GPU of `multiprocessors` SMs. The lookahead is enough that the light blocks left
 * after the last unit's heavy ones start keep every SM busy until those finish (the light work of `lookahead`
 * units at least the heaviest block's work on each SM), and at most 3, so at most 4 units' keys and values are
 * read at a time; 1 when there is nothing to balance.
 */
export function ctaOrder(plan: BlockPlan, multiprocessors: number): CtaOrder {
  const heavyBlocks = heavyQueryBlocks(plan);
  if (heavyBlocks === 0 || heavyBlocks === plan.numQBlocks) return { heavyBlocks, lookahead: 1 };
  let light = 0;
  for (let i = heavyBlocks; i < plan.numQBlocks; i++) light += queryBlockWork(plan, plan.schedule[i]!);
  const most = queryBlockWork(plan, plan.schedule[0]!);
  const lookahead = Math.min(
    MAX_LOOKAHEAD,
    Math.max(1, Math.ceil((multiprocessors * most) / Math.max(1, light))),
  );
  return { heavyBlocks, lookahead };
}

const MAX_LOOKAHEAD = 3;

/**
 * The host-side twin of the device helper `tp_cta_work`: the (unit, schedule position) CTA `cta` runs, where
 * a unit is one (batch, head) pair, `blocks` query blocks make a unit and the first `heavy` schedule entries
 * are heavy: heavy(0..d-1) | heavy(d) light(0) | heavy(d+1) light(1) | ... | light(units-1) for lookahead d.
 * Tests check both against each other (`tp_cta_work` is in codegen/cuda/kernels/tessera/tessera.cuh).
 */
export function ctaWork(
  cta: number,
  blocks: number,
  heavy: number,
  units: number,
  lookahead: number,
): { unit: number; pos: number } {
  const d = Math.min(lookahead, units);
  if (cta < d * heavy) return { unit: Math.floor(cta / heavy), pos: cta % heavy };
  const rest = cta - d * heavy;
  const mixed = (units - d) * blocks;
  if (rest < mixed) {
    const chunk = Math.floor(rest / blocks);
    const r = rest - chunk * blocks;
    return r < heavy ? { unit: chunk + d, pos: r } : { unit: chunk, pos: r };
  }
  const light = blocks - heavy;
  const tail = rest - mixed;
  const c = Math.floor(tail / light);
  return { unit: units - d + c, pos: heavy + (tail - c * light) };
}
