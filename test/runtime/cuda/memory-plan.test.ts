/**
 * The memory planner (runtime/cuda/memory-plan.ts): on random traces, allocations live at the same time
 * never share a byte, offsets are aligned, the slab lies between the most bytes live at once (checked by brute
 * force over every event) and the sum of the sizes, and the plan depends on the trace alone; on hand-made traces
 * whose optimum is known, the planner finds it; bad traces are refused naming the allocation.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AllocationTrace,
  MemoryPlanError,
  PLAN_ALIGNMENT,
  planMemory,
  type TracedAllocation,
} from '../../../runtime/cuda/memory-plan.js';

const runs = Number(process.env.TESSERA_TEST_RUNS ?? 50);

/** Random traces: sizes that are and are not multiples of the alignment (zero too), open lifetimes too. */
const traces: fc.Arbitrary<AllocationTrace> = fc.integer({ min: 1, max: 40 }).chain((events) =>
  fc
    .array(
      fc
        .record({
          bytes: fc.oneof(
            fc.integer({ min: 0, max: 5000 }),
            fc.integer({ min: 1, max: 8 }).map((k) => k * 256),
          ),
          alloc: fc.integer({ min: 0, max: events - 1 }),
          span: fc.option(fc.integer({ min: 1, max: events }), { nil: null }),
        })
        .map(
          ({ bytes, alloc, span }): TracedAllocation => ({
            bytes,
            alloc,
            free: span === null ? null : Math.min(events, alloc + span),
          }),
        ),
      { maxLength: 30 },
    )
    .map((allocations) => ({ allocations, events })),
);

/** The last event of allocation `a`'s lifetime [alloc, free), written independently of the planner. */
const endOf = (a: TracedAllocation, events: number) => (a.free === null ? events + 1 : a.free);

/** Brute force: the most aligned bytes live at any one event. */
function bruteLowerBound(trace: AllocationTrace): number {
  let peak = 0;
  for (let t = 0; t <= trace.events; t++) {
    let live = 0;
    for (const a of trace.allocations)
      if (a.alloc <= t && t < endOf(a, trace.events)) live += Math.ceil(a.bytes / 256) * 256;
    peak = Math.max(peak, live);
  }
  return peak;
}

function expectValid(trace: AllocationTrace): ReturnType<typeof planMemory> {
  const plan = planMemory(trace);
  const { allocations, events } = trace;
  expect(plan.offsets).toHaveLength(allocations.length);
  allocations.forEach((a, i) => {
    const size = plan.sizes[i]!;
    expect(plan.offsets[i]! % PLAN_ALIGNMENT, `offset of #${i}`).toBe(0);
    expect(size % PLAN_ALIGNMENT).toBe(0);
    expect(size).toBeGreaterThanOrEqual(a.bytes);
    expect(size).toBeLessThan(a.bytes + PLAN_ALIGNMENT);
    expect(plan.offsets[i]! + size).toBeLessThanOrEqual(plan.slabBytes);
  });
  for (let i = 0; i < allocations.length; i++)
    for (let j = i + 1; j < allocations.length; j++) {
      const [a, b] = [allocations[i]!, allocations[j]!];
      const together = a.alloc < endOf(b, events) && b.alloc < endOf(a, events);
      if (!together || plan.sizes[i] === 0 || plan.sizes[j] === 0) continue;
      const apart =
        plan.offsets[i]! + plan.sizes[i]! <= plan.offsets[j]! ||
        plan.offsets[j]! + plan.sizes[j]! <= plan.offsets[i]!;
      expect(apart, `#${i} and #${j} are live together and overlap`).toBe(true);
    }
  return plan;
}

describe('planMemory', () => {
  it('never overlaps allocations live together; aligned; lower bound <= slab <= sum of sizes', () => {
    fc.assert(
      fc.property(traces, (trace) => {
        const plan = expectValid(trace);
        expect(plan.lowerBound).toBe(bruteLowerBound(trace));
        expect(plan.slabBytes).toBeGreaterThanOrEqual(plan.lowerBound);
        expect(plan.slabBytes).toBeLessThanOrEqual(plan.sizes.reduce((s, b) => s + b, 0));
      }),
      { numRuns: runs * 4 },
    );
  });

  it('depends on the trace alone', () => {
    fc.assert(
      fc.property(traces, (trace) => {
        expect(planMemory(structuredClone(trace))).toEqual(planMemory(trace));
      }),
      { numRuns: runs },
    );
  });

  it('shares one region among allocations that are never live together', () => {
    // Three allocations one after the other: the slab is the largest, all at offset 0.
    const plan = expectValid({
      allocations: [
        { bytes: 1000, alloc: 0, free: 1 },
        { bytes: 300, alloc: 1, free: 2 },
        { bytes: 5000, alloc: 2, free: 3 },
      ],
      events: 3,
    });
    expect(plan.offsets).toEqual([0, 0, 0]);
    expect(plan.slabBytes).toBe(5120);
  });

  it('stacks allocations that are all live together', () => {
    const plan = expectValid({
      allocations: [
        { bytes: 256, alloc: 0, free: null },
        { bytes: 700, alloc: 1, free: null },
        { bytes: 512, alloc: 2, free: null },
      ],
      events: 3,
    });
    expect(plan.slabBytes).toBe(256 + 768 + 512);
    expect(plan.lowerBound).toBe(plan.slabBytes);
  });

  it('meets the lower bound on a layer-like chain (each tensor lives across the next op)', () => {
    // x_i lives [i, i + 2): at most two neighbours live at once; sizes alternate small and large.
    const allocations = Array.from({ length: 9 }, (_, i) => ({
      bytes: i % 2 === 0 ? 256 : 3 * 256,
      alloc: i,
      free: i + 2,
    }));
    const plan = expectValid({ allocations, events: 11 });
    expect(plan.lowerBound).toBe(4 * 256);
    expect(plan.slabBytes).toBe(4 * 256);
  });

  it('meets the lower bound where placing in allocation order leaves a hole', () => {
    // First fit in allocation order puts A (2 units) at 0 and B above it; C and D (3 units each) then cannot use
    // A's 2-unit hole and end at 11 units. Largest first packs B, C, D into the 9 units live at event 4.
    const plan = expectValid({
      allocations: [
        { bytes: 512, alloc: 1, free: 3, name: 'A' },
        { bytes: 768, alloc: 2, free: 5, name: 'B' },
        { bytes: 768, alloc: 3, free: 6, name: 'C' },
        { bytes: 768, alloc: 4, free: 6, name: 'D' },
      ],
      events: 6,
    });
    expect(plan.lowerBound).toBe(2304);
    expect(plan.slabBytes).toBe(2304);
  });

  it('puts an allocation into the smallest gap that fits (best fit)', () => {
    // Largest first: P, H, Q, G, R stack up from 0; H and G die at event 2 and leave a 1024-byte gap at 2048 and
    // a 768-byte gap at 3840. W (256 B, from event 3) fits both and takes the smaller, higher one (first fit by
    // offset would take 2048).
    const plan = expectValid({
      allocations: [
        { bytes: 2048, alloc: 0, free: null, name: 'P' },
        { bytes: 1024, alloc: 0, free: 2, name: 'H' },
        { bytes: 768, alloc: 0, free: null, name: 'Q' },
        { bytes: 768, alloc: 0, free: 2, name: 'G' },
        { bytes: 512, alloc: 0, free: null, name: 'R' },
        { bytes: 256, alloc: 3, free: null, name: 'W' },
      ],
      events: 4,
    });
    expect(plan.offsets).toEqual([0, 2048, 3072, 3840, 4608, 3840]);
    expect(plan.slabBytes).toBe(5120);
  });

  it('refuses a bad trace, naming the allocation', () => {
    const bad = (a: TracedAllocation) => () =>
      planMemory({ allocations: [{ bytes: 1, alloc: 0, free: 1 }, a], events: 4 });
    expect(bad({ bytes: 10, alloc: 2, free: 2, name: 'lse' })).toThrow(
      /allocation #1 'lse': released at event 2/,
    );
    expect(bad({ bytes: -1, alloc: 0, free: null })).toThrow(MemoryPlanError);
    expect(bad({ bytes: 10, alloc: 5, free: null })).toThrow(/allocated at event 5, outside \[0, 4\]/);
    expect(bad({ bytes: 10, alloc: 1, free: 9 })).toThrow(/released at event 9/);
  });
});
