/**
 * Device memory for the CUDA model ops. Lifetimes are scoped rather than tracked: everything allocated after a
 * {@link DeviceArena.mark} is released at {@link DeviceArena.release}, except the tensors named to keep;
 * allocations inside {@link DeviceArena.persistent} (weights) are never released. Two ways to serve a pass:
 *
 * - eager (the default): pooled buffers, reused by exact byte size (a forward pass allocates the same few sizes
 *   over and over). A pass may be traced ({@link DeviceArena.startTrace}): every allocation's size and the
 *   events at which it was made and released.
 * - planned: a traced pass's allocations get offsets in one slab ({@link planMemory}); a later pass run inside
 *   {@link DeviceArena.beginPlannedPass} gets views of the slab in allocation order. It must repeat the traced
 *   pass exactly (sizes, and the events at which each allocation is made and released): the first difference
 *   throws a {@link MemoryPlanError} naming the allocation, since any other answer could alias live memory.
 */

import { elementCount, TensorError } from '../../core/tensor.js';
import type { OpTensor } from '../model-ops.js';
import { byteView, type CudaDevice, type DeviceTensor } from './device.js';
import { type AllocationTrace, type MemoryPlan, MemoryPlanError, planMemory } from './memory-plan.js';

/** Element types of the CUDA model tensors: bf16 activations and weights, fp32 modulation vectors. */
export type CudaOpDType = 'bfloat16' | 'float32';

/** A CUDA model tensor: a row-major shape over (a prefix of) a pooled device buffer. */
export interface CudaTensor extends OpTensor {
  readonly dtype: CudaOpDType;
  readonly buffer: DeviceTensor;
}

/** What the arena needs of a device (tests stand in for it). */
export type ArenaDevice = Pick<CudaDevice, 'empty' | 'free' | 'synchronize'>;

/** A plan applied: the trace it was made from, the offsets, and the one slab they index. */
export interface ArenaPlan {
  readonly trace: AllocationTrace;
  readonly plan: MemoryPlan;
  readonly slab: DeviceTensor;
}

/** A buffer handed out in a scope; `index` is its position in the traced or planned pass (-1 outside one). */
interface LiveBuffer {
  readonly buffer: DeviceTensor;
  index: number;
}

interface TraceState {
  readonly allocations: { bytes: number; alloc: number; free: number | null; name: string }[];
  events: number;
}

interface PlannedPass {
  readonly applied: ArenaPlan;
  /** Allocations of the plan released at each event. */
  readonly freesAt: Map<number, number[]>;
  /** Next allocation of the plan, and the number of events so far. */
  cursor: number;
  events: number;
  /** Length of the live list when the pass began. */
  readonly liveAtStart: number;
}

/** Round to 256 bytes so near sizes share pooled buffers and every row start stays 16-byte aligned. */
function allocationBytes(dtype: CudaOpDType, shape: readonly number[]): number {
  return Math.max(256, Math.ceil((elementCount(shape) * (dtype === 'float32' ? 4 : 2)) / 256) * 256);
}

/** Pooled or planned, scoped device buffers. */
export class DeviceArena {
  private readonly free = new Map<number, DeviceTensor[]>();
  /** Buffers handed out in scopes, in order (persistent ones are not listed). */
  private readonly live: LiveBuffer[] = [];
  private persistentDepth = 0;
  private trace: TraceState | null = null;
  private pass: PlannedPass | null = null;
  /** Bytes held by the arena in device buffers (persistent, pooled, live and slabs). */
  heldBytes = 0;

  constructor(private readonly device: ArenaDevice) {}

  /**
   * A new tensor (uninitialised contents). `scratch` tensors are scoped even inside {@link persistent} (the
   * staging of a weight upload).
   */
  tensor(dtype: CudaOpDType, shape: readonly number[], name = 'activation', scratch = false): CudaTensor {
    if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0))
      throw new TensorError(name, `shape [${shape.join(', ')}] must hold non-negative integers`);
    const bytes = allocationBytes(dtype, shape);
    const scoped = this.persistentDepth === 0 || scratch;
    if (scoped && this.pass) {
      const buffer = this.planned(this.pass, bytes, name);
      return { dtype, shape: [...shape], buffer };
    }
    let buffer = this.free.get(bytes)?.pop();
    if (buffer === undefined) {
      buffer = this.device.empty('uint8', [bytes], name);
      this.heldBytes += bytes;
    }
    if (scoped) {
      let index = -1;
      if (this.trace) {
        index = this.trace.allocations.length;
        this.trace.allocations.push({ bytes, alloc: this.trace.events++, free: null, name });
      }
      this.live.push({ buffer, index });
    }
    return { dtype, shape: [...shape], buffer };
  }

  /** Run `fn` with every allocation made in it kept for the arena's lifetime (weights). */
  persistent<R>(fn: () => R): R {
    this.persistentDepth++;
    try {
      return fn();
    } finally {
      this.persistentDepth--;
    }
  }

  /** A position in the allocation order, for {@link release}. */
  mark(): number {
    return this.live.length;
  }

  /** Release every buffer allocated after `mark`, except the buffers of `keep`. */
  release(mark: number, keep: readonly CudaTensor[] = []): void {
    const kept = new Set(keep.map((t) => t.buffer.ptr));
    const released: LiveBuffer[] = [];
    for (const entry of this.live.splice(mark)) {
      if (kept.has(entry.buffer.ptr)) this.live.push(entry);
      else released.push(entry);
    }
    if (this.pass) {
      this.checkPlannedRelease(this.pass, released);
      this.pass.events++;
    }
    for (const { buffer, index } of released) {
      if (this.trace && index >= 0) this.trace.allocations[index]!.free = this.trace.events;
      if (buffer.base !== undefined) continue; // a slab view: nothing to pool
      const list = this.free.get(buffer.bytes) ?? [];
      list.push(buffer);
      this.free.set(buffer.bytes, list);
    }
    if (this.trace) this.trace.events++;
  }

  /** Free the pooled (unused) buffers back to the device. */
  trim(): void {
    for (const list of this.free.values())
      for (const b of list) {
        this.device.free(b);
        this.heldBytes -= b.bytes;
      }
    this.free.clear();
  }

  /** Start recording the scoped allocations and releases of a pass (eager mode only). */
  startTrace(): void {
    if (this.pass) throw new MemoryPlanError('a planned pass cannot be traced: trace an eager pass');
    this.trace = { allocations: [], events: 0 };
  }

  /** Stop recording and return the trace (allocations still live are open: live to the end). */
  stopTrace(): AllocationTrace {
    const trace = this.trace;
    if (!trace) throw new MemoryPlanError('stopTrace without startTrace');
    this.trace = null;
    // Buffers still live keep indices of the stopped trace; a later trace must not see them.
    for (const entry of this.live) entry.index = -1;
    return { allocations: trace.allocations.map((a) => ({ ...a })), events: trace.events };
  }

  /** Plan `trace` and allocate its slab (held until {@link freePlan}). */
  allocatePlan(trace: AllocationTrace): ArenaPlan {
    const plan = planMemory(trace);
    const slab = this.device.empty('uint8', [Math.max(plan.slabBytes, plan.alignment)], 'activation slab');
    this.heldBytes += slab.bytes;
    return { trace, plan, slab };
  }

  /** Free a plan's slab once the queued work is done (no pass may be using it). */
  freePlan(applied: ArenaPlan): void {
    if (this.pass?.applied === applied) throw new MemoryPlanError('the plan is in use by a planned pass');
    this.device.synchronize();
    this.device.free(applied.slab);
    this.heldBytes -= applied.slab.bytes;
  }

  /** From now on, scoped allocations are views of `applied`'s slab, checked against its trace. */
  beginPlannedPass(applied: ArenaPlan): void {
    if (this.pass) throw new MemoryPlanError('a planned pass is already running');
    if (this.trace) throw new MemoryPlanError('a traced pass is running: stop the trace first');
    const freesAt = new Map<number, number[]>();
    applied.trace.allocations.forEach((a, i) => {
      if (a.free !== null) freesAt.set(a.free, [...(freesAt.get(a.free) ?? []), i]);
    });
    this.pass = { applied, freesAt, cursor: 0, events: 0, liveAtStart: this.live.length };
  }

  /** Whether a planned pass is running. */
  get inPlannedPass(): boolean {
    return this.pass !== null;
  }

  /** Allocations made so far in the planned pass. */
  get plannedCursor(): number {
    return this.pass?.cursor ?? 0;
  }

  /**
   * End the planned pass. `complete`: the pass must have made every allocation and release of the trace (a
   * replayed graph made the rest, so its passes are not complete). Views still live are dropped either way.
   */
  endPlannedPass(complete: boolean): void {
    const pass = this.pass;
    if (!pass) throw new MemoryPlanError('endPlannedPass without beginPlannedPass');
    this.pass = null;
    this.live.splice(pass.liveAtStart);
    const { allocations, events } = pass.applied.trace;
    if (complete && (pass.cursor !== allocations.length || pass.events !== events))
      throw new MemoryPlanError(
        `the pass made ${pass.cursor} allocations in ${pass.events} events; its plan was traced with ${allocations.length} in ${events}`,
      );
  }

  /** The view for the next allocation of a planned pass, after checking it matches the trace. */
  private planned(pass: PlannedPass, bytes: number, name: string): DeviceTensor {
    const { trace, plan, slab } = pass.applied;
    const i = pass.cursor;
    const traced = trace.allocations[i];
    const what = `allocation #${i} '${name}' (${bytes} B)`;
    if (traced === undefined)
      throw new MemoryPlanError(
        `${what}: the planned pass was traced with ${i} allocations; this is one more`,
      );
    if (traced.bytes !== bytes || traced.alloc !== pass.events)
      throw new MemoryPlanError(
        `${what} at event ${pass.events} differs from the traced pass, which made '${traced.name ?? '?'}' (${traced.bytes} B) at event ${traced.alloc}`,
      );
    pass.cursor++;
    pass.events++;
    const buffer = byteView(slab, plan.offsets[i]!, bytes, name);
    this.live.push({ buffer, index: i });
    return buffer;
  }

  /** A release of a planned pass must free exactly what the traced pass freed at the same event. */
  private checkPlannedRelease(pass: PlannedPass, released: readonly LiveBuffer[]): void {
    const expected = new Set(pass.freesAt.get(pass.events) ?? []);
    const got = new Set(released.map((r) => r.index).filter((i) => i >= 0));
    const names = pass.applied.trace.allocations;
    for (const i of got)
      if (!expected.has(i))
        throw new MemoryPlanError(
          `allocation #${i} '${names[i]?.name ?? '?'}' is released at event ${pass.events}; the traced pass released it at ${names[i]?.free ?? 'the end'}`,
        );
    for (const i of expected)
      if (!got.has(i))
        throw new MemoryPlanError(
          `allocation #${i} '${names[i]?.name ?? '?'}' was released at event ${pass.events} in the traced pass but is kept here`,
        );
  }
}
