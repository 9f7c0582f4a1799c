/// <reference types="@webgpu/types" />
/**
 * The WebGPU attention backend: runs the generated block-sparse flash-attention kernels on any `GPU` object
 * (Dawn in Node through `node-gpu.ts`, or a browser's `navigator.gpu`). Nothing here imports Node modules.
 *
 * Pipelines are cached by their WGSL text, plan tables by plan, and buffers plus bind groups by shape, so a
 * repeated call only uploads Q, K, V, dispatches and reads back. Calls are serialised: they share buffers.
 */
import { encodeWgslParams, wgslDispatchSize } from '../../codegen/wgsl/bindings.js';
import type { WgslEnumeration, WgslIoType, WgslKernelConfig } from '../../codegen/wgsl/kernel-config.js';
import { dispatchVisitRanges } from '../../codegen/wgsl/loop-budget.js';
import { packPlanTables } from '../../codegen/wgsl/plan-tables.js';
import { renderWgslModule } from '../../codegen/wgsl/render-module.js';
import type { BlockPlan } from '../../compiler/plan/plan.js';
import {
  type AttentionLayout,
  attentionStrides,
  fromFloat16Bits,
  TensorError,
  toFloat16Bits,
} from '../../core/tensor.js';
import { openDevice, type WebGpuCapabilities } from './device.js';
import { WebGpuUnavailableError } from './errors.js';
import { type CompiledKernel, compileAttentionKernel } from './pipeline.js';
import { BufferUsage, createWorkspace, destroyWorkspace, roundUp4, type Workspace } from './workspace.js';

/** Shape, precision and kernel variant of one attention call. */
export interface WebGpuAttentionOptions {
  readonly batch: number;
  readonly heads: number;
  readonly headDim: number;
  /** Layout of Q, K, V and the output: [B, S, H, D] or [B, H, S, D]; the sequence length is the plan's. */
  readonly layout: AttentionLayout;
  /** Element type in GPU memory; default `f32`. `f16` needs `capabilities.f16`. */
  readonly io?: WgslIoType;
  /** Use the subgroup kernel; needs `capabilities.subgroups`. Default false. */
  readonly subgroups?: boolean;
  /** Key-block enumeration; default the plan's closed form when it has one, else the CSR table. */
  readonly enumeration?: WgslEnumeration;
  /** Logit scale; default 1 / sqrt(headDim). */
  readonly scale?: number;
  /** Fill the output and lse with NaN before the dispatch, so an element the kernel skips shows (tests). */
  readonly poison?: boolean;
  /**
   * Loop iterations one invocation may spend per dispatch; a call that needs more is split into dispatches
   * over ranges of key blocks. Default the device's budget (`capabilities.limits.maxLoopIterations`, none on
   * hardware GPUs). Tests override it: lower to exercise the split anywhere, `Infinity` to see a device's
   * limit bite. Above the device's budget the result may be wrong.
   */
  readonly loopBudget?: number;
}

/** Output (same layout as Q) and log-sum-exp ([B, H, S], natural log; -Infinity on rows with no allowed key). */
export interface WebGpuAttentionResult {
  readonly out: Float32Array;
  readonly lse: Float32Array;
}

/** One attention call with its inputs uploaded: dispatch and read back separately (benchmarks time `run`). */
export interface PreparedAttention {
  readonly config: WgslKernelConfig;
  /** Dispatches per run: more than 1 when the call is split to fit the loop budget. */
  readonly dispatches: number;
  /** Dispatch the kernel and wait for the GPU to finish. */
  run(): Promise<void>;
  /** Read the output and lse of the last run. */
  read(): Promise<WebGpuAttentionResult>;
}

/** The backend. Call `dispose()` when done: Dawn keeps Node alive while a device exists. */
export interface WebGpuBackend {
  readonly capabilities: WebGpuCapabilities;
  /** The device, for applications that share it with their own work. */
  readonly device: GPUDevice;
  /** Render and compile the kernel (cached), upload the plan tables (cached) and the inputs. */
  prepare(
    plan: BlockPlan,
    q: ArrayLike<number>,
    k: ArrayLike<number>,
    v: ArrayLike<number>,
    options: WebGpuAttentionOptions,
  ): Promise<PreparedAttention>;
  /** Block-sparse attention of `plan` on the GPU. */
  attention(
    plan: BlockPlan,
    q: ArrayLike<number>,
    k: ArrayLike<number>,
    v: ArrayLike<number>,
    options: WebGpuAttentionOptions,
  ): Promise<WebGpuAttentionResult>;
  /** Destroy the device and every cached resource. */
  dispose(): void;
}

/**
 * Where the backend gets its device: a `GPU` object (plus adapter options), or an adapter already chosen
 * together with the `GPU` it came from (held until `dispose()`: Dawn tears its instance down when the `GPU`
 * object is collected, under the feet of live devices).
 */
export type WebGpuSource =
  | { readonly gpu: GPU; readonly adapterOptions?: GPURequestAdapterOptions }
  | { readonly gpu: GPU; readonly adapter: GPUAdapter };

function checkOperand(
  name: string,
  data: ArrayLike<number>,
  plan: BlockPlan,
  o: WebGpuAttentionOptions,
): void {
  const need = o.batch * plan.seqLen * o.heads * o.headDim;
  if (data.length !== need) {
    const shape =
      o.layout === 'bshd'
        ? [o.batch, plan.seqLen, o.heads, o.headDim]
        : [o.batch, o.heads, plan.seqLen, o.headDim];
    throw new TensorError(
      name,
      `expected shape [${shape.join(', ')}] (${o.layout}, ${need} elements) for plan '${plan.key}', got ${data.length} elements`,
    );
  }
}

function encodeTensor(data: ArrayLike<number>, io: WgslIoType): ArrayBuffer {
  if (io === 'f32') return Float32Array.from(data).buffer as ArrayBuffer;
  const bits = new Uint16Array(roundUp4(data.length * 2) / 2);
  for (let i = 0; i < data.length; i++) bits[i] = toFloat16Bits(data[i]!);
  return bits.buffer;
}

function decodeTensor(bytes: ArrayBuffer, count: number, io: WgslIoType): Float32Array {
  if (io === 'f32') return new Float32Array(bytes, 0, count).slice();
  const bits = new Uint16Array(bytes, 0, count);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = fromFloat16Bits(bits[i]!);
  return out;
}

async function readBuffer(
  device: GPUDevice,
  src: GPUBuffer,
  staging: GPUBuffer,
  bytes: number,
): Promise<ArrayBuffer> {
  const encoder = device.createCommandEncoder();
  encoder.copyBufferToBuffer(src, 0, staging, 0, bytes);
  device.queue.submit([encoder.finish()]);
  await staging.mapAsync(1 /* GPUMapMode.READ */, 0, bytes);
  const copy = staging.getMappedRange(0, bytes).slice(0);
  staging.unmap();
  return copy;
}

/** Open a device on `source` and return the backend. Throws `WebGpuUnavailableError` when there is no adapter. */
export async function createWebGpuBackend(source: WebGpuSource): Promise<WebGpuBackend> {
  const adapter =
    'adapter' in source ? source.adapter : await source.gpu.requestAdapter(source.adapterOptions);
  if (!adapter)
    throw new WebGpuUnavailableError(
      'no WebGPU adapter is available (no GPU, or no driver the WebGPU implementation can use)',
    );
  const { device, capabilities } = await openDevice(adapter);
  // Keep the GPU object reachable for the device's lifetime (see WebGpuSource).
  const keepAlive: { gpu: GPU | null } = { gpu: source.gpu };
  const kernels = new Map<string, Promise<CompiledKernel>>();
  const tables = new WeakMap<BlockPlan, GPUBuffer>();
  const ownedTables: GPUBuffer[] = [];
  const workspaces = new Map<string, Workspace>();
  const ids = new WeakMap<object, number>();
  let nextId = 0;
  const idOf = (o: object): number => {
    if (!ids.has(o)) ids.set(o, nextId++);
    return ids.get(o)!;
  };
  let tail: Promise<unknown> = Promise.resolve();
  let disposed = false;
  const serial = <T>(op: () => Promise<T>): Promise<T> => {
    const result = tail.then(op);
    tail = result.catch(() => undefined);
    return result;
  };

  const kernelFor = (plan: BlockPlan, o: WebGpuAttentionOptions) => {
    const wanted = {
      headDim: o.headDim,
      io: o.io ?? 'f32',
      subgroups: o.subgroups ?? false,
      limits: capabilities.limits,
    };
    if (wanted.io === 'f16' && !capabilities.f16)
      throw new WebGpuUnavailableError(`the adapter (${capabilities.adapter}) lacks 'shader-f16'`);
    if (wanted.subgroups && !capabilities.subgroups)
      throw new WebGpuUnavailableError(`the adapter (${capabilities.adapter}) lacks 'subgroups'`);
    const module = renderWgslModule(plan, o.enumeration ? { ...wanted, enumeration: o.enumeration } : wanted);
    let kernel = kernels.get(module.code);
    if (!kernel) {
      kernel = compileAttentionKernel(device, plan.pattern.key, module.code, module.entryPoint);
      kernels.set(module.code, kernel);
      kernel.catch(() => kernels.delete(module.code));
    }
    return { module, kernel };
  };

  const tablesFor = (plan: BlockPlan): GPUBuffer => {
    let buffer = tables.get(plan);
    if (!buffer) {
      const data = packPlanTables(plan);
      buffer = device.createBuffer({
        label: `${plan.key} tables`,
        size: data.byteLength,
        usage: BufferUsage.STORAGE | BufferUsage.COPY_DST,
      });
      device.queue.writeBuffer(buffer, 0, data);
      tables.set(plan, buffer);
      ownedTables.push(buffer);
    }
    return buffer;
  };

  const prepare = async (
    plan: BlockPlan,
    q: ArrayLike<number>,
    k: ArrayLike<number>,
    v: ArrayLike<number>,
    o: WebGpuAttentionOptions,
  ): Promise<PreparedAttention> => {
    if (disposed) throw new WebGpuUnavailableError('the WebGPU backend was disposed');
    checkOperand('q', q, plan, o);
    checkOperand('k', k, plan, o);
    checkOperand('v', v, plan, o);
    const io = o.io ?? 'f32';
    const { module, kernel: pending } = kernelFor(plan, o);
    const kernel = await pending;
    const table = tablesFor(plan);
    const count = q.length;
    const tensorBytes = count * (io === 'f16' ? 2 : 4);
    const lseCount = o.batch * o.heads * plan.seqLen;
    const visits = dispatchVisitRanges(
      plan,
      module.config,
      o.loopBudget ?? capabilities.limits.maxLoopIterations,
    );
    const key = `${idOf(kernel)}|${idOf(table)}|${tensorBytes}|${lseCount}|${visits.length}`;
    let w = workspaces.get(key);
    if (!w) {
      w = createWorkspace(device, kernel, table, tensorBytes, lseCount * 4, visits.length);
      workspaces.set(key, w);
    }
    const ws = w;
    const strides = attentionStrides(o.layout, plan.seqLen, o.heads, o.headDim);
    const layoutStrides = { batch: strides.batch, seq: strides.seq, head: strides.head };
    visits.forEach((range, i) => {
      device.queue.writeBuffer(
        ws.params[i]!,
        0,
        encodeWgslParams({
          heads: o.heads,
          scale: o.scale ?? 1 / Math.sqrt(o.headDim),
          input: layoutStrides,
          output: layoutStrides,
          visits: range,
        }),
      );
    });
    device.queue.writeBuffer(ws.q, 0, encodeTensor(q, io));
    device.queue.writeBuffer(ws.k, 0, encodeTensor(k, io));
    device.queue.writeBuffer(ws.v, 0, encodeTensor(v, io));
    const [x, y, z] = wgslDispatchSize(plan, o.batch, o.heads);
    return {
      config: module.config,
      dispatches: visits.length,
      async run() {
        if (o.poison) {
          const nan =
            io === 'f32'
              ? new Float32Array(ws.tensorBytes / 4).fill(Number.NaN)
              : new Uint16Array(ws.tensorBytes / 2).fill(0x7e00);
          device.queue.writeBuffer(ws.out, 0, nan);
          device.queue.writeBuffer(ws.lse, 0, new Float32Array(lseCount).fill(Number.NaN));
        }
        const encoder = device.createCommandEncoder({ label: plan.key });
        const pass = encoder.beginComputePass({ label: plan.key });
        pass.setPipeline(kernel.pipeline);
        // Dispatches of a split call run in order; WebGPU makes each see the storage writes of the previous.
        for (const bindGroup of ws.bindGroups) {
          pass.setBindGroup(0, bindGroup);
          pass.dispatchWorkgroups(x, y, z);
        }
        pass.end();
        device.queue.submit([encoder.finish()]);
        await device.queue.onSubmittedWorkDone();
      },
      async read() {
        const out = decodeTensor(await readBuffer(device, ws.out, ws.outRead, ws.tensorBytes), count, io);
        const lse = new Float32Array(await readBuffer(device, ws.lse, ws.lseRead, lseCount * 4));
        return { out, lse };
      },
    };
  };

  return {
    capabilities,
    device,
    prepare: (plan, q, k, v, o) => serial(() => prepare(plan, q, k, v, o)),
    attention: (plan, q, k, v, o) =>
      serial(async () => {
        const prepared = await prepare(plan, q, k, v, o);
        await prepared.run();
        return prepared.read();
      }),
    dispose() {
      if (disposed) return;
      disposed = true;
      for (const w of workspaces.values()) destroyWorkspace(w);
      workspaces.clear();
      for (const buffer of ownedTables) buffer.destroy();
      kernels.clear();
      device.destroy();
      keepAlive.gpu = null;
    },
  };
}
