/**
 * Offline compilation with nvcc, for `tessera compile --target cuda` (writes the cubin next to the `.cu`) and
 * for CI (compile every built-in pattern for sm_80 and sm_90 and fail on errors or register spills). ptxas'
 * resource report (`-Xptxas -v`) is parsed per kernel, so callers can check spills without reading logs.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { TesseraError } from '../../dsl/diagnostics.js';
import { START_OF_FILE } from '../../dsl/source.js';
import { type DiagnosticSite, siteDiagnostic } from '../common/diagnostics.js';

const run = promisify(execFile);

/** Resources ptxas reports for one kernel. */
export interface PtxasKernelReport {
  readonly kernel: string;
  readonly arch: string;
  readonly registers: number;
  readonly stackBytes: number;
  readonly spillStores: number;
  readonly spillLoads: number;
}

/** What one nvcc run produced. */
export interface NvccResult {
  readonly cubinPath: string;
  readonly kernels: readonly PtxasKernelReport[];
  /** nvcc's and ptxas' full output. */
  readonly log: string;
}

/** The nvcc executable: `NVCC`, then PATH, then `CUDA_HOME/bin`, then /usr/local/cuda/bin; null if none. */
export function findNvcc(): string | null {
  const candidates: string[] = [];
  if (process.env.NVCC) candidates.push(process.env.NVCC);
  for (const dir of (process.env.PATH ?? '').split(delimiter)) if (dir) candidates.push(join(dir, 'nvcc'));
  if (process.env.CUDA_HOME) candidates.push(join(process.env.CUDA_HOME, 'bin', 'nvcc'));
  candidates.push('/usr/local/cuda/bin/nvcc');
  return candidates.find((c) => existsSync(c)) ?? null;
}

/** Parse `-Xptxas -v` output into one report per kernel. */
export function parsePtxasReport(log: string): PtxasKernelReport[] {
  const reports: PtxasKernelReport[] = [];
  let current: { kernel: string; arch: string; stack: number; stores: number; loads: number } | null = null;
  for (const line of log.split('\n')) {
    const entry = /Compiling entry function '([^']+)' for '([^']+)'/.exec(line);
    if (entry) {
      current = { kernel: entry[1]!, arch: entry[2]!, stack: 0, stores: 0, loads: 0 };
      continue;
    }
    const frame = /(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads/.exec(line);
    if (frame && current) {
      current.stack = Number(frame[1]);
      current.stores = Number(frame[2]);
      current.loads = Number(frame[3]);
      continue;
    }
    const used = /Used (\d+) registers/.exec(line);
    if (used && current) {
      reports.push({
        kernel: current.kernel,
        arch: current.arch,
        registers: Number(used[1]),
        stackBytes: current.stack,
        spillStores: current.stores,
        spillLoads: current.loads,
      });
      current = null;
    }
  }
  return reports;
}

/**
 * Where nvcc's first error is (`path(line): error: ...`), else the start of the `.cu`: nvcc compiles a written
 * file, not a plan, so the generated source (which the CLI can show) is the best place to point at.
 */
function nvccErrorSite(cuPath: string, log: string): DiagnosticSite {
  const first = /^(.+?)\((\d+)\): (?:catastrophic )?error/m.exec(log);
  if (!first) return { file: cuPath, range: START_OF_FILE };
  const at = { line: Number(first[2]), column: 1, offset: 0 };
  return { file: first[1]!, range: { start: at, end: at } };
}

function nvccError(cuPath: string, message: string, log: string): TesseraError {
  const hint = log.trim().split('\n').slice(0, 30).join('\n');
  return new TesseraError([siteDiagnostic(nvccErrorSite(cuPath, log), 'TP410', message, hint)]);
}

/**
 * Compile `cuPath` to `<cuPath minus .cu>.<arch>.cubin` with nvcc for `arch` (`sm_80`, `sm_90`), reporting
 * registers and spills per kernel. Throws a TP410 {@link TesseraError} when nvcc is missing or fails.
 */
export async function compileWithNvcc(cuPath: string, arch: string, nvcc = findNvcc()): Promise<NvccResult> {
  if (nvcc === null)
    throw nvccError(cuPath, 'nvcc was not found (PATH, CUDA_HOME/bin, /usr/local/cuda/bin)', '');
  const cubinPath = `${cuPath.replace(/\.cu$/, '')}.${arch}.cubin`;
  // 177: constants an instantiation does not use (e.g. kMaskPadding where nothing is padded) are expected.
  // Architecture-specific targets (sm_90a, for wgmma) need the -gencode form: `-arch=sm_90a` also runs a plain
  // sm_90 pass, which rejects the instructions.
  const target = arch.endsWith('a') ? `-gencode=arch=compute_${arch.slice(3)},code=${arch}` : `-arch=${arch}`;
  const args = [
    target,
    '-cubin',
    '-std=c++17',
    '-Xptxas',
    '-v',
    '-diag-suppress',
    '177',
    '-o',
    cubinPath,
    cuPath,
  ];
  try {
    const { stdout, stderr } = await run(nvcc, args, { maxBuffer: 64 * 1024 * 1024 });
    const log = `${stdout}${stderr}`;
    return { cubinPath, kernels: parsePtxasReport(log), log };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw nvccError(
      cuPath,
      `nvcc failed for ${arch}`,
      `${err.stdout ?? ''}${err.stderr ?? ''}` || err.message,
    );
  }
}

/** Architectures `tessera compile --target cuda` builds the `mma` kernels' cubins for: Ampere and Hopper. */
export const CUBIN_ARCHS = ['sm_80', 'sm_90'] as const;

/** What {@link buildCubins} did: report lines for the cubins written, or why none was built. */
export interface CubinSummary {
  /** One line per cubin: its path, then kernels, registers and spills. */
  readonly written: readonly string[];
  /** Set when nvcc is absent: one line saying the cubins were not built and why. */
  readonly skipped: string | null;
}

/** `N kernels, R registers, no spills` (or the spill bytes) for one arch's ptxas report. */
function resourceSummary(arch: string, kernels: readonly PtxasKernelReport[]): string {
  const registers = kernels.map((k) => k.registers);
  const range =
    Math.min(...registers) === Math.max(...registers)
      ? `${registers[0]}`
      : `${Math.min(...registers)}-${Math.max(...registers)}`;
  const spills = kernels.reduce((n, k) => n + k.spillStores + k.spillLoads, 0);
  return `cubin for ${arch}: ${kernels.length} kernels, ${range} registers, ${spills === 0 ? 'no spills' : `${spills} bytes of spills`}`;
}

/**
 * Compile a written `.cu` to `<name>.<arch>.cubin` for each arch (in parallel) when nvcc is installed; throws
 * a TP410 {@link TesseraError} when nvcc fails. Without nvcc, nothing is built and `skipped` says why.
 */
export async function buildCubins(
  cuPath: string,
  archs: readonly string[] = CUBIN_ARCHS,
  nvcc = findNvcc(),
): Promise<CubinSummary> {
  if (nvcc === null) {
    return {
      written: [],
      skipped: `cubin not built: nvcc was not found (PATH, NVCC, CUDA_HOME/bin, /usr/local/cuda/bin); ${cuPath} is compiled at run time by NVRTC instead`,
    };
  }
  const results = await Promise.all(archs.map((arch) => compileWithNvcc(cuPath, arch, nvcc)));
  return {
    written: results.map((r, i) => `${r.cubinPath}  (${resourceSummary(archs[i]!, r.kernels)})`),
    skipped: null,
  };
}
