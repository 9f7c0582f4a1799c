/**
 * The model kernel module on a device: compiled once through the cubin cache (`CudaDevice.loadKernel`), then
 * launched by role with arguments packed from the kernel's own parameter table.
 */
import {
  MODEL_KERNELS,
  type ModelKernelArgs,
  type ModelKernelRole,
  packKernelArgs,
  renderModelKernelModule,
} from '../../codegen/cuda/ops/index.js';
import type { CudaDevice, LoadedKernel } from './device.js';

/** Grid-stride kernels never need more CTAs than this to fill an H100 several times over. */
const MAX_BLOCKS = 65535;

/** The loaded model kernels of one device. */
export class ModelKernels {
  private readonly loaded: Record<string, LoadedKernel> = {};

  constructor(private readonly device: CudaDevice) {
    const source = renderModelKernelModule();
    for (const spec of Object.values(MODEL_KERNELS))
      this.loaded[spec.name] = device.loadKernel(source, spec.name, 0);
  }

  /** Launch `role` over `total` elements with a grid-stride loop (asynchronous). */
  elementwise(role: ModelKernelRole, total: number, args: ModelKernelArgs): void {
    if (total === 0) return;
    const spec = MODEL_KERNELS[role];
    const blocks = Math.min(MAX_BLOCKS, Math.ceil(total / spec.threads));
    this.launch(role, blocks, args);
  }

  /** Launch `role` on `blocks` CTAs (asynchronous). */
  launch(role: ModelKernelRole, blocks: number, args: ModelKernelArgs): void {
    if (blocks === 0) return;
    const spec = MODEL_KERNELS[role];
    this.device.launch(this.loaded[spec.name]!, [blocks, 1, 1], spec.threads, packKernelArgs(spec, args));
  }
}
