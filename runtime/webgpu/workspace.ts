/// <reference types="@webgpu/types" />
/**
 * The GPU buffers and bind group of one attention shape: Q, K, V, output, lse, uniforms and read-back
 * buffers, created once and reused by every call with the same kernel, plan and sizes.
 */
import { WGSL_BINDINGS, WGSL_PARAMS_BYTES } from '../../codegen/wgsl/bindings.js';
import type { CompiledKernel } from './pipeline.js';

/** Buffer usage flags by value (WebGPU spec numbers), so no host global is needed. */
export const BufferUsage = {
  MAP_READ: 0x1,
  COPY_SRC: 0x4,
  COPY_DST: 0x8,
  UNIFORM: 0x40,
  STORAGE: 0x80,
} as const;

/** Reusable buffers of one shape. */
export interface Workspace {
  readonly q: GPUBuffer;
  readonly k: GPUBuffer;
  readonly v: GPUBuffer;
  readonly out: GPUBuffer;
  readonly lse: GPUBuffer;
  /** One uniform block per dispatch of a call (a call is split to fit the device's loop budget). */
  readonly params: GPUBuffer[];
  readonly outRead: GPUBuffer;
  readonly lseRead: GPUBuffer;
  /** The bind group of each dispatch, binding its uniform block. */
  readonly bindGroups: GPUBindGroup[];
  /** Bytes of one of Q, K, V, out (equal sizes: self-attention in one layout). */
  readonly tensorBytes: number;
  readonly lseBytes: number;
}

/** WebGPU copies and writes move multiples of 4 bytes. */
export function roundUp4(bytes: number): number {
  return Math.ceil(bytes / 4) * 4;
}

/**
 * Create the buffers of one shape and, for each of `dispatches` dispatches, a uniform block and the bind group
 * tying them to `kernel` and the plan's `tables`.
 */
export function createWorkspace(
  device: GPUDevice,
  kernel: CompiledKernel,
  tables: GPUBuffer,
  tensorBytes: number,
  lseBytes: number,
  dispatches: number,
): Workspace {
  const size = roundUp4(tensorBytes);
  const storage = (label: string, extra: number) =>
    device.createBuffer({ label, size, usage: BufferUsage.STORAGE | BufferUsage.COPY_DST | extra });
  const q = storage('q', 0);
  const k = storage('k', 0);
  const v = storage('v', 0);
  const out = storage('out', BufferUsage.COPY_SRC);
  const lse = device.createBuffer({
    label: 'lse',
    size: lseBytes,
    usage: BufferUsage.STORAGE | BufferUsage.COPY_DST | BufferUsage.COPY_SRC,
  });
  const params = Array.from({ length: dispatches }, (_, i) =>
    device.createBuffer({
      label: `params ${i}`,
      size: WGSL_PARAMS_BYTES,
      usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST,
    }),
  );
  const outRead = device.createBuffer({
    label: 'out read-back',
    size,
    usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST,
  });
  const lseRead = device.createBuffer({
    label: 'lse read-back',
    size: lseBytes,
    usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST,
  });
  const b = WGSL_BINDINGS;
  const bindGroups = params.map((uniforms) =>
    device.createBindGroup({
      layout: kernel.bindGroupLayout,
      entries: [
        { binding: b.params, resource: { buffer: uniforms } },
        { binding: b.q, resource: { buffer: q } },
        { binding: b.k, resource: { buffer: k } },
        { binding: b.v, resource: { buffer: v } },
        { binding: b.out, resource: { buffer: out } },
        { binding: b.lse, resource: { buffer: lse } },
        { binding: b.tables, resource: { buffer: tables } },
      ],
    }),
  );
  return { q, k, v, out, lse, params, outRead, lseRead, bindGroups, tensorBytes: size, lseBytes };
}

/** Release every buffer of a workspace. */
export function destroyWorkspace(w: Workspace): void {
  for (const buffer of [w.q, w.k, w.v, w.out, w.lse, ...w.params, w.outRead, w.lseRead]) buffer.destroy();
}
