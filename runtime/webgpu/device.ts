/// <reference types="@webgpu/types" />
/**
 * Opening a device for the attention kernels: request exactly the features and limits they use, checked
 * against what the adapter reports, and describe what the device can do as capabilities tests can iterate.
 */
import { WGSL_STORAGE_BUFFERS } from '../../codegen/wgsl/bindings.js';
import type { WgslDeviceLimits } from '../../codegen/wgsl/kernel-config.js';
import { GALLIVM_LOOP_BUDGET } from '../../codegen/wgsl/loop-budget.js';
import { WebGpuUnavailableError } from './errors.js';

/** What the backend's device supports; tests pick kernel variants from this, never from a backend name. */
export interface WebGpuCapabilities {
  /** f16 storage and arithmetic (`shader-f16`): the f16 I/O kernels. */
  readonly f16: boolean;
  /** Subgroup operations (`subgroups`): the kernel variant that splits a row over 4 lanes. */
  readonly subgroups: boolean;
  /** Limits the device was created with; kernels are sized to fit them. */
  readonly limits: WgslDeviceLimits;
  /** Adapter description, for reports. */
  readonly adapter: string;
}

/** An open device and what it can do. */
export interface OpenDevice {
  readonly device: GPUDevice;
  readonly capabilities: WebGpuCapabilities;
}

/** Largest workgroup the kernels ever ask for (a 256-row query block split over 4 lanes). */
const MAX_WORKGROUP = 1024;
/** Workgroup memory the kernels can use well; more buys nothing at head dim 128. */
const MAX_WORKGROUP_STORAGE = 32768;

/**
 * Mesa's software rasterisers (llvmpipe under OpenGL ES, lavapipe under Vulkan) compile shaders with gallivm,
 * which ends every loop of an invocation after a fixed total of iterations (codegen/wgsl/loop-budget.ts).
 * WebGPU exposes no limit for it, so it is recognised by the adapter's name.
 */
function isGallivm(description: string): boolean {
  return /llvmpipe|lavapipe/i.test(description);
}

/** Request a device from `adapter` with the kernels' features and limits. */
export async function openDevice(adapter: GPUAdapter): Promise<OpenDevice> {
  const a = adapter.limits;
  if (a.maxStorageBuffersPerShaderStage < WGSL_STORAGE_BUFFERS) {
    throw new WebGpuUnavailableError(
      `the WebGPU adapter offers ${a.maxStorageBuffersPerShaderStage} storage buffers per shader stage; the attention kernels need ${WGSL_STORAGE_BUFFERS}`,
    );
  }
  const f16 = adapter.features.has('shader-f16');
  const subgroups = adapter.features.has('subgroups');
  const requiredFeatures: GPUFeatureName[] = [];
  if (f16) requiredFeatures.push('shader-f16');
  if (subgroups) requiredFeatures.push('subgroups');
  const info = adapter.info;
  const description = [info.vendor, info.architecture, info.device, info.description]
    .filter((s) => s)
    .join(' ');
  const workgroupLimits = {
    maxComputeWorkgroupStorageSize: Math.min(a.maxComputeWorkgroupStorageSize, MAX_WORKGROUP_STORAGE),
    maxComputeInvocationsPerWorkgroup: Math.min(a.maxComputeInvocationsPerWorkgroup, MAX_WORKGROUP),
    maxComputeWorkgroupSizeX: Math.min(a.maxComputeWorkgroupSizeX, MAX_WORKGROUP),
  };
  const limits: WgslDeviceLimits = isGallivm(description)
    ? { ...workgroupLimits, maxLoopIterations: GALLIVM_LOOP_BUDGET }
    : workgroupLimits;
  const device = await adapter.requestDevice({
    label: 'tessera attention',
    requiredFeatures,
    requiredLimits: {
      ...workgroupLimits,
      maxStorageBuffersPerShaderStage: WGSL_STORAGE_BUFFERS,
      maxStorageBufferBindingSize: a.maxStorageBufferBindingSize,
      maxBufferSize: a.maxBufferSize,
    },
  });
  return { device, capabilities: { f16, subgroups, limits, adapter: description || 'unknown adapter' } };
}
