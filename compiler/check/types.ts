/**
 * Type inference and token dependence, computed on demand and memoised per node. Inference never reports:
 * checks ask for types and report mismatches where they see them, so each mistake is reported once. The
 * type `unknown` stands for "already wrong", and silences every check that would repeat the error.
 */
import type { Expr, FnDecl, TypeName } from '../../dsl/ast.js';
import { BUILTIN_FUNCTIONS } from '../../dsl/ast.js';
import type { FileScopes } from './build-scopes.js';
import { declaredType, type NameSymbol, type Scope } from './scope.js';

/** A type, or `unknown` after an error. */
export type Type = TypeName | 'unknown';

/** Answers type and dependence questions about the expressions of one file. */
export class TypeService {
  private readonly types = new WeakMap<Expr, Type>();
  private readonly symbolTypes = new Map<NameSymbol, Type>();
  private readonly inProgress = new Set<NameSymbol>();
  private readonly tokenDeps = new WeakMap<object, boolean>();
  private readonly tokenInProgress = new Set<object>();

  constructor(readonly scopes: FileScopes) {}

  /** The scope of a helper's body. */
  fnScope(decl: FnDecl): Scope | undefined {
    return this.scopes.fnScopes.get(decl);
  }

  /** The type a symbol's value has (a helper: its return type). */
  symbolType(s: NameSymbol): Type {
    if (s.kind !== 'fn') {
      const declared = declaredType(s);
      if (declared) return declared;
    } else if (s.decl.returnType) {
      return s.decl.returnType.name;
    }
    const cached = this.symbolTypes.get(s);
    if (cached) return cached;
    // A cycle (reported by the recursion check) has no type.
    if (this.inProgress.has(s)) return 'unknown';
    this.inProgress.add(s);
    let type: Type = 'unknown';
    if (s.kind === 'let') type = this.typeOf(s.decl.value, s.scope);
    else if (s.kind === 'fn') {
      const body = this.fnScope(s.decl);
      type = body ? this.typeOf(s.decl.body, body) : 'unknown';
    }
    this.inProgress.delete(s);
    this.symbolTypes.set(s, type);
    return type;
  }

  /** The type of `e`, which lives in `scope`. */
  typeOf(e: Expr, scope: Scope): Type {
    const cached = this.types.get(e);
    if (cached) return cached;
    const type = this.infer(e, scope);
    this.types.set(e, type);
    return type;
  }

  private infer(e: Expr, scope: Scope): Type {
    switch (e.kind) {
      case 'IntLiteral':
        return 'int';
      case 'BoolLiteral':
      case 'SegmentTest':
      case 'RangeTest':
      case 'SetTest':
        return 'bool';
      case 'CoordRef':
        return 'int';
      case 'ParenExpr':
        return this.typeOf(e.inner, scope);
      case 'NameRef': {
        const s = scope.lookup(e.name.name);
        return s && s.kind !== 'fn' ? this.symbolType(s) : 'unknown';
      }
      case 'UnaryExpr':
        return e.op === '-' ? 'int' : 'bool';
      case 'BinaryExpr':
        return ['+', '-', '*', '/', '%'].includes(e.op) ? 'int' : 'bool';
      case 'IfExpr': {
        const a = this.typeOf(e.then, scope);
        const b = this.typeOf(e.otherwise, scope);
        return a === b ? a : 'unknown';
      }
      case 'CallExpr': {
        if (e.callee.name in BUILTIN_FUNCTIONS) return 'int';
        const s = scope.lookup(e.callee.name);
        return s?.kind === 'fn' ? this.symbolType(s) : 'unknown';
      }
    }
  }

  /** Whether `e` reads the query or key token (a coordinate or a segment test), directly or through helpers. */
  readsTokens(e: Expr, scope: Scope): boolean {
    switch (e.kind) {
      case 'CoordRef':
      case 'SegmentTest':
        return true;
      case 'IntLiteral':
      case 'BoolLiteral':
        return false;
      case 'NameRef': {
        const s = scope.lookup(e.name.name);
        return s?.kind === 'let'
          ? this.symbolReadsTokens(s, () => this.readsTokens(s.decl.value, s.scope))
          : false;
      }
      case 'CallExpr': {
        if (e.args.some((a) => this.readsTokens(a, scope))) return true;
        const s = scope.lookup(e.callee.name);
        if (s?.kind !== 'fn') return false;
        const body = this.fnScope(s.decl);
        return body ? this.symbolReadsTokens(s, () => this.readsTokens(s.decl.body, body)) : false;
      }
      case 'ParenExpr':
        return this.readsTokens(e.inner, scope);
      case 'UnaryExpr':
        return this.readsTokens(e.operand, scope);
      case 'BinaryExpr':
        return this.readsTokens(e.left, scope) || this.readsTokens(e.right, scope);
      case 'IfExpr':
        return [e.condition, e.then, e.otherwise].some((x) => this.readsTokens(x, scope));
      case 'RangeTest':
        return [e.value, e.low, e.high].some((x) => this.readsTokens(x, scope));
      case 'SetTest':
        return [e.value, ...e.members].some((x) => this.readsTokens(x, scope));
    }
  }

  private symbolReadsTokens(s: NameSymbol, compute: () => boolean): boolean {
    const key = s.decl;
    const cached = this.tokenDeps.get(key);
    if (cached !== undefined) return cached;
    if (this.tokenInProgress.has(key)) return false;
    this.tokenInProgress.add(key);
    const value = compute();
    this.tokenInProgress.delete(key);
    this.tokenDeps.set(key, value);
    return value;
  }
}
