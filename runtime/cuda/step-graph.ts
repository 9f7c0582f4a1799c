/**
 * A repeated forward pass on the CUDA ops, run eagerly, on a memory plan, or replayed as a CUDA graph.
 *
 * A pass is split in two: `inputs` brings the host inputs to the device (copies, and the kernels that convert
 * them), `forward` queues device work only. Per key (the caller's name for everything that shapes the pass:
 * sizes, and host data baked into it such as a text mask):
 *
 * 1. the first call runs eagerly on the arena's pool and traces every allocation and release;
 * 2. the second plans the trace into one slab ({@link planMemory}) and runs on it: in `planned` execution the
 *    whole pass again; in `graph` execution `inputs` eagerly (so their copies land in the planned buffers before
 *    the graph), then `forward` captured into a CUDA graph (nothing of it runs during the capture), then one
 *    launch of the graph;
 * 3. later calls run the same way, or (graph) only `inputs` and a graph launch: the JavaScript forward and its
 *    hundreds of launches are skipped, and the arena checks that `inputs` made the same allocations, so they
 *    land where the graph reads them.
 *
 * A new key drops the plan and the graph (the slab is freed) and starts again at 1. A pass that fails (a
 * {@link MemoryPlanError} when it deviates from its trace, or a CUDA error) drops them too, so the next call
 * traces afresh; the error is rethrown, never papered over.
 */
import type { CudaDevice } from './device.js';
import type { ArenaPlan, CudaTensor, DeviceArena } from './device-arena.js';
import type { CudaGraph } from './graph.js';
import { type AllocationTrace, MemoryPlanError } from './memory-plan.js';

/** How a {@link CudaStepGraph} runs its passes. */
export type CudaExecution = 'eager' | 'planned' | 'graph';

/** One pass: device inputs from the host, then device work only. */
export interface CudaPass<I> {
  /** Uploads (host copies allowed); what it allocates must only depend on the key. */
  readonly inputs: () => I;
  /** Launches only: no host copies, downloads or synchronisation (in `graph` execution it is captured). */
  readonly forward: (inputs: I) => CudaTensor;
}

/** What a step graph needs of the CUDA ops (tests stand in for it). */
export interface StepGraphHost {
  readonly arena: DeviceArena;
  readonly device: Pick<CudaDevice, 'synchronize' | 'capture'>;
}

/** Counters and sizes of a step graph, for reports and tests. */
export interface CudaStepStats {
  readonly execution: CudaExecution;
  /** Eager passes traced, plans made, graphs captured, graph replays. */
  readonly traces: number;
  readonly plans: number;
  readonly captures: number;
  readonly replays: number;
  /** The current plan's slab and the most bytes its trace had live at once (0 without a plan). */
  readonly slabBytes: number;
  readonly lowerBound: number;
  /** Nodes of the current graph (0 without one). */
  readonly graphNodes: number;
}

interface KeyState {
  readonly key: string;
  readonly trace: AllocationTrace;
  applied?: ArenaPlan;
  graph?: CudaGraph;
  /** The captured pass's output (a slab view the graph writes) and how many allocations `inputs` made. */
  out?: CudaTensor;
  inputAllocations?: number;
}

/** Runs a pass per {@link CudaExecution}; see the module comment. */
export class CudaStepGraph {
  private state: KeyState | null = null;
  private readonly counts = { traces: 0, plans: 0, captures: 0, replays: 0 };

  constructor(
    private readonly host: StepGraphHost,
    readonly execution: CudaExecution = 'graph',
  ) {}

  /** Run `pass` for `key` and hand its output to `consume` (e.g. a download) while the output is valid. */
  run<I, R>(key: string, pass: CudaPass<I>, consume: (out: CudaTensor) => R): R {
    if (this.execution === 'eager') return this.eager(pass, consume);
    if (this.state?.key !== key) {
      this.reset();
      return this.trace(key, pass, consume);
    }
    const state = this.state;
    try {
      if (!state.applied) {
        const { arena, device } = this.host;
        // The pool's buffers may still be read by queued work; after this only weights and the slab stay.
        device.synchronize();
        arena.trim();
        state.applied = arena.allocatePlan(state.trace);
        this.counts.plans++;
      }
      if (this.execution === 'planned') return this.planned(state.applied, pass, consume);
      if (!state.graph) return this.capture(state, state.applied, pass, consume);
      return this.replay(state, state.applied, pass, consume);
    } catch (e) {
      this.reset();
      throw e;
    }
  }

  /** Counters and sizes. */
  stats(): CudaStepStats {
    return {
      execution: this.execution,
      ...this.counts,
      slabBytes: this.state?.applied?.plan.slabBytes ?? 0,
      lowerBound: this.state?.applied?.plan.lowerBound ?? 0,
      graphNodes: this.state?.graph?.nodes ?? 0,
    };
  }

  /** Drop the graph and free the slab (after the queued work). */
  dispose(): void {
    this.reset();
  }

  private reset(): void {
    const state = this.state;
    this.state = null;
    state?.graph?.dispose();
    if (state?.applied) this.host.arena.freePlan(state.applied);
  }

  private eager<I, R>(pass: CudaPass<I>, consume: (out: CudaTensor) => R): R {
    const { arena } = this.host;
    const mark = arena.mark();
    let result: R;
    try {
      result = consume(pass.forward(pass.inputs()));
    } catch (e) {
      // A failed planned pass is dropped whole by its caller (a release now would only report a second error).
      if (!arena.inPlannedPass) arena.release(mark);
      throw e;
    }
    arena.release(mark);
    return result;
  }

  private trace<I, R>(key: string, pass: CudaPass<I>, consume: (out: CudaTensor) => R): R {
    const { arena } = this.host;
    arena.startTrace();
    let result: R;
    try {
      result = this.eager(pass, consume);
    } catch (e) {
      arena.stopTrace();
      throw e;
    }
    this.state = { key, trace: arena.stopTrace() };
    this.counts.traces++;
    return result;
  }

  /** Run `body` inside a planned pass of `applied`; `complete` passes must repeat the whole trace. */
  private inPass<R>(applied: ArenaPlan, complete: boolean, body: () => R): R {
    const { arena } = this.host;
    arena.beginPlannedPass(applied);
    try {
      const result = body();
      arena.endPlannedPass(complete);
      return result;
    } finally {
      if (arena.inPlannedPass) arena.endPlannedPass(false);
    }
  }

  private planned<I, R>(applied: ArenaPlan, pass: CudaPass<I>, consume: (out: CudaTensor) => R): R {
    return this.inPass(applied, true, () => this.eager(pass, consume));
  }

  private capture<I, R>(
    state: KeyState,
    applied: ArenaPlan,
    pass: CudaPass<I>,
    consume: (out: CudaTensor) => R,
  ): R {
    const { arena, device } = this.host;
    return this.inPass(applied, true, () => {
      const mark = arena.mark();
      const inputs = pass.inputs();
      const inputAllocations = arena.plannedCursor;
      let out: CudaTensor | undefined;
      state.graph = device.capture(() => {
        out = pass.forward(inputs);
      });
      this.counts.captures++;
      state.out = out!;
      state.inputAllocations = inputAllocations;
      state.graph.launch();
      const result = consume(out!);
      arena.release(mark);
      return result;
    });
  }

  private replay<I, R>(
    state: KeyState,
    applied: ArenaPlan,
    pass: CudaPass<I>,
    consume: (out: CudaTensor) => R,
  ): R {
    const { arena } = this.host;
    return this.inPass(applied, false, () => {
      pass.inputs();
      if (arena.plannedCursor !== state.inputAllocations)
        throw new MemoryPlanError(
          `the inputs made ${arena.plannedCursor} allocations; at the capture they made ${state.inputAllocations}`,
        );
      state.graph!.launch();
      this.counts.replays++;
      return consume(state.out!);
    });
  }
}
