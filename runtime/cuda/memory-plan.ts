/**
 * Static memory planning for a repeated forward pass: given the allocations of one traced pass (sizes and
 * lifetimes in events), give each a byte offset in one slab so that allocations live at the same time never
 * share a byte. The heuristic is "greedy by size" with best fit (Pisarchyk and Lee, *Efficient Memory
 * Management for Deep Neural Net Inference*, 2020): the largest allocations are placed first, each into the
 * smallest gap left between the already placed allocations it overlaps in time, or above them all.
 * Pure: no device here; {@link DeviceArena} applies the plan.
 */
import { UserError } from '../../core/errors.js';

/** Offsets and sizes in a plan are multiples of this (cuBLASLt and the kernels want 16; 256 keeps rows aligned). */
export const PLAN_ALIGNMENT = 256;

/** One allocation of a traced pass. */
export interface TracedAllocation {
  /** Bytes requested. */
  readonly bytes: number;
  /** The event at which it is allocated. */
  readonly alloc: number;
  /** The event at which it is released, after `alloc`; null: live to the end of the pass. */
  readonly free: number | null;
  /** What it holds, for messages. */
  readonly name?: string;
}

/** A pass's allocations in the order they were made, and how many events the pass had. */
export interface AllocationTrace {
  readonly allocations: readonly TracedAllocation[];
  /** Events of the pass (each allocation and each release is one); every lifetime lies in [0, events]. */
  readonly events: number;
}

/** Where each allocation of a trace lives in one slab. */
export interface MemoryPlan {
  /** Byte offset of allocation i in the slab (a multiple of the alignment). */
  readonly offsets: readonly number[];
  /** Bytes reserved for allocation i: its size rounded up to the alignment. */
  readonly sizes: readonly number[];
  /** The slab's size: the highest end of any allocation. */
  readonly slabBytes: number;
  /** Most bytes (aligned) live at one time: no plan can use a smaller slab. */
  readonly lowerBound: number;
  readonly alignment: number;
}

/** A trace or plan that cannot be used (bad lifetimes, or a pass that does not follow its plan). */
export class MemoryPlanError extends UserError {
  constructor(message: string) {
    super(message);
  }
}

/** The event after which allocation `a` is dead. */
function end(a: TracedAllocation, events: number): number {
  return a.free ?? events;
}

/** Whether two allocations of a trace are live at some common event (lifetimes are [alloc, free)). */
export function liveTogether(a: TracedAllocation, b: TracedAllocation, events: number): boolean {
  return a.alloc < end(b, events) && b.alloc < end(a, events);
}

function label(a: TracedAllocation, i: number): string {
  return `allocation #${i}${a.name ? ` '${a.name}'` : ''}`;
}

/** Throws {@link MemoryPlanError} naming the first allocation with a bad size or lifetime. */
export function checkTrace(trace: AllocationTrace): void {
  if (!Number.isSafeInteger(trace.events) || trace.events < 0)
    throw new MemoryPlanError(`a trace needs a non-negative integer event count, got ${trace.events}`);
  trace.allocations.forEach((a, i) => {
    if (!Number.isSafeInteger(a.bytes) || a.bytes < 0)
      throw new MemoryPlanError(`${label(a, i)}: size ${a.bytes} is not a non-negative integer`);
    if (!Number.isSafeInteger(a.alloc) || a.alloc < 0 || a.alloc > trace.events)
      throw new MemoryPlanError(
        `${label(a, i)}: allocated at event ${a.alloc}, outside [0, ${trace.events}]`,
      );
    if (a.free !== null && (!Number.isSafeInteger(a.free) || a.free <= a.alloc || a.free > trace.events))
      throw new MemoryPlanError(
        `${label(a, i)}: released at event ${a.free}, which must lie in (${a.alloc}, ${trace.events}]`,
      );
  });
}

const alignUp = (bytes: number, alignment: number) => Math.ceil(bytes / alignment) * alignment;

/** Most aligned bytes live at one event of the trace. */
export function peakLiveBytes(trace: AllocationTrace, alignment = PLAN_ALIGNMENT): number {
  // +size at alloc, -size at free; at equal events frees come first (a release and a later allocation may share).
  const deltas: [number, number][] = [];
  for (const a of trace.allocations) {
    const size = alignUp(a.bytes, alignment);
    deltas.push([a.alloc, size]);
    if (a.free !== null) deltas.push([a.free, -size]);
  }
  deltas.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  let live = 0;
  let peak = 0;
  for (const [, d] of deltas) {
    live += d;
    peak = Math.max(peak, live);
  }
  return peak;
}

/**
 * Offsets for every allocation of `trace` in one slab: live-together allocations never overlap, every offset is a
 * multiple of `alignment`, and the result depends on the trace alone (ties broken by position).
 */
export function planMemory(trace: AllocationTrace, alignment = PLAN_ALIGNMENT): MemoryPlan {
  checkTrace(trace);
  if (!Number.isSafeInteger(alignment) || alignment < 1)
    throw new MemoryPlanError(`alignment must be a positive integer, got ${alignment}`);
  const { allocations, events } = trace;
  const sizes = allocations.map((a) => alignUp(a.bytes, alignment));
  // Largest first; among equal sizes the longer-lived, then the earlier one.
  const order = allocations
    .map((_, i) => i)
    .sort(
      (i, j) =>
        sizes[j]! - sizes[i]! ||
        end(allocations[j]!, events) -
          allocations[j]!.alloc -
          (end(allocations[i]!, events) - allocations[i]!.alloc) ||
        i - j,
    );
  const offsets = new Array<number>(allocations.length).fill(0);
  const placed: number[] = [];
  let slabBytes = 0;
  for (const i of order) {
    const size = sizes[i]!;
    // The placed allocations live together with this one, lowest first.
    const overlapping = placed
      .filter((j) => liveTogether(allocations[i]!, allocations[j]!, events))
      .sort((x, y) => offsets[x]! - offsets[y]! || x - y);
    let top = 0;
    let best: number | null = null;
    let bestGap = Infinity;
    for (const j of overlapping) {
      const gap = offsets[j]! - top;
      if (gap >= size && gap < bestGap) {
        best = top;
        bestGap = gap;
      }
      top = Math.max(top, offsets[j]! + sizes[j]!);
    }
    offsets[i] = best ?? top;
    placed.push(i);
    slabBytes = Math.max(slabBytes, offsets[i]! + size);
  }
  return { offsets, sizes, slabBytes, lowerBound: peakLiveBytes(trace, alignment), alignment };
}
