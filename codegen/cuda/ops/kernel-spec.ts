/**
 * The model kernels' common shape: a kernel is a name, a parameter table and a body. The CUDA signature and
 * the host-side argument packing both come from the parameter table, so a launch cannot pass arguments the
 * kernel does not expect (the same rule as the attention kernel's `TpAttnParams`, codegen/cuda/kernel-params.ts).
 */

/** Parameter types a model kernel takes. */
export type ModelParamType = 'ptr' | 'i64' | 'i32' | 'f32';

/** One kernel parameter: its name, type and C spelling. */
export interface ModelKernelParam {
  readonly name: string;
  readonly type: ModelParamType;
  /** C type (pointers say what they point to: `const bf16*` for a bf16 input). */
  readonly ctype: string;
}

/** One generated kernel. */
export interface ModelKernelSpec {
  /** `extern "C"` symbol, `tp_` prefixed. */
  readonly name: string;
  /** One line: what it computes. */
  readonly doc: string;
  /** Threads per CTA the launcher uses (and `__launch_bounds__`). */
  readonly threads: number;
  readonly params: readonly ModelKernelParam[];
  /** The body, indented two spaces. */
  readonly body: string;
}

const SIZE: Record<ModelParamType, number> = { ptr: 8, i64: 8, i32: 4, f32: 4 };

/** Shorthands for parameter tables. */
export const param = {
  in: (name: string, type = 'bf16'): ModelKernelParam => ({ name, type: 'ptr', ctype: `const ${type}*` }),
  out: (name: string, type = 'bf16'): ModelKernelParam => ({ name, type: 'ptr', ctype: `${type}*` }),
  i64: (name: string): ModelKernelParam => ({ name, type: 'i64', ctype: 'long long' }),
  i32: (name: string): ModelKernelParam => ({ name, type: 'i32', ctype: 'int' }),
  f32: (name: string): ModelKernelParam => ({ name, type: 'f32', ctype: 'float' }),
};

/** The kernel's CUDA definition. */
export function renderKernel(spec: ModelKernelSpec): string {
  const params = spec.params.map((p) => `${p.ctype} ${p.name}`).join(', ');
  return `// ${spec.doc}
extern "C" __global__ void __launch_bounds__(${spec.threads}) ${spec.name}(${params}) {
${spec.body.replace(/\s+$/, '')}
}
`;
}

/** Argument values by parameter name: device addresses as bigint, the rest as numbers. */
export type ModelKernelArgs = Readonly<Record<string, bigint | number>>;

/**
 * Pack arguments as the kernel's parameter buffer (cuLaunchKernel's CU_LAUNCH_PARAM_BUFFER_POINTER): each
 * value at its natural alignment, in declaration order, little-endian, the buffer ending at the last one.
 */
export function packKernelArgs(spec: ModelKernelSpec, args: ModelKernelArgs): Uint8Array {
  let size = 0;
  const offsets = spec.params.map((p) => {
    size = Math.ceil(size / SIZE[p.type]) * SIZE[p.type];
    const at = size;
    size += SIZE[p.type];
    return at;
  });
  // Exactly the parameters' extent: cuLaunchKernel rejects a buffer longer than the kernel's parameter list
  // (CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES), so no tail padding to the struct alignment.
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  spec.params.forEach((p, i) => {
    const v = args[p.name];
    if (v === undefined) throw new RangeError(`${spec.name}: no value for parameter '${p.name}'`);
    const at = offsets[i]!;
    if (p.type === 'ptr' || p.type === 'i64') view.setBigInt64(at, BigInt(v), true);
    else if (p.type === 'i32') view.setInt32(at, Number(v), true);
    else view.setFloat32(at, Number(v), true);
  });
  return bytes;
}
