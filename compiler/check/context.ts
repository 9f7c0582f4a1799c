/** What every check receives. */
import type { Expr } from '../../dsl/ast.js';
import type { Reporter } from './report.js';
import type { LayoutInfo, Scope } from './scope.js';
import type { Type, TypeService } from './types.js';

/**
 * Where an expression sits, which decides what it may read: `pattern` (coordinates of the pattern's layout),
 * `file` (file-level helpers: coordinates of any layout), `layout` (the layout's sizes only) or `constant`
 * (parameter and size defaults: literals and built-ins only).
 */
export type ExprMode = 'pattern' | 'file' | 'layout' | 'constant';

/** The context of one check call. */
export interface CheckContext {
  readonly scope: Scope;
  readonly mode: ExprMode;
  readonly reporter: Reporter;
  readonly types: TypeService;
  readonly layouts: ReadonlyMap<string, LayoutInfo>;
}

/** Report TP206 (or `code`) when `e` has a known type other than `want`. */
export function expectType(
  e: Expr,
  want: Type,
  ctx: CheckContext,
  code: 'TP206' | 'TP207' = 'TP206',
  what?: string,
): void {
  const got = ctx.types.typeOf(e, ctx.scope);
  if (got === 'unknown' || got === want) return;
  const subject = what ? `${what} must be \`${want}\`` : `expected \`${want}\``;
  const hint =
    want === 'bool'
      ? 'compare the value, e.g. `x == 0` or `x > 0`'
      : 'a condition is not a number; use `if c then 1 else 0` to turn it into one';
  ctx.reporter.error(code, e.range, `${subject}, found \`${got}\``, hint);
}
