/**
 * What `tessera compile --target cuda` writes for a plan: one `.cu` holding the kernel for every supported
 * head dim and dtype, and a JSON launch manifest (kernel names, threads, shared memory, grid, the parameter
 * struct layout) so a program that ships the kernels can launch them without tessera. Pure: the CLI writes
 * the files, and compiles the `.cu` with {@link compileWithNvcc} when nvcc is installed.
 */
import type { BlockPlan } from '../../compiler/plan.js';
import { ATTN_PARAM_BYTES, ATTN_PARAM_FIELDS } from './kernel-params.js';
import { CUDA_HEAD_DIMS, type CudaDType, type CudaKernelOptions, renderCudaModule } from './kernel-source.js';

export { compileWithNvcc, findNvcc } from './nvcc.js';

/** One emitted file. */
export interface CudaArtifact {
  readonly path: string;
  readonly contents: string;
}

/** Which instantiations to emit; defaults to every head dim in bfloat16 and float16. */
export interface CudaArtifactOptions {
  readonly headDims?: readonly number[];
  readonly dtypes?: readonly CudaDType[];
}

/** The instantiations for a set of options. */
export function cudaInstances(options: CudaArtifactOptions = {}): CudaKernelOptions[] {
  const headDims = options.headDims ?? CUDA_HEAD_DIMS;
  const dtypes = options.dtypes ?? (['bfloat16', 'float16'] as const);
  return dtypes.flatMap((dtype) => headDims.map((headDim) => ({ headDim, dtype })));
}

/** Files for the CUDA target: `<plan key>.cu` and `<plan key>.cuda.json`. */
export function emitCudaArtifacts(
  plan: BlockPlan,
  sourceName?: string,
  options: CudaArtifactOptions = {},
): { files: CudaArtifact[] } {
  const module = renderCudaModule(plan, cudaInstances(options));
  const from = sourceName ? `// Source: ${sourceName}\n` : '';
  const manifest = {
    generatedBy: 'tessera codegen/cuda; DO NOT EDIT',
    plan: plan.key,
    seqLen: plan.seqLen,
    blockQ: plan.blockQ,
    blockK: plan.blockK,
    grid: 'x = numQBlocks (query block = schedule[blockIdx.x]), y = batch * heads',
    numQBlocks: plan.numQBlocks,
    kernels: module.kernels,
    params: {
      struct: 'TpAttnParams',
      bytes: ATTN_PARAM_BYTES,
      fields: ATTN_PARAM_FIELDS.map((f) => ({ name: f.name, type: f.ctype })),
    },
  };
  return {
    files: [
      { path: `${plan.key}.cu`, contents: module.source.replace('\n', `\n${from}`) },
      { path: `${plan.key}.cuda.json`, contents: `${JSON.stringify(manifest, null, 2)}\n` },
    ],
  };
}
