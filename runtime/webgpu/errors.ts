/**
 * Errors of the WebGPU backend. WGSL compilation and pipeline validation failures become `TesseraError`s
 * whose file is `<pattern key>.wgsl` and whose range is the offending line, with the line's text as the hint;
 * a missing adapter is a `WebGpuUnavailableError` that says what to install.
 */
import { UserError } from '../../core/errors.js';
import { type Diagnostic, TesseraError } from '../../dsl/diagnostics.js';

/** No adapter, no device, or a device that lacks a limit or feature the kernel needs. */
export class WebGpuUnavailableError extends UserError {
  constructor(message: string) {
    super(message);
  }
}

/** The subset of `GPUCompilationMessage` the conversion reads. */
export interface WgslMessage {
  readonly type: string;
  readonly message: string;
  readonly lineNum: number;
  readonly linePos: number;
  readonly length?: number;
}

/** Convert WGSL compilation messages of the module generated for `patternKey` into one `TesseraError`. */
export function wgslCompileError(
  patternKey: string,
  code: string,
  messages: readonly WgslMessage[],
): TesseraError {
  const lines = code.split('\n');
  const diagnostics: Diagnostic[] = messages.map((m) => {
    const line = Math.max(1, m.lineNum);
    const column = Math.max(1, m.linePos);
    const source = lines[line - 1]?.trim() ?? '';
    const position = { line, column, offset: 0 };
    return {
      code: 'TP406',
      severity: 'error',
      message: `WGSL of pattern ${patternKey} does not compile, line ${line}: ${m.message}`,
      range: { start: position, end: { ...position, column: column + Math.max(1, m.length ?? 1) } },
      file: `${patternKey}.wgsl`,
      hint: source === '' ? 'regenerate the kernel; generated WGSL must always compile' : `at: ${source}`,
    };
  });
  return new TesseraError(diagnostics);
}

/** A validation error raised while building the pipeline of `patternKey` (e.g. a limit the device lacks). */
export function wgslPipelineError(patternKey: string, message: string): TesseraError {
  const lineMatch = /:(\d+):(\d+)/.exec(message);
  const line = lineMatch ? Number(lineMatch[1]) : 1;
  const column = lineMatch ? Number(lineMatch[2]) : 1;
  const position = { line, column, offset: 0 };
  return new TesseraError([
    {
      code: 'TP407',
      severity: 'error',
      message: `WebGPU rejected the pipeline of pattern ${patternKey}, line ${line}: ${message.split('\n')[0]}`,
      range: { start: position, end: position },
      file: `${patternKey}.wgsl`,
      hint: 'check the device limits the backend requested against the kernel configuration',
    },
  ]);
}
