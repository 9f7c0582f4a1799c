/**
 * TP4xx diagnostics for every backend, built in one place so they all point where the user can act: at the
 * `pattern` declaration in the `.tile` file the plan was compiled from. Plans built without a source (dense
 * plans, fixtures) have no declaration; their diagnostics fall back to the pattern key at line 1, column 1.
 */
import type { PatternDeclaration } from '../../compiler/ir.js';
import type { BlockPlan } from '../../compiler/plan/plan.js';
import { type Diagnostic, type DiagnosticCode, TesseraError } from '../../dsl/diagnostics.js';
import { START_OF_FILE } from '../../dsl/source.js';

/** The codes of code generation (and of the runtime's reports on generated code). */
export type CodegenCode = Extract<DiagnosticCode, `TP4${string}`>;

/** A place a diagnostic points at: a file name and a range in it. */
export type DiagnosticSite = PatternDeclaration;

/** Where diagnostics about `plan`'s kernels point: its pattern's declaration, else the pattern key. */
export function planSite(plan: BlockPlan): DiagnosticSite {
  return plan.pattern.declaration ?? { file: plan.pattern.key, range: START_OF_FILE };
}

/** A TP4xx error at `site`. */
export function siteDiagnostic(
  site: DiagnosticSite,
  code: CodegenCode,
  message: string,
  hint?: string,
): Diagnostic {
  return { code, severity: 'error', message, range: site.range, file: site.file, ...(hint ? { hint } : {}) };
}

/**
 * A TP4xx error about `plan`, at its pattern's declaration. The message starts with the plan key, since the
 * declaration alone does not say which parameters, layout sizes and block sizes were compiled.
 */
export function planDiagnostic(
  plan: BlockPlan,
  code: CodegenCode,
  message: string,
  hint?: string,
): Diagnostic {
  return siteDiagnostic(planSite(plan), code, `${plan.key}: ${message}`, hint);
}

/** {@link planDiagnostic} as the exception that carries it to the user. */
export function planError(plan: BlockPlan, code: CodegenCode, message: string, hint?: string): TesseraError {
  return new TesseraError([planDiagnostic(plan, code, message, hint)]);
}
