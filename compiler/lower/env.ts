/** What names mean while a pattern is lowered: bound values, lazily lowered `let`s and helpers to inline. */
import type { FnDecl, LetDecl } from '../../dsl/ast.js';
import type { BoolExpr, IntExpr } from '../ir.js';
import type { Definedness, TruthPair } from './kleene.js';

/**
 * A lowered value with its type. An integer carries where it is defined (absent: everywhere); a boolean is a
 * three-valued {@link TruthPair} (`ir` where true, `no` where false), see kleene.ts.
 */
export type Value =
  | { readonly type: 'int'; readonly ir: IntExpr; readonly def?: Definedness }
  | ({ readonly type: 'bool' } & TruthPair);

/** What a name is bound to. */
export type Binding =
  | { readonly kind: 'value'; readonly value: Value }
  | { readonly kind: 'let'; readonly decl: LetDecl; readonly env: Env; memo?: Value; busy?: boolean }
  | { readonly kind: 'fn'; readonly decl: FnDecl; readonly env: Env };

/** A chain of name tables. */
export class Env {
  private readonly names = new Map<string, Binding>();

  constructor(readonly parent: Env | null) {}

  /** Bind `name` here. */
  set(name: string, binding: Binding): void {
    this.names.set(name, binding);
  }

  /** What `name` means here, innermost first. */
  get(name: string): Binding | undefined {
    return this.names.get(name) ?? this.parent?.get(name);
  }

  /** Bind the `let`s and `fn`s among `items`, each evaluated in this environment. */
  declareHelpers(items: readonly { readonly kind: string }[]): void {
    for (const item of items) {
      if (item.kind === 'LetDecl')
        this.set((item as LetDecl).name.name, { kind: 'let', decl: item as LetDecl, env: this });
      if (item.kind === 'FnDecl')
        this.set((item as FnDecl).name.name, { kind: 'fn', decl: item as FnDecl, env: this });
    }
  }
}

/** An integer value. */
export function intValue(ir: IntExpr, def?: Definedness): Value {
  return def === undefined ? { type: 'int', ir } : { type: 'int', ir, def };
}

/** A boolean value that is never unknown. */
export function boolValue(ir: BoolExpr): Value {
  return { type: 'bool', ir };
}

/** A three-valued boolean value. */
export function truthValue(v: TruthPair): Value {
  return v.no === undefined ? { type: 'bool', ir: v.ir } : { type: 'bool', ir: v.ir, no: v.no };
}
