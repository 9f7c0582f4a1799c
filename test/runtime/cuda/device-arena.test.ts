/**
 * The CUDA model ops' buffer pool and scopes (runtime/cuda/device-arena.ts), on a recording stand-in for
 * the device (the arena only allocates and frees): buffers come back to the pool at `release` except the kept
 * ones, persistent allocations never do, scratch ones always do, and a repeated sequence of allocations is
 * served from the pool without new device memory. Checked against a model of live allocations. Then the planned
 * mode: a traced pass replayed on one slab never hands out bytes that a live tensor holds, allocates nothing,
 * and a pass that deviates from its trace is refused naming the allocation.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { byteView, type CudaDevice, type DeviceTensor } from '../../../runtime/cuda/device.js';
import { type CudaTensor, DeviceArena } from '../../../runtime/cuda/device-arena.js';
import { MemoryPlanError } from '../../../runtime/cuda/memory-plan.js';

const runs = Number(process.env.TESSERA_TEST_RUNS ?? 50);

/** A stand-in device that hands out fresh addresses and records frees. */
function fakeDevice() {
  let next = 0x1000n;
  const live = new Set<bigint>();
  const device = {
    name: 'cuda:0',
    empty(_dtype: string, shape: readonly number[]): DeviceTensor {
      const bytes = shape[0]!;
      const ptr = next;
      next += BigInt(bytes);
      live.add(ptr);
      return { dtype: 'uint8', shape: [bytes], strides: [1], device: 'cuda:0', ptr, bytes };
    },
    free(t: DeviceTensor) {
      live.delete(t.ptr);
    },
    synchronize() {},
  };
  return { device: device as unknown as CudaDevice, live };
}

describe('DeviceArena', () => {
  it('releases what was allocated after a mark, except the kept tensors', () => {
    const { device } = fakeDevice();
    const arena = new DeviceArena(device);
    const before = arena.tensor('bfloat16', [1000]);
    const mark = arena.mark();
    const a = arena.tensor('bfloat16', [1000]);
    const b = arena.tensor('float32', [10, 10]);
    arena.release(mark, [b]);
    // a's buffer is free again, b's and before's are not.
    const c = arena.tensor('bfloat16', [1000]);
    expect(c.buffer.ptr).toBe(a.buffer.ptr);
    expect(c.buffer.ptr).not.toBe(before.buffer.ptr);
    const d = arena.tensor('float32', [10, 10]);
    expect(d.buffer.ptr).not.toBe(b.buffer.ptr);
  });

  it('keeps persistent tensors through any release, but pools scratch ones made inside persistent', () => {
    const { device } = fakeDevice();
    const arena = new DeviceArena(device);
    const mark = arena.mark();
    const [weight, staging] = arena.persistent(() => [
      arena.tensor('bfloat16', [64]),
      arena.tensor('float32', [64], 'staging', true),
    ]);
    arena.release(mark);
    const next = arena.tensor('float32', [64]);
    expect(next.buffer.ptr).toBe(staging!.buffer.ptr);
    const again = arena.tensor('bfloat16', [64]);
    expect(again.buffer.ptr).not.toBe(weight!.buffer.ptr);
  });

  it('serves a repeated pass from the pool and never hands out a buffer twice', () => {
    const sizes = fc.array(fc.tuple(fc.integer({ min: 1, max: 4096 }), fc.boolean()), {
      minLength: 1,
      maxLength: 40,
    });
    fc.assert(
      fc.property(sizes, (pass) => {
        const { device, live } = fakeDevice();
        const arena = new DeviceArena(device);
        const runPass = () => {
          const mark = arena.mark();
          const inUse = new Set<bigint>();
          let inner = arena.mark();
          for (const [elements, closeScope] of pass) {
            const t = arena.tensor('bfloat16', [elements]);
            expect(inUse.has(t.buffer.ptr), 'a live buffer handed out again').toBe(false);
            expect(t.buffer.bytes).toBeGreaterThanOrEqual(elements * 2);
            inUse.add(t.buffer.ptr);
            if (closeScope) {
              // Keep only the newest tensor of the scope, like a layer keeping its output.
              const mine = inUse;
              arena.release(inner, [t]);
              for (const p of [...mine]) if (p !== t.buffer.ptr) mine.delete(p);
              inner = arena.mark() - 1;
            }
          }
          arena.release(mark);
        };
        runPass();
        const held = arena.heldBytes;
        const allocated = live.size;
        runPass();
        expect(arena.heldBytes).toBe(held);
        expect(live.size).toBe(allocated);
      }),
      { numRuns: runs },
    );
  });

  it('trims the pool back to the device', () => {
    const { device, live } = fakeDevice();
    const arena = new DeviceArena(device);
    const mark = arena.mark();
    arena.tensor('bfloat16', [10]);
    arena.tensor('bfloat16', [1000]);
    arena.release(mark);
    arena.trim();
    expect(live.size).toBe(0);
    expect(arena.heldBytes).toBe(0);
  });
});

/** One step of a pass program: allocate `elements` bf16 values, then maybe close the scope keeping the newest. */
type Step = readonly [elements: number, closeScope: boolean];

const programs = fc.array(fc.tuple(fc.integer({ min: 1, max: 4096 }), fc.boolean()), {
  minLength: 1,
  maxLength: 40,
});

/**
 * Run `program` like a forward pass (an outer scope; inner scopes that keep their newest tensor, as a layer keeps
 * its output) and check, at every allocation, that no live tensor's bytes are handed out again.
 */
function runProgram(arena: DeviceArena, program: readonly Step[]): void {
  const outer = arena.mark();
  const live = new Map<CudaTensor, [bigint, bigint]>();
  let inner = arena.mark();
  for (const [elements, closeScope] of program) {
    const t = arena.tensor('bfloat16', [elements], `x${live.size}`);
    const start = t.buffer.ptr;
    const end = start + BigInt(elements * 2);
    for (const [other, [s, e]] of live)
      expect(end <= s || e <= start, `${t.buffer.bytes} B at ${start} overlaps live ${other.shape}`).toBe(
        true,
      );
    live.set(t, [start, end]);
    if (closeScope) {
      arena.release(inner, [t]);
      for (const other of [...live.keys()])
        if (other !== t && other.buffer.ptr !== t.buffer.ptr) live.delete(other);
      inner = arena.mark() - 1;
    }
  }
  arena.release(outer);
}

describe('DeviceArena planned passes', () => {
  it('replays a traced pass on one slab: no live bytes handed out twice, nothing allocated', () => {
    fc.assert(
      fc.property(programs, (program) => {
        const { device, live } = fakeDevice();
        const arena = new DeviceArena(device);
        const weight = arena.persistent(() => arena.tensor('bfloat16', [100], 'weight'));
        arena.startTrace();
        runProgram(arena, program);
        const trace = arena.stopTrace();
        expect(trace.allocations).toHaveLength(program.length);
        expect(trace.allocations.every((a) => a.free !== null)).toBe(true);
        arena.trim();
        const applied = arena.allocatePlan(trace);
        expect(applied.plan.slabBytes).toBeGreaterThanOrEqual(applied.plan.lowerBound);
        expect(arena.heldBytes).toBe(weight.buffer.bytes + applied.slab.bytes);
        const allocations = live.size;
        for (let pass = 0; pass < 2; pass++) {
          arena.beginPlannedPass(applied);
          runProgram(arena, program);
          arena.endPlannedPass(true);
        }
        expect(live.size, 'a planned pass allocates nothing').toBe(allocations);
        expect(arena.heldBytes).toBe(weight.buffer.bytes + applied.slab.bytes);
        arena.freePlan(applied);
        expect(live.size).toBe(allocations - 1);
      }),
      { numRuns: runs },
    );
  });

  it('hands out views inside the slab, in the order of the trace', () => {
    const { device } = fakeDevice();
    const arena = new DeviceArena(device);
    arena.startTrace();
    runProgram(arena, [
      [1000, false],
      [10, true],
      [3000, false],
    ]);
    const applied = arena.allocatePlan(arena.stopTrace());
    arena.beginPlannedPass(applied);
    const views = [arena.tensor('bfloat16', [1000]), arena.tensor('bfloat16', [10])];
    views.forEach((v, i) => {
      expect(v.buffer.base).toBe(applied.slab);
      expect(v.buffer.ptr).toBe(applied.slab.ptr + BigInt(applied.plan.offsets[i]!));
      expect(v.buffer.ptr + BigInt(v.buffer.bytes)).toBeLessThanOrEqual(
        applied.slab.ptr + BigInt(applied.slab.bytes),
      );
    });
    // A partial pass (the rest of it replayed as a graph) ends with its views dropped.
    arena.endPlannedPass(false);
    expect(arena.mark()).toBe(0);
  });

  it('refuses a pass that deviates from its trace, naming the allocation', () => {
    const { device } = fakeDevice();
    const arena = new DeviceArena(device);
    const pass = (sizes: number[], keepAll = false) => {
      const outer = arena.mark();
      const inner = arena.mark();
      const made = sizes.map((n, i) => arena.tensor('bfloat16', [n], `t${i}`));
      arena.release(inner, keepAll ? made : made.slice(-1));
      arena.release(outer);
    };
    arena.startTrace();
    pass([100, 2000, 300]);
    const applied = arena.allocatePlan(arena.stopTrace());
    const planned = (run: () => void, complete = true) => {
      arena.beginPlannedPass(applied);
      try {
        run();
        arena.endPlannedPass(complete);
      } finally {
        if (arena.inPlannedPass) arena.endPlannedPass(false);
      }
    };
    expect(() => planned(() => pass([100, 2000, 300]))).not.toThrow();
    expect(() => planned(() => pass([100, 4000, 300]))).toThrow(/allocation #1 't1' \(8192 B\)/);
    expect(() => planned(() => pass([100, 2000, 300, 5]))).toThrow(/allocation #3 't3'.*one more/);
    expect(() => planned(() => pass([100, 2000, 300], true))).toThrow(
      /allocation #0 't0' was released at event 3 in the traced pass but is kept here/,
    );
    expect(() => planned(() => pass([100, 2000]))).toThrow(MemoryPlanError);
    // A partial pass (the rest replayed as a graph) may stop early.
    expect(() => planned(() => arena.tensor('bfloat16', [100]), false)).not.toThrow();
    expect(() => planned(() => arena.tensor('bfloat16', [100]), true)).toThrow(/made 1 allocations/);
    // After all that the arena still serves the traced pass.
    expect(() => planned(() => pass([100, 2000, 300]))).not.toThrow();
  });

  it('keeps eager allocations out of a trace once it stops, and persistent ones out of the slab', () => {
    const { device } = fakeDevice();
    const arena = new DeviceArena(device);
    const outer = arena.mark();
    arena.startTrace();
    arena.tensor('bfloat16', [10]);
    const trace = arena.stopTrace();
    arena.startTrace();
    arena.release(outer);
    const next = arena.stopTrace();
    expect(trace.allocations[0]!.free).toBeNull();
    expect(next.allocations).toHaveLength(0);
    const applied = arena.allocatePlan(trace);
    arena.beginPlannedPass(applied);
    const w = arena.persistent(() => arena.tensor('bfloat16', [64], 'weight'));
    expect(w.buffer.base).toBeUndefined();
    arena.endPlannedPass(false);
  });

  it('byteView refuses bytes outside its allocation', () => {
    const base: DeviceTensor = {
      dtype: 'uint8',
      shape: [512],
      strides: [1],
      device: 'cuda:0',
      ptr: 4096n,
      bytes: 512,
    };
    expect(byteView(base, 256, 256).ptr).toBe(4352n);
    expect(byteView(byteView(base, 256, 256), 0, 256).base).toBe(base);
    expect(() => byteView(base, 300, 256, 'lse')).toThrow(/tensor 'lse': bytes \[300, 556\) lie outside/);
  });
});
