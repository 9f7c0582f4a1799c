/**
 * The check stage: names, types and structure of a parsed file, all reported at once as TP2xx diagnostics.
 * Checks live in tables keyed by node kind (`decl-checks.ts`, `expr-checks.ts`); this file walks the tree
 * and hands each node its scope and mode.
 */
import { type Expr, exprChildren, type TileFile } from '../../dsl/ast.js';
import type { Diagnostic } from '../../dsl/diagnostics.js';
import { buildScopes } from './build-scopes.js';
import type { CheckContext, ExprMode } from './context.js';
import { checkRecursion } from './cycles.js';
import { declChecks } from './decl-checks.js';
import { exprChecks } from './expr-checks.js';
import { Reporter } from './report.js';
import type { Scope } from './scope.js';
import { TypeService } from './types.js';

function walkExpr(e: Expr, ctx: CheckContext): void {
  const check = exprChecks[e.kind] as ((node: Expr, c: CheckContext) => void) | undefined;
  check?.(e, ctx);
  for (const c of exprChildren(e)) walkExpr(c, ctx);
}

/** Check a parsed file; returns every diagnostic (empty when the file is fine). Never throws. */
export function checkTile(file: TileFile, fileName: string): Diagnostic[] {
  const reporter = new Reporter(fileName);
  const scopes = buildScopes(file, reporter);
  const types = new TypeService(scopes);
  const context = (scope: Scope, mode: ExprMode): CheckContext => ({
    scope,
    mode,
    reporter,
    types,
    layouts: scopes.layouts,
  });
  const fnContext = (decl: import('../../dsl/ast.js').FnDecl, outer: Scope, mode: ExprMode) =>
    context(scopes.fnScopes.get(decl) ?? outer, mode);

  for (const item of file.items) {
    switch (item.kind) {
      case 'LetDecl': {
        const ctx = context(scopes.file, 'file');
        declChecks.LetDecl(item, ctx);
        walkExpr(item.value, ctx);
        break;
      }
      case 'FnDecl': {
        const ctx = fnContext(item, scopes.file, 'file');
        declChecks.FnDecl(item, ctx);
        walkExpr(item.body, ctx);
        break;
      }
      case 'LayoutDecl': {
        const scope = scopes.layoutScopes.get(item)!;
        declChecks.LayoutDecl(item, context(scope, 'layout'));
        for (const li of item.items) {
          if (li.kind === 'SizeItem')
            for (const s of li.sizes) walkExpr(s.defaultValue, context(scope, 'constant'));
          if (li.kind === 'TilesItem') for (const x of li.extents) walkExpr(x, context(scope, 'layout'));
          if (li.kind === 'PadItem') walkExpr(li.multiple, context(scope, 'layout'));
        }
        break;
      }
      case 'PatternDecl': {
        const scope = scopes.patternScopes.get(item)!;
        const ctx = context(scope, 'pattern');
        declChecks.PatternDecl(item, ctx);
        for (const p of item.params) {
          declChecks.PatternParam(p, ctx);
          if (p.defaultValue) walkExpr(p.defaultValue, context(scope, 'constant'));
        }
        for (const pi of item.items) {
          if (pi.kind === 'FnDecl') {
            const fctx = fnContext(pi, scope, 'pattern');
            declChecks.FnDecl(pi, fctx);
            walkExpr(pi.body, fctx);
            continue;
          }
          const check = declChecks[pi.kind] as (node: typeof pi, c: CheckContext) => void;
          check(pi, ctx);
          walkExpr(pi.kind === 'LetDecl' ? pi.value : pi.condition, ctx);
        }
        break;
      }
    }
  }
  checkRecursion(scopes, reporter);
  return reporter.diagnostics.sort((a, b) => a.range.start.offset - b.range.start.offset);
}
