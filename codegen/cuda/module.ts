/**
 * A CUDA module for one plan: the kernels are templates in real headers (codegen/cuda/kernels/tessera/*.cuh);
 * the module holds only what depends on the plan. It reads, top to bottom:
 *
 *   a DO-NOT-EDIT header naming the pattern, block shape, sparsity and key walk
 *   #include "tessera/tessera.cuh"              device helpers
 *   struct TpAttnParams { ... };                 the kernel parameters, from kernel-params.ts' table
 *   the pattern header                           constants, token decode, mask terms, key walk (pattern-header.ts)
 *   #include "tessera/attention_sm90.cuh"        (or _sm80) the kernel template
 *   one extern "C" instance per head dim and dtype, with its launch bounds and a static_assert that the launch
 *   facts the manifest gives (threads, dynamic shared memory) are the kernel's
 *
 * With `headers: 'inline'` (the default, and what NVRTC compiles: it is given one source string) each include is
 * replaced by the header text; with `headers: 'include'` (what `tessera compile` writes, beside the headers)
 * the includes stay.
 */
import type { BlockPlan } from '../../compiler/plan/plan.js';
import { inlineKernelHeaders } from './headers.js';
import {
  type CudaInstance,
  type CudaKernel,
  type CudaKernelFamily,
  type CudaKernelOptions,
  type CudaKernelTuning,
  cudaInstance,
  FAMILY_ARCH,
} from './kernel-options.js';
import {
  ATTN_PARAM_FIELDS,
  ATTN_PARAM_FIELDS_SM90A,
  ATTN_PARAM_STRUCT,
  renderParams,
} from './kernel-params.js';
import { renderPatternHeader } from './pattern-header.js';

/** How a module gets the kernel headers: pasted in, or `#include`d from `tessera/` beside it. */
export type HeaderForm = 'inline' | 'include';

/** A source file holding several instances of one plan's kernel, all of one family. */
export interface CudaModule {
  readonly source: string;
  readonly kernels: readonly Omit<CudaKernel, 'source'>[];
  readonly family: CudaKernelFamily;
}

const ELEMENT: Record<CudaKernel['dtype'], string> = { bfloat16: 'TpBf16', float16: 'TpFp16' };

/** The family's kernel header and the template its instances name. */
const FAMILY_KERNEL: Record<CudaKernelFamily, { header: string; template: string }> = {
  mma: { header: 'tessera/attention_sm80.cuh', template: 'TpAttentionSm80' },
  wgmma: { header: 'tessera/attention_sm90.cuh', template: 'TpAttentionSm90' },
};
/** The warp-specialised `wgmma` kernel's header and template. */
const WS_KERNEL = { header: 'tessera/attention_sm90_ws.cuh', template: 'TpAttentionSm90Ws' };

/** The header and template of an instance. */
function instanceKernel(o: CudaInstance): { header: string; template: string } {
  return o.family === 'wgmma' && o.tuning.warpSpecialized ? WS_KERNEL : FAMILY_KERNEL[o.family];
}

/** The `mma` tuning in words, for the instance's comment line. */
function describeTuning(t: CudaKernelTuning): string {
  const unroll = t.scoreChunkUnroll > 0 ? `, S loop unrolled by ${t.scoreChunkUnroll}` : '';
  const q = t.qInRegisters ? 'Q in registers' : 'Q reloaded from shared memory';
  const ctas = t.minBlocksPerSm === 1 ? '1 CTA' : `${t.minBlocksPerSm} CTAs`;
  return `${t.warpRows} query rows per warp, ${q}${unroll}, ${ctas} per SM`;
}

/** One `extern "C"` instance of the family's template. */
function renderInstance(o: CudaInstance): string {
  const k = o.kernel;
  const { template } = instanceKernel(o);
  const ws = o.family === 'wgmma' ? o.tuning.warpSpecialized : undefined;
  const args =
    o.family === 'mma'
      ? [
          k.headDim,
          ELEMENT[k.dtype],
          k.tileK,
          o.tuning.warpRows,
          o.tuning.qInRegisters,
          o.tuning.scoreChunkUnroll,
        ]
      : ws
        ? [k.headDim, ELEMENT[k.dtype], k.tileK, o.stages, ws.pingPong, ws.persistent]
        : [k.headDim, ELEMENT[k.dtype], k.tileK];
  const how =
    o.family === 'mma'
      ? describeTuning(o.tuning)
      : ws
        ? `a TMA producer and 2 consumer warpgroups, ${o.stages} K/V stages${ws.pingPong ? ', ping-pong' : ''}${ws.persistent ? ', persistent grid' : ''}`
        : `${k.threads / 128} warpgroups`;
  const param =
    o.family === 'wgmma' ? `const __grid_constant__ ${ATTN_PARAM_STRUCT} p` : `const ${ATTN_PARAM_STRUCT} p`;
  return [
    `// Head dim ${k.headDim}, ${k.dtype}: ${k.tileK}-key tiles, ${how}; ${k.threads} threads, ${k.sharedBytes} B of dynamic shared memory.`,
    `extern "C" __global__ void __launch_bounds__(${k.threads}, ${o.tuning.minBlocksPerSm})`,
    `${k.name}(${param}) {`,
    `  using Kernel = ${template}<${args.join(', ')}>;`,
    `  static_assert(Kernel::kThreads == ${k.threads} && Kernel::kSharedBytes == ${k.sharedBytes}, "as in the launch manifest");`,
    '  Kernel::run(p);',
    '}',
  ].join('\n');
}

/**
 * Render one source file with a kernel per (head dim, dtype) instance for a plan. Throws TP4xx
 * {@link TesseraError}s for shapes the kernels do not support.
 */
export function renderCudaModule(
  plan: BlockPlan,
  instances: readonly CudaKernelOptions[],
  headers: HeaderForm = 'inline',
): CudaModule {
  const family = instances[0]?.family ?? 'mma';
  if (instances.some((o) => (o.family ?? 'mma') !== family)) {
    throw new RangeError(
      'renderCudaModule: every instantiation of one source file must be of one kernel family',
    );
  }
  const parts = instances.map((o) => cudaInstance(plan, o));
  const s = plan.stats;
  const fields = family === 'wgmma' ? ATTN_PARAM_FIELDS_SM90A : ATTN_PARAM_FIELDS;
  const arch = FAMILY_ARCH[family];
  const lines = [
    '// Generated by tessera (codegen/cuda). DO NOT EDIT.',
    `// Pattern ${plan.pattern.key}, plan ${plan.key}: ${plan.seqLen} tokens, blocks ${plan.blockQ} x ${plan.blockK}.`,
    `// Blocks: ${s.full} full, ${s.partial} partial, ${s.empty} empty of ${s.total} (sparsity ${(100 * s.sparsity).toFixed(1)}%);` +
      ` key walk: ${plan.closedForm ? `closed form '${plan.closedForm.kind}'` : 'CSR tables'}.`,
    `// ${parts.length === 1 ? '1 kernel' : `${parts.length} kernels`}, fp32 accumulation; 1-d grid of query blocks x batch x heads (codegen/cuda/cta-order.ts).`,
    ...(arch ? [`// Target: ${arch} only (warpgroup wgmma).`] : []),
    '// The kernel is a template in tessera/*.cuh (codegen/cuda/kernels in the tessera package); this file holds',
    '// what depends on the plan: its constants, token decode, mask and key walk, and the instances.',
    '',
    '#include "tessera/tessera.cuh"',
    '',
    `// Kernel parameters, one struct passed by value (codegen/cuda/kernel-params.ts; the launch manifest has its layout).`,
    renderParams(fields, 'struct', ATTN_PARAM_STRUCT),
    '',
    renderPatternHeader(plan),
    '',
    ...[
      ...new Set(
        parts.length > 0 ? parts.map((p) => instanceKernel(p).header) : [FAMILY_KERNEL[family].header],
      ),
    ].map((h) => `#include "${h}"`),
    '',
    ...parts.flatMap((p) => [renderInstance(p), '']),
  ];
  const text = lines.join('\n');
  return {
    source: headers === 'inline' ? inlineKernelHeaders(text) : text,
    kernels: parts.map((p) => p.kernel),
    family,
  };
}

/** Render the kernel for one head dim and dtype. Throws TP4xx {@link TesseraError}s for unsupported shapes. */
export function renderCudaKernel(plan: BlockPlan, options: CudaKernelOptions): CudaKernel {
  const module = renderCudaModule(plan, [options]);
  return { ...module.kernels[0]!, source: module.source };
}
