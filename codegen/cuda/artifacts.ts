/**
 * What `tessera compile --target cuda` writes for a plan: `<key>.cu` holding the `mma` kernel (sm_80 and newer)
 * and `<key>.sm90a.cu` holding the Hopper `wgmma` kernel, each for every supported head dim and dtype, and a
 * JSON launch manifest (kernel names, source file, target, threads, shared memory, grid, the parameter struct
 * layout) so a program that ships the kernels can launch them without tessera. Pure: the CLI writes the files,
 * and compiles each `.cu` for its targets ({@link cubinArchsFor}) when nvcc is installed.
 */
import type { BlockPlan } from '../../compiler/plan.js';
import { ATTN_PARAM_BYTES, ATTN_PARAM_FIELDS } from './kernel-params.js';
import {
  CUDA_HEAD_DIMS,
  type CudaDType,
  type CudaKernelFamily,
  type CudaKernelOptions,
  FAMILY_ARCH,
  renderCudaModule,
} from './kernel-source.js';
import { CUBIN_ARCHS } from './nvcc.js';

export { compileWithNvcc, findNvcc } from './nvcc.js';

/** The source file of a family: `<key>.cu` for `mma`, `<key>.sm90a.cu` for `wgmma`. */
export function cudaSourcePath(planKey: string, family: CudaKernelFamily): string {
  return family === 'mma' ? `${planKey}.cu` : `${planKey}.${FAMILY_ARCH[family]!.replace('_', '')}.cu`;
}

/** The targets a written `.cu` is compiled for: its family's own arch, or Ampere and Hopper for `mma`. */
export function cubinArchsFor(path: string): readonly string[] {
  return path.endsWith('.sm90a.cu') ? ['sm_90a'] : CUBIN_ARCHS;
}

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

/** The instantiations of one family for a set of options. */
export function cudaInstances(
  options: CudaArtifactOptions = {},
  family: CudaKernelFamily = 'mma',
): CudaKernelOptions[] {
  const headDims = options.headDims ?? CUDA_HEAD_DIMS;
  const dtypes = options.dtypes ?? (['bfloat16', 'float16'] as const);
  return dtypes.flatMap((dtype) => headDims.map((headDim) => ({ headDim, dtype, family })));
}

const FAMILIES: readonly CudaKernelFamily[] = ['mma', 'wgmma'];

/** Files for the CUDA target: `<plan key>.cu`, `<plan key>.sm90a.cu` and `<plan key>.cuda.json`. */
export function emitCudaArtifacts(
  plan: BlockPlan,
  sourceName?: string,
  options: CudaArtifactOptions = {},
): { files: CudaArtifact[] } {
  const modules = FAMILIES.map((family) => ({
    family,
    path: cudaSourcePath(plan.key, family),
    module: renderCudaModule(plan, cudaInstances(options, family)),
  }));
  const from = sourceName ? `// Source: ${sourceName}\n` : '';
  const manifest = {
    generatedBy: 'tessera codegen/cuda; DO NOT EDIT',
    plan: plan.key,
    seqLen: plan.seqLen,
    blockQ: plan.blockQ,
    blockK: plan.blockK,
    grid: 'x = numQBlocks (query block = schedule[blockIdx.x]), y = batch * heads',
    numQBlocks: plan.numQBlocks,
    kernels: modules.flatMap(({ family, path, module }) =>
      module.kernels.map((k) => ({ ...k, source: path, target: FAMILY_ARCH[family] ?? 'sm_80 or newer' })),
    ),
    params: {
      struct: 'TpAttnParams',
      bytes: ATTN_PARAM_BYTES,
      fields: ATTN_PARAM_FIELDS.map((f) => ({ name: f.name, type: f.ctype })),
    },
  };
  return {
    files: [
      ...modules.map(({ path, module }) => ({ path, contents: module.source.replace('\n', `\n${from}`) })),
      { path: `${plan.key}.cuda.json`, contents: `${JSON.stringify(manifest, null, 2)}\n` },
    ],
  };
}
