/// <reference types="@webgpu/types" />
/**
 * Turning WGSL text into a compute pipeline with an explicit bind group layout (so the binding interface is
 * fixed by `codegen/wgsl/bindings.ts`, not inferred), with compilation and validation errors reported as
 * `TesseraError`s naming the pattern and the line.
 */
import { WGSL_BINDINGS } from '../../codegen/wgsl/bindings.js';
import { wgslCompileError, wgslPipelineError } from './errors.js';

/** A compiled kernel: the pipeline and the layout its bind groups are made with. */
export interface CompiledKernel {
  readonly pipeline: GPUComputePipeline;
  readonly bindGroupLayout: GPUBindGroupLayout;
}

/** The bind group layout of every attention kernel. */
function attentionBindGroupLayout(device: GPUDevice): GPUBindGroupLayout {
  const stage = 4; // GPUShaderStage.COMPUTE, by value: the global is absent in some hosts.
  const b = WGSL_BINDINGS;
  const entry = (binding: number, type: GPUBufferBindingType): GPUBindGroupLayoutEntry => ({
    binding,
    visibility: stage,
    buffer: { type },
  });
  return device.createBindGroupLayout({
    label: 'tessera attention',
    entries: [
      entry(b.params, 'uniform'),
      entry(b.q, 'read-only-storage'),
      entry(b.k, 'read-only-storage'),
      entry(b.v, 'read-only-storage'),
      entry(b.out, 'storage'),
      entry(b.lse, 'storage'),
      entry(b.tables, 'read-only-storage'),
    ],
  });
}

/**
 * Compile `code` (generated for pattern `patternKey`) into a pipeline. Throws `TesseraError` TP406 with the
 * WGSL line on a compilation error and TP407 on a validation error.
 */
export async function compileAttentionKernel(
  device: GPUDevice,
  patternKey: string,
  code: string,
  entryPoint = 'main',
): Promise<CompiledKernel> {
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ label: `${patternKey}.wgsl`, code });
  const info = await module.getCompilationInfo();
  const errors = info.messages.filter((m) => m.type === 'error');
  if (errors.length > 0) {
    await device.popErrorScope();
    throw wgslCompileError(patternKey, code, errors);
  }
  const bindGroupLayout = attentionBindGroupLayout(device);
  const pipeline = device.createComputePipeline({
    label: patternKey,
    layout: device.createPipelineLayout({ bindGroupLayouts: [bindGroupLayout] }),
    compute: { module, entryPoint },
  });
  const error = await device.popErrorScope();
  if (error) throw wgslPipelineError(patternKey, error.message);
  return { pipeline, bindGroupLayout };
}
