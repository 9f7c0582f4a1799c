/**
 * Lazy access to the native addon (`build/Release/tessera_cuda.node`, built by cmake-js). Importing tessera
 * never loads it; the first CUDA call does, and a missing or unloadable addon becomes a readable reason.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What `probe()` reports. */
export interface NativeProbe {
  readonly available: boolean;
  readonly reason: string;
  readonly driverVersion: number;
  readonly devices: number;
}

/** Device facts `init()` reports. */
export interface NativeDeviceInfo {
  readonly name: string;
  readonly major: number;
  readonly minor: number;
  readonly multiprocessors: number;
  readonly maxSharedPerBlock: number;
  readonly totalMemory: number;
  readonly driverVersion: number;
}

/** A loaded kernel. */
export interface NativeFunction {
  readonly module: bigint;
  readonly fn: bigint;
  readonly registers: number;
  readonly localBytes: number;
}

/** What `gemmProbe()` reports: whether libcublasLt loaded, and its version. */
export interface NativeGemmProbe {
  readonly available: boolean;
  readonly reason: string;
  readonly version: number;
}

/**
 * One strided-batched GEMM (runtime/cuda/native/cublaslt.cc): row-major C[M, N] = alpha * A[M, K] * op(B)
 * (+ bias[N]), op(B) = B^T for B [N, K] (`transB`) or B for B [K, N]; fp32 accumulation. Leading dimensions and
 * batch strides are in elements; `bias` and `workspace` are 0n when absent.
 */
export interface NativeGemmDesc {
  readonly a: bigint;
  readonly b: bigint;
  readonly c: bigint;
  readonly bias: bigint;
  readonly workspace: bigint;
  readonly workspaceBytes: number;
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly lda: number;
  readonly ldb: number;
  readonly ldc: number;
  readonly transB: boolean;
  readonly batch: number;
  readonly strideA: number;
  readonly strideB: number;
  readonly strideC: number;
  readonly alpha: number;
  readonly inType: 'bfloat16' | 'float16' | 'float32';
  readonly outType: 'bfloat16' | 'float16' | 'float32';
}

/** What `ncclLoad()` reports: whether libnccl loaded (from which candidate), and its version code. */
export interface NativeNcclProbe {
  readonly available: boolean;
  readonly reason: string;
  /** NCCL_VERSION_CODE, e.g. 22703 for 2.27.3 (0 when not loaded). */
  readonly version: number;
  readonly path: string;
}

/** One buffer of a grouped NCCL exchange. */
export interface NativeNcclBuffer {
  readonly peer: number;
  readonly ptr: bigint;
  readonly bytes: number;
}

/** An instantiated CUDA graph (`graphInstantiate`). */
export interface NativeGraphExec {
  readonly exec: bigint;
  /** Nodes of the captured graph (kernels, copies, memsets). */
  readonly nodes: number;
}

/**
 * The addon's functions (see runtime/cuda/native/addon.cc); every failure throws an Error naming the call.
 * Launches, copies, fills, event records and GEMMs go to one stream that `init` creates (non-blocking, so it
 * can be captured into a CUDA graph).
 */
export interface NativeCuda {
  probe(): NativeProbe;
  init(ordinal: number): NativeDeviceInfo;
  nvrtcVersion(): [number, number];
  compile(source: string, kernelName: string, arch: string, options?: readonly string[]): Uint8Array;
  loadFunction(cubin: Uint8Array, kernelName: string, dynamicSharedBytes: number): NativeFunction;
  unloadModule(module: bigint): void;
  launch(
    fn: bigint,
    kernelName: string,
    grid: readonly [number, number, number],
    block: readonly [number, number, number],
    sharedBytes: number,
    argBytes: Uint8Array,
    /** argBytes is the kernel's only parameter, a struct (passed through kernelParams). */
    singleParam?: boolean,
  ): void;
  synchronize(kernelName?: string): void;
  malloc(bytes: number): bigint;
  free(ptr: bigint): void;
  copyToDevice(ptr: bigint, source: ArrayBufferView): void;
  copyToHost(destination: ArrayBufferView, ptr: bigint): void;
  fill(ptr: bigint, byteValue: number, bytes: number): void;
  eventCreate(): bigint;
  eventRecord(event: bigint): void;
  eventElapsed(start: bigint, end: bigint): number;
  eventDestroy(event: bigint): void;
  /** A 128-byte tiled tensor map of 16-bit elements (dims and box innermost first, strides in bytes). */
  encodeTensorMap(
    ptr: bigint,
    dims: readonly number[],
    strideBytes: readonly number[],
    box: readonly number[],
    swizzle: number,
  ): Uint8Array;
  gemmProbe(): NativeGemmProbe;
  gemm(desc: NativeGemmDesc): void;
  /** Record the stream's later work into a graph instead of running it (relaxed capture mode). */
  captureBegin(): void;
  /** The graph the stream recorded; throws when the capture was invalidated. */
  captureEnd(): bigint;
  graphInstantiate(graph: bigint): NativeGraphExec;
  /** Queue one run of the graph on the stream. */
  graphLaunch(exec: bigint): void;
  graphExecDestroy(exec: bigint): void;
  graphDestroy(graph: bigint): void;
  /** Open the first loadable NCCL of `candidates` (kept for the process); never throws. */
  ncclLoad(candidates: readonly string[]): NativeNcclProbe;
  /** A new unique id (128 bytes) for ncclInit. */
  ncclUniqueId(): Uint8Array;
  /** The process's communicator on the current device. */
  ncclInit(id: Uint8Array, nranks: number, rank: number): void;
  /** One group of ncclSend / ncclRecv (byte counts) on the stream. */
  ncclExchange(sends: readonly NativeNcclBuffer[], recvs: readonly NativeNcclBuffer[], what: string): void;
  ncclAllGather(send: bigint, recv: bigint, bytes: number, what: string): void;
  ncclBroadcast(send: bigint, recv: bigint, bytes: number, root: number, what: string): void;
  /** The communicator's asynchronous error (code 0: none). */
  ncclAsyncError(): { code: number; text: string };
  /** Abort the communicator (safe from another thread); false when there was none. */
  ncclAbort(): boolean;
  ncclDestroy(): void;
}

const ADDON_RELATIVE = join('build', 'Release', 'tessera_cuda.node');

/** Where the addon may be: TESSERA_CUDA_ADDON, else `build/Release` of the nearest package root above us. */
function addonCandidates(): string[] {
  const candidates: string[] = [];
  if (process.env.TESSERA_CUDA_ADDON) candidates.push(process.env.TESSERA_CUDA_ADDON);
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    candidates.push(join(dir, ADDON_RELATIVE));
    dir = dirname(dir);
  }
  return candidates;
}

let cached: { native: NativeCuda | null; reason: string } | null = null;

/** The addon, or null with the reason it could not be loaded (cached after the first call). */
export function loadNative(): { native: NativeCuda | null; reason: string } {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const found = addonCandidates().find((p) => existsSync(p));
  if (found === undefined) {
    cached = {
      native: null,
      reason: `the tessera CUDA addon is not built (looked for ${ADDON_RELATIVE}); run 'npm install' or 'npx cmake-js compile'`,
    };
    return cached;
  }
  try {
    cached = { native: require(found) as NativeCuda, reason: '' };
  } catch (e) {
    cached = {
      native: null,
      reason: `the tessera CUDA addon at ${found} failed to load: ${(e as Error).message}`,
    };
  }
  return cached;
}
