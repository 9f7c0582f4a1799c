/**
 * Recursion check (TP209): `let`s and `fn` helpers are inlined when a pattern is lowered, so none may depend
 * on itself, directly or through others.
 */
import type { Expr, FnDecl, LetDecl } from '../../dsl/ast.js';
import type { FileScopes } from './build-scopes.js';
import type { Reporter } from './report.js';
import type { Scope } from './scope.js';

type Decl = LetDecl | FnDecl;

/** The lets and helpers `e` refers to, resolved in `scope`. */
function references(e: Expr, scope: Scope, out: Decl[]): void {
  switch (e.kind) {
    case 'NameRef': {
      const s = scope.lookup(e.name.name);
      if (s?.kind === 'let') out.push(s.decl);
      return;
    }
    case 'CallExpr': {
      const s = scope.lookup(e.callee.name);
      if (s?.kind === 'fn') out.push(s.decl);
      for (const a of e.args) references(a, scope, out);
      return;
    }
    case 'ParenExpr':
      references(e.inner, scope, out);
      return;
    case 'UnaryExpr':
      references(e.operand, scope, out);
      return;
    case 'BinaryExpr':
      references(e.left, scope, out);
      references(e.right, scope, out);
      return;
    case 'IfExpr':
      for (const x of [e.condition, e.then, e.otherwise]) references(x, scope, out);
      return;
    case 'RangeTest':
      for (const x of [e.value, e.low, e.high]) references(x, scope, out);
      return;
    case 'SetTest':
      for (const x of [e.value, ...e.members]) references(x, scope, out);
      return;
    default:
      return;
  }
}

/** Report every cycle among the file's lets and helpers once, at the declaration where it was entered. */
export function checkRecursion(scopes: FileScopes, reporter: Reporter): void {
  const edges = new Map<Decl, Decl[]>();
  const collect = (scope: Scope) => {
    for (const s of scope.symbols.values()) {
      if (s.kind === 'let' && !edges.has(s.decl)) {
        const out: Decl[] = [];
        references(s.decl.value, s.scope, out);
        edges.set(s.decl, out);
      } else if (s.kind === 'fn' && !edges.has(s.decl)) {
        const out: Decl[] = [];
        const body = scopes.fnScopes.get(s.decl);
        if (body) references(s.decl.body, body, out);
        edges.set(s.decl, out);
      }
    }
  };
  collect(scopes.file);
  for (const scope of scopes.patternScopes.values()) collect(scope);

  const state = new Map<Decl, 'active' | 'done'>();
  const stack: Decl[] = [];
  const visit = (d: Decl): void => {
    state.set(d, 'active');
    stack.push(d);
    for (const next of edges.get(d) ?? []) {
      const st = state.get(next);
      if (st === 'active') {
        const cycle = stack.slice(stack.indexOf(next));
        const names = cycle.map((c) => `\`${c.name.name}\``);
        const message =
          cycle.length === 1
            ? `\`${next.name.name}\` refers to itself`
            : `${names[0]} depends on itself through ${names.slice(1).join(', ')}`;
        reporter.error(
          'TP209',
          next.name.range,
          message,
          'helpers and lets are inlined, so recursion is not allowed; write the rule without it',
        );
      } else if (st === undefined) {
        visit(next);
      }
    }
    stack.pop();
    state.set(d, 'done');
  };
  for (const d of edges.keys()) if (!state.has(d)) visit(d);
}
