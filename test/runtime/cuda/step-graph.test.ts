/**
 * The step graph (runtime/cuda/step-graph.ts) on a simulated device: memory is a map of 4-byte words, a
 * "kernel" is a closure that reads and writes it when it runs, and a capture records the closures instead of
 * running them (a replay runs them again, reading whatever the memory holds then). A small residual network is
 * checked against plain arithmetic for every call: eager, planned (tensors packed into one slab, so an aliasing
 * plan corrupts values) and replayed as a graph with new inputs each time (so a replay that misses its inputs
 * gives stale values). Plus the bookkeeping: one trace, plan and capture per key, a new key starts again, and a
 * failing pass leaves the next call to trace afresh.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DeviceTensor } from '../../../runtime/cuda/device.js';
import { type CudaTensor, DeviceArena } from '../../../runtime/cuda/device-arena.js';
import { MemoryPlanError } from '../../../runtime/cuda/memory-plan.js';
import {
  type CudaExecution,
  type CudaPass,
  CudaStepGraph,
  type StepGraphHost,
} from '../../../runtime/cuda/step-graph.js';

const runs = Number(process.env.TESSERA_TEST_RUNS ?? 50);

/** A device whose memory and kernels are JavaScript: enough to run, capture and replay a pass. */
class SimulatedDevice {
  readonly words = new Map<bigint, number>();
  allocations = 0;
  private next = 0x10000n;
  private recording: (() => void)[] | null = null;

  empty(_dtype: string, shape: readonly number[], _name?: string): DeviceTensor {
    const bytes = shape[0]!;
    const ptr = this.next;
    this.next += BigInt(bytes) + 4096n;
    this.allocations++;
    return { dtype: 'uint8', shape: [bytes], strides: [1], device: 'sim', ptr, bytes };
  }

  free(): void {}

  synchronize(): void {
    if (this.recording) throw new Error('synchronize while capturing');
  }

  /** Run a kernel now, or record it while capturing. */
  launch(kernel: () => void): void {
    if (this.recording) this.recording.push(kernel);
    else kernel();
  }

  capture(record: () => void) {
    this.recording = [];
    let kernels: (() => void)[];
    try {
      record();
    } finally {
      kernels = this.recording;
      this.recording = null;
    }
    return {
      nodes: kernels.length,
      launch: () => {
        for (const k of kernels) k();
      },
      dispose: () => {},
    };
  }

  /** A host copy: refused while capturing, like the real device. */
  write(t: CudaTensor, values: readonly number[]): void {
    if (this.recording) throw new Error('host copy while capturing');
    for (const [i, v] of values.entries()) this.words.set(t.buffer.ptr + BigInt(4 * i), v);
  }

  read(t: CudaTensor): number[] {
    return Array.from(
      { length: t.shape[0]! },
      (_, i) => this.words.get(t.buffer.ptr + BigInt(4 * i)) ?? Number.NaN,
    );
  }
}

/** Ops of the simulated network: fp32 vectors, each op a kernel over a fresh arena tensor. */
function simulatedOps(device: SimulatedDevice, arena: DeviceArena) {
  const map = (name: string, xs: CudaTensor[], f: (...v: number[]) => number): CudaTensor => {
    const n = xs[0]!.shape[0]!;
    const out = arena.tensor('float32', [n], name);
    device.launch(() => {
      const values = xs.map((x) => device.read(x));
      device.write(
        out,
        Array.from({ length: n }, (_, i) => f(...values.map((v) => v[i]!))),
      );
    });
    return out;
  };
  return {
    /** Like the CUDA ops' upload: the output, then scoped fp32 staging, a copy and a conversion kernel. */
    upload(values: readonly number[]): CudaTensor {
      const out = arena.tensor('float32', [values.length], 'upload');
      const mark = arena.mark();
      const staging = arena.tensor('float32', [values.length], 'staging', true);
      device.write(staging, values);
      device.launch(() => device.write(out, device.read(staging)));
      arena.release(mark);
      return out;
    },
    map,
  };
}

interface Inputs {
  readonly x: number[];
  readonly bias: number[];
}

/** The simulated network: h = 2x; per layer h = (h/2 + h) * w_l + bias (all of a layer's temporaries released). */
function network(device: SimulatedDevice, arena: DeviceArena, layers: readonly number[]) {
  const ops = simulatedOps(device, arena);
  let forwards = 0;
  const pass = (inputs: Inputs, extra = false): CudaPass<{ x: CudaTensor; bias: CudaTensor }> => ({
    inputs: () => ({ x: ops.upload(inputs.x), bias: ops.upload(inputs.bias) }),
    forward: ({ x, bias }) => {
      forwards++;
      let h = ops.map('h', [x], (v) => 2 * v);
      for (const w of layers) {
        const mark = arena.mark();
        const half = ops.map('half', [h], (v) => v / 2);
        const sum = ops.map('sum', [half, h], (a, b) => a + b);
        const wide = arena.tensor('float32', [4 * h.shape[0]!], 'wide scratch');
        device.launch(() => device.write(wide, new Array(4 * h.shape[0]!).fill(-1)));
        if (extra) arena.tensor('float32', [1000], 'extra');
        h = ops.map('out', [sum, bias], (a, b) => a * w + b);
        arena.release(mark, [h]);
      }
      return h;
    },
  });
  const reference = ({ x, bias }: Inputs) =>
    x.map((v, i) => layers.reduce((h, w) => (h / 2 + h) * w + bias[i]!, 2 * v));
  return { pass, reference, forwards: () => forwards };
}

function setup(execution: CudaExecution) {
  const device = new SimulatedDevice();
  const arena = new DeviceArena(device);
  const host = { arena, device } as unknown as StepGraphHost;
  return { device, arena, steps: new CudaStepGraph(host, execution) };
}

const vectors = (n: number) =>
  fc.record({
    x: fc.array(fc.integer({ min: -8, max: 8 }), { minLength: n, maxLength: n }),
    bias: fc.array(fc.integer({ min: -8, max: 8 }), { minLength: n, maxLength: n }),
  });

describe('CudaStepGraph', () => {
  for (const execution of ['eager', 'planned', 'graph'] as const)
    it(`${execution}: every call equals the arithmetic, with new inputs each time`, () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 12 }).chain((n) => fc.array(vectors(n), { minLength: 4, maxLength: 6 })),
          fc.array(fc.integer({ min: -2, max: 2 }), { minLength: 1, maxLength: 4 }),
          (calls, layers) => {
            const { device, arena, steps } = setup(execution);
            const net = network(device, arena, layers);
            for (const inputs of calls) {
              const got = steps.run('key', net.pass(inputs), (out) => device.read(out));
              expect(got).toEqual(net.reference(inputs));
            }
            const stats = steps.stats();
            if (execution === 'eager') {
              expect(net.forwards()).toBe(calls.length);
              return;
            }
            expect([stats.traces, stats.plans]).toEqual([1, 1]);
            expect(stats.slabBytes).toBeGreaterThanOrEqual(stats.lowerBound);
            if (execution === 'graph') {
              expect([stats.captures, stats.replays]).toEqual([1, calls.length - 2]);
              expect(net.forwards(), 'replays skip the JavaScript forward').toBe(2);
              expect(stats.graphNodes).toBeGreaterThan(0);
            } else expect(net.forwards()).toBe(calls.length);
          },
        ),
        { numRuns: runs },
      );
    });

  it('allocates nothing once planned, and frees the slab on dispose', () => {
    const { device, arena, steps } = setup('graph');
    const net = network(device, arena, [1, -1, 2]);
    const inputs = { x: [1, 2, 3], bias: [0, 1, 0] };
    steps.run('k', net.pass(inputs), () => undefined);
    steps.run('k', net.pass(inputs), () => undefined);
    const allocations = device.allocations;
    expect(arena.heldBytes).toBe(steps.stats().slabBytes);
    for (let i = 0; i < 3; i++) steps.run('k', net.pass(inputs), () => undefined);
    expect(device.allocations).toBe(allocations);
    steps.dispose();
    expect(arena.heldBytes).toBe(0);
  });

  it('starts again for a new key: trace, plan, capture', () => {
    const { device, arena, steps } = setup('graph');
    const net = network(device, arena, [1, 3]);
    const a = { x: [1, 2], bias: [3, 4] };
    const b = { x: [1, 2, 3, 4, 5], bias: [5, 4, 3, 2, 1] };
    for (const [key, inputs] of [
      ['2', a],
      ['2', a],
      ['5', b],
      ['5', b],
      ['5', b],
      ['2', a],
    ] as const)
      expect(steps.run(key, net.pass(inputs), (out) => device.read(out))).toEqual(net.reference(inputs));
    expect(steps.stats()).toMatchObject({ traces: 3, plans: 2, captures: 2, replays: 1 });
  });

  it('refuses a pass that deviates from its trace, then traces afresh', () => {
    const { device, arena, steps } = setup('planned');
    const net = network(device, arena, [2, 2]);
    const inputs = { x: [1, 2, 3], bias: [1, 1, 1] };
    steps.run('k', net.pass(inputs), () => undefined);
    expect(() => steps.run('k', net.pass(inputs, true), () => undefined)).toThrow(
      /allocation #\d+ 'extra' \(4096 B\).*differs from the traced pass/,
    );
    expect(steps.stats().slabBytes, 'the plan is dropped').toBe(0);
    expect(arena.heldBytes).toBe(0);
    expect(steps.run('k', net.pass(inputs), (out) => device.read(out))).toEqual(net.reference(inputs));
    expect(steps.stats()).toMatchObject({ traces: 2, plans: 1 });
  });

  it('reports a capture that synchronises, and recovers', () => {
    const { device, arena, steps } = setup('graph');
    const net = network(device, arena, [1]);
    const inputs = { x: [4], bias: [2] };
    const syncing: CudaPass<{ x: CudaTensor; bias: CudaTensor }> = {
      ...net.pass(inputs),
      forward: (i) => {
        const out = net.pass(inputs).forward(i);
        device.synchronize();
        return out;
      },
    };
    steps.run('k', syncing, () => undefined);
    expect(() => steps.run('k', syncing, () => undefined)).toThrow(/synchronize while capturing/);
    expect(steps.run('k', net.pass(inputs), (out) => device.read(out))).toEqual(net.reference(inputs));
  });

  it('checks that the inputs land where the graph reads them', () => {
    const { device, arena, steps } = setup('graph');
    const net = network(device, arena, [1]);
    const inputs = { x: [4, 5], bias: [2, 2] };
    steps.run('k', net.pass(inputs), () => undefined);
    steps.run('k', net.pass(inputs), () => undefined);
    const fewer: CudaPass<{ x: CudaTensor; bias: CudaTensor }> = {
      ...net.pass(inputs),
      inputs: () => {
        const x = simulatedOps(device, arena).upload(inputs.x);
        return { x, bias: x };
      },
    };
    expect(() => steps.run('k', fewer, () => undefined)).toThrow(MemoryPlanError);
  });
});
