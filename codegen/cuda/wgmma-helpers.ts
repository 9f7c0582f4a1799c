/**
 * Device helpers of the Hopper (sm_90a) attention kernel: shared-memory matrix descriptors, the warpgroup
 * fences, and one `wgmma.mma_async` wrapper per operand shape the kernel issues. They go after `tessera.cuh`
 * in sources compiled for sm_90a only (`wgmma` does not exist on other targets).
 *
 * Conventions, checked on an H100 by scripts/gpu/wgmma-probe.cu and tma-probe.cu:
 * - Q in shared memory uses the no-swizzle "row-group" layout: 8-row x 16-byte core matrices, each
 *   128 contiguous bytes, the `kHeadDim / 8` core matrices of an 8-row group side by side `kCoreStride` bytes
 *   apart, groups one after another: byte offset (row, col) = (row / 8) * kGroupBytes + (col / 8) * kCoreStride
 *   + (row % 8) * 16 + (col % 8) * 2 with kGroupBytes = kCoreStride * D / 8. The probe used kCoreStride = 128;
 *   the kernel uses 144, so that the chunks of one row land in different banks when a warp copies a row.
 * - Without swizzle, a descriptor's leading byte offset (LBO) is the step between core matrices along K and
 *   its stride byte offset (SBO) the step along M or N, for K-major and MN-major (transposed) operands alike.
 * - K and V tiles are slabs of 32 columns x kTileK rows of 64 bytes with the 64-byte swizzle (as the tensor
 *   copies write them): K (K-major) takes SBO = 512 (8 rows) and steps 32 bytes per 16 columns inside a slab;
 *   V (MN-major, read transposed) takes LBO = the slab size (next 32 columns of N) and SBO = 512.
 * - Accumulators: a thread of warp w (of the warpgroup) holds, in register i, row 16 w + lane / 4 + 8 ((i / 2) % 2)
 *   and column 8 (i / 4) + 2 (lane % 4) + i % 2, the mma.m16n8 layout repeated along N; register A operands
 *   use the mma.m16n8k16 A-fragment layout, so S repacks into P without leaving registers.
 */
import type { CudaDType } from './kernel-source.js';

const WGMMA_TYPE: Record<CudaDType, string> = { bfloat16: 'bf16', float16: 'f16' };

/** `TpTensorMap`: a CUtensorMap (128 opaque bytes, 64-byte aligned), encoded on the host. */
export const TP_TENSOR_MAP_STRUCT = [
  '// A CUtensorMap (128 opaque bytes, 64-byte aligned), encoded on the host by cuTensorMapEncodeTiled.',
  'struct alignas(64) TpTensorMap { unsigned long long opaque[16]; };',
].join('\n');

/** `{%first, ..., %(first + count - 1)}`. */
function registerList(first: number, count: number): string {
  return `{${Array.from({ length: count }, (_, i) => `%${first + i}`).join(', ')}}`;
}

/** `"+f"(d[0]), ...` (or `"=f"`): the accumulator operands of one wrapper. */
function accumulatorOperands(count: number, constraint: '+f' | '=f'): string {
  return Array.from({ length: count }, (_, i) => `"${constraint}"(d[${i}])`).join(', ');
}

/**
 * S = Q K^T step: both operands from shared memory (K-major), N = `n`. `first` overwrites the accumulators
 * (scale-d = 0), so they are pure outputs and do not stay live between tiles; otherwise it accumulates.
 */
function sharedSharedWrapper(dtype: CudaDType, n: number, first: boolean): string {
  const regs = n / 2;
  const name = `tp_wgmma_ss_n${n}${first ? '_first' : ''}`;
  const t = WGMMA_TYPE[dtype];
  return [
    `TP_DEVICE void ${name}(float (&d)[${regs}], unsigned long long desc_a, unsigned long long desc_b) {`,
    '  asm volatile(',
    `      "wgmma.mma_async.sync.aligned.m64n${n}k16.f32.${t}.${t} "`,
    `      "${registerList(0, regs)}, %${regs}, %${regs + 1}, ${first ? 0 : 1}, 1, 1, 0, 0;\\n"`,
    `      : ${accumulatorOperands(regs, first ? '=f' : '+f')}`,
    '      : "l"(desc_a), "l"(desc_b)',
    '      : "memory");',
    '}',
  ].join('\n');
}

/** O += P V step: A (P) from registers, B (V) from shared memory read transposed (MN-major), N = `n`. */
function registerSharedWrapper(dtype: CudaDType, n: number): string {
  const regs = n / 2;
  const t = WGMMA_TYPE[dtype];
  return [
    `TP_DEVICE void tp_wgmma_rs_n${n}(float (&d)[${regs}], const unsigned (&a)[4], unsigned long long desc_b) {`,
    '  asm volatile(',
    `      "wgmma.mma_async.sync.aligned.m64n${n}k16.f32.${t}.${t} "`,
    `      "${registerList(0, regs)}, ${registerList(regs, 4)}, %${regs + 4}, 1, 1, 1, 1;\\n"`,
    `      : ${accumulatorOperands(regs, '+f')}`,
    '      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b)',
    '      : "memory");',
    '}',
  ].join('\n');
}

/**
 * The sm_90a helper block for one dtype: the descriptor builder, fences, and the wrappers for S (N = the key
 * tile) and O (N = the head dim).
 */
export function renderWgmmaHelpers(dtype: CudaDType, keyTile: number, headDim: number): string {
  return [
    '// ---- sm_90a: wgmma descriptors, fences and wrappers -----------------------------------------------',
    '// Shared-memory matrix descriptor, no swizzle: start address, LBO (step along K) and SBO (step along M/N),',
    '// each in 16-byte units.',
    'TP_DEVICE unsigned long long tp_desc(unsigned addr, unsigned lbo, unsigned sbo, unsigned swizzle = 0) {',
    '  return static_cast<unsigned long long>((addr >> 4) & 0x3fffu) |',
    '         (static_cast<unsigned long long>((lbo >> 4) & 0x3fffu) << 16) |',
    '         (static_cast<unsigned long long>((sbo >> 4) & 0x3fffu) << 32) |',
    '         (static_cast<unsigned long long>(swizzle) << 62);',
    '}',
    'constexpr unsigned kSwizzle64 = 2;  // descriptor layout type of the 64-byte swizzle',
    '',
    TP_TENSOR_MAP_STRUCT,
    '// mbarriers: a stage\'s "tile landed" barrier, completed by the bulk copies\' byte count.',
    'TP_DEVICE void tp_mbar_init(unsigned bar, int count) {',
    '  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\\n" ::"r"(bar), "r"(count) : "memory");',
    '}',
    'TP_DEVICE void tp_mbar_expect_bytes(unsigned bar, unsigned bytes) {',
    '  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\\n" ::"r"(bar), "r"(bytes) : "memory");',
    '}',
    'TP_DEVICE void tp_mbar_wait(unsigned bar, unsigned parity) {',
    '  asm volatile(',
    '      "{\\n.reg .pred done;\\nTP_WAIT:\\nmbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\\n@!done bra TP_WAIT;\\n}\\n" ::"r"(bar),',
    '      "r"(parity)',
    '      : "memory");',
    '}',
    '// A 4-d box of the tensor map into shared memory, counted on mbarrier `bar`.',
    'TP_DEVICE void tp_tma_load_4d(unsigned dst, const TpTensorMap* map, int c0, int c1, int c2, int c3, unsigned bar) {',
    '  asm volatile(',
    '      "cp.async.bulk.tensor.4d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3, %4, %5}], [%6];\\n" ::"r"(dst),',
    '      "l"(reinterpret_cast<unsigned long long>(map)), "r"(c0), "r"(c1), "r"(c2), "r"(c3), "r"(bar)',
    '      : "memory");',
    '}',
    "// Orders this thread's register and shared-memory accesses before the wgmma that follow.",
    'TP_DEVICE void tp_wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\\n" ::: "memory"); }',
    'TP_DEVICE void tp_wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\\n" ::: "memory"); }',
    'TP_DEVICE void tp_wgmma_wait_all() { asm volatile("wgmma.wait_group.sync.aligned 0;\\n" ::: "memory"); }',
    '// All but the most recent group done.',
    'TP_DEVICE void tp_wgmma_wait_1() { asm volatile("wgmma.wait_group.sync.aligned 1;\\n" ::: "memory"); }',
    '// Pins accumulator registers after a wait: without it the compiler may read them before the wgmma land.',
    'template <int N> TP_DEVICE void tp_fence_regs(float (&d)[N]) {',
    '#pragma unroll',
    '  for (int i = 0; i < N; ++i) asm volatile("" : "+f"(d[i])::"memory");',
    '}',
    '// The same for 16-bit A operands that an in-flight wgmma reads: they stay live (unreused) until here.',
    'template <int M> TP_DEVICE void tp_fence_regs(unsigned (&a)[M][4]) {',
    '#pragma unroll',
    '  for (int i = 0; i < M; ++i)',
    '#pragma unroll',
    '    for (int j = 0; j < 4; ++j) asm volatile("" : "+r"(a[i][j])::"memory");',
    '}',
    '// Shared memory written through the generic proxy (cp.async) is read next by wgmma (the async proxy).',
    'TP_DEVICE void tp_fence_proxy_async() { asm volatile("fence.proxy.async.shared::cta;\\n" ::: "memory"); }',
    '// Barrier over `threads` threads (one warpgroup) with its own id, so warpgroups do not wait on each other.',
    'TP_DEVICE void tp_bar_sync(int id, int threads) { asm volatile("bar.sync %0, %1;\\n" ::"r"(id), "r"(threads) : "memory"); }',
    '',
    sharedSharedWrapper(dtype, keyTile, true),
    sharedSharedWrapper(dtype, keyTile, false),
    registerSharedWrapper(dtype, headDim),
    '// ---- end of sm_90a helpers ------------------------------------------------------------------------',
  ].join('\n');
}
