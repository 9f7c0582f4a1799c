/**
 * What `tessera compile --target cuda` writes for a plan: `<key>.cu` holding the `mma` kernel (sm_80 and newer)
 * and `<key>.sm90a.cu` holding the Hopper `wgmma` kernel, each instantiated for every supported head dim and
 * dtype, the kernel headers they include (`tessera/*.cuh`, beside them, so `nvcc <key>.cu` finds them), and a
 * JSON launch manifest (kernel names, source file, headers, target, threads, shared memory, grid, the parameter
 * struct layout) so a program that ships the kernels can launch them without tessera. Pure: the CLI writes the
 * files, and compiles each `.cu` for its targets ({@link cubinArchsFor}) when nvcc is installed.
 */
import type { BlockPlan } from '../../compiler/plan/plan.js';
import { heavyQueryBlocks } from './cta-order.js';
import { includedHeaders, kernelHeader } from './headers.js';
import {
  CUDA_HEAD_DIMS,
  type CudaDType,
  type CudaKernelFamily,
  type CudaKernelOptions,
  FAMILY_ARCH,
} from './kernel-options.js';
import {
  ATTN_PARAM_FIELDS,
  ATTN_PARAM_FIELDS_SM90A,
  ATTN_PARAM_STRUCT,
  paramLayout,
} from './kernel-params.js';
import { renderCudaModule } from './module.js';
import { CUBIN_ARCHS } from './nvcc.js';

export { compileWithNvcc, findNvcc } from './nvcc.js';

const FAMILIES: readonly CudaKernelFamily[] = ['mma', 'wgmma'];

/** The file-name suffix of a family's source: `.cu`, or `.<arch>.cu` for a family bound to one arch. */
function sourceSuffix(family: CudaKernelFamily): string {
  const arch = FAMILY_ARCH[family];
  return arch === null ? '.cu' : `.${arch.replace('_', '')}.cu`;
}

/** The source file of a family: `<key>.cu` for `mma`, `<key>.sm90a.cu` for `wgmma`. */
export function cudaSourcePath(planKey: string, family: CudaKernelFamily): string {
  return `${planKey}${sourceSuffix(family)}`;
}

/** The targets a written `.cu` is compiled for: its family's own arch, or Ampere and Hopper for `mma`. */
export function cubinArchsFor(path: string): readonly string[] {
  const arch = FAMILIES.map((f) => FAMILY_ARCH[f]).find(
    (a) => a !== null && path.endsWith(`.${a.replace('_', '')}.cu`),
  );
  return arch ? [arch] : CUBIN_ARCHS;
}

/** The parameter struct of a family's kernels, for the manifest. */
function paramsOf(family: CudaKernelFamily) {
  const fields = family === 'wgmma' ? ATTN_PARAM_FIELDS_SM90A : ATTN_PARAM_FIELDS;
  return {
    struct: ATTN_PARAM_STRUCT,
    bytes: paramLayout(fields, 'struct').bytes,
    fields: fields.map((f) => ({ name: f.name, type: f.ctype })),
  };
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

/**
 * Files for the CUDA target: `<plan key>.cu`, `<plan key>.sm90a.cu`, the headers they include
 * (`tessera/*.cuh`) and `<plan key>.cuda.json`.
 */
export function emitCudaArtifacts(
  plan: BlockPlan,
  sourceName?: string,
  options: CudaArtifactOptions = {},
): { files: CudaArtifact[] } {
  const modules = FAMILIES.map((family) => ({
    family,
    path: cudaSourcePath(plan.key, family),
    module: renderCudaModule(plan, cudaInstances(options, family), 'include'),
  }));
  const headers = [...new Set(modules.flatMap(({ module }) => includedHeaders(module.source)))];
  const from = sourceName ? `// Source: ${sourceName}\n` : '';
  const manifest = {
    generatedBy: 'tessera codegen/cuda; DO NOT EDIT',
    plan: plan.key,
    seqLen: plan.seqLen,
    blockQ: plan.blockQ,
    blockK: plan.blockK,
    grid: 'x = numQBlocks * batch * heads, in the order of tp_cta_work (heavy query blocks run lookahead heads ahead of the light ones)',
    heavyBlocks: heavyQueryBlocks(plan),
    numQBlocks: plan.numQBlocks,
    headers,
    kernels: modules.flatMap(({ family, path, module }) =>
      module.kernels.map((k) => ({ ...k, source: path, target: FAMILY_ARCH[family] ?? 'sm_80 or newer' })),
    ),
    // Per family: the wgmma kernels' struct starts with two CUtensorMaps (K, V) and is 64-byte aligned.
    params: Object.fromEntries(FAMILIES.map((family) => [family, paramsOf(family)])),
  };
  return {
    files: [
      ...modules.map(({ path, module }) => ({ path, contents: module.source.replace('\n', `\n${from}`) })),
      ...headers.map((path) => ({ path, contents: kernelHeader(path) })),
      { path: `${plan.key}.cuda.json`, contents: `${JSON.stringify(manifest, null, 2)}\n` },
    ],
  };
}
