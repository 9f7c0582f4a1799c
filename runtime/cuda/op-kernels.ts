/**
 * Op kernel modules on a device (codegen/cuda/ops): compiled once through the cubin cache
 * (`CudaDevice.loadKernel`), then launched by role with arguments packed from the kernel's own parameter table.
 */
import { type ParamValues, packParams } from '../../codegen/cuda/kernel-params.js';
import {
  MODEL_KERNELS,
  type ModelKernelRole,
  type OpKernelSpec,
  renderModelKernelModule,
} from '../../codegen/cuda/ops/index.js';
import type { CudaDevice, LoadedKernel } from './device.js';

/** Grid-stride kernels never need more CTAs than this to fill an H100 several times over. */
const MAX_BLOCKS = 65535;

/** The loaded kernels of one op module, by role. */
export class OpKernels<Role extends string> {
  private readonly loaded: Record<string, LoadedKernel> = {};

  /** Load every kernel of `specs` from `source`, the module they are rendered into. */
  constructor(
    private readonly device: CudaDevice,
    private readonly specs: Readonly<Record<Role, OpKernelSpec>>,
    source: string,
  ) {
    for (const spec of Object.values<OpKernelSpec>(specs))
      this.loaded[spec.name] = device.loadKernel(source, spec.name, 0);
  }

  /** Launch `role` over `total` elements with a grid-stride loop (asynchronous). */
  elementwise(role: Role, total: number, args: ParamValues): void {
    if (total === 0) return;
    const spec = this.specs[role];
    const blocks = Math.min(MAX_BLOCKS, Math.ceil(total / spec.threads));
    this.launch(role, blocks, args);
  }

  /** Launch `role` on `blocks` CTAs (asynchronous). */
  launch(role: Role, blocks: number, args: ParamValues): void {
    if (blocks === 0) return;
    const spec = this.specs[role];
    const packed = packParams(spec.params, 'list', args, spec.name);
    this.device.launch(this.loaded[spec.name]!, [blocks, 1, 1], spec.threads, packed);
  }
}

/** The model kernel module of one device. */
export class ModelKernels extends OpKernels<ModelKernelRole> {
  constructor(device: CudaDevice) {
    super(device, MODEL_KERNELS, renderModelKernelModule());
  }
}
