/**
 * Names and what they refer to. A pattern sees, innermost first: a helper's parameters, the pattern's own
 * `let`s and `fn`s, its parameters, its layout's sizes (video axes, text axis, `size` items), then the file's
 * `let`s and `fn`s. Layout expressions see only the layout's sizes; file-level declarations see only the
 * file. Shadowing is not allowed, so a name means one thing across a pattern.
 */
import type {
  FnDecl,
  FnParam,
  Identifier,
  LayoutDecl,
  LetDecl,
  PatternDecl,
  PatternParam,
  TileFile,
  TypeName,
} from '../../dsl/ast.js';

/** Where a scope sits; decides which expressions are allowed (coordinates only in patterns and helpers). */
export type ScopeLevel = 'file' | 'layout' | 'pattern' | 'fn';

/** A value name. */
export type ValueSymbol =
  | { readonly kind: 'param'; readonly name: Identifier; readonly decl: PatternParam; readonly scope: Scope }
  | { readonly kind: 'size'; readonly name: Identifier; readonly decl: LayoutDecl; readonly scope: Scope }
  | { readonly kind: 'let'; readonly name: Identifier; readonly decl: LetDecl; readonly scope: Scope }
  | { readonly kind: 'fnParam'; readonly name: Identifier; readonly decl: FnParam; readonly scope: Scope }
  /** `head`: the attention head a pattern is evaluated for, given in every pattern that declares no `head`. */
  | { readonly kind: 'head'; readonly name: Identifier; readonly decl: PatternDecl; readonly scope: Scope };

/** A helper function name. */
export interface FnSymbol {
  readonly kind: 'fn';
  readonly name: Identifier;
  readonly decl: FnDecl;
  /** The scope the helper is declared in (its body's scope is a child of it). */
  readonly scope: Scope;
}

/** Anything a name can refer to. */
export type NameSymbol = ValueSymbol | FnSymbol;

/** What a layout declares, in the terms checks need. */
export interface LayoutInfo {
  readonly decl: LayoutDecl;
  readonly videoAxes: readonly string[];
  readonly textAxis: string | null;
  /** Every size name: video axes, the text axis, `size` items. */
  readonly sizeNames: readonly string[];
}

/** The name of the head a pattern is evaluated for (a pattern may read it unless the file declares its own). */
export const HEAD_NAME = 'head';

/** Names that may not be declared: they already mean something in every expression. */
export const RESERVED_NAMES: ReadonlySet<string> = new Set(['q', 'k', 'video', 'text']);

/** A table of names with a parent. */
export class Scope {
  readonly symbols = new Map<string, NameSymbol>();

  constructor(
    readonly level: ScopeLevel,
    readonly parent: Scope | null,
    /** The layout of the enclosing pattern (null at file level, for layouts, and in file-level helpers). */
    readonly layout: LayoutInfo | null,
  ) {}

  /** The symbol `name` refers to here, or undefined. */
  lookup(name: string): NameSymbol | undefined {
    return this.symbols.get(name) ?? this.parent?.lookup(name);
  }

  /** Every name visible here, for hints. */
  visibleNames(filter: (s: NameSymbol) => boolean = () => true): string[] {
    const out = new Set<string>();
    for (let s: Scope | null = this; s; s = s.parent)
      for (const [n, sym] of s.symbols) if (filter(sym)) out.add(n);
    return [...out];
  }
}

/** Describes a symbol for messages ("parameter `a`"). */
export function describeSymbol(s: NameSymbol): string {
  const what = {
    param: 'parameter',
    size: 'layout size',
    let: '`let`',
    fnParam: 'helper parameter',
    head: 'the head index',
    fn: 'helper',
  }[s.kind];
  return `${what} \`${s.name.name}\``;
}

/** The layouts of a file by name (the first declaration wins; duplicates are reported elsewhere). */
export function layoutInfos(file: TileFile): Map<string, LayoutInfo> {
  const out = new Map<string, LayoutInfo>();
  for (const item of file.items) {
    if (item.kind !== 'LayoutDecl' || out.has(item.name.name)) continue;
    const videoAxes = item.axes.map((a) => a.name);
    let textAxis: string | null = null;
    const sizeNames = new Set(videoAxes);
    for (const li of item.items) {
      if (li.kind === 'TextItem' && textAxis === null) textAxis = li.axis.name;
      if (li.kind === 'TextItem') sizeNames.add(li.axis.name);
      if (li.kind === 'SizeItem') for (const s of li.sizes) sizeNames.add(s.name.name);
    }
    out.set(item.name.name, { decl: item, videoAxes, textAxis, sizeNames: [...sizeNames] });
  }
  return out;
}

/** The declared type of a value symbol when it has one without inference. */
export function declaredType(s: ValueSymbol): TypeName | undefined {
  switch (s.kind) {
    case 'param':
      return s.decl.type.name;
    case 'size':
    case 'head':
      return 'int';
    case 'fnParam':
      return s.decl.type?.name ?? 'int';
    case 'let':
      return s.decl.type?.name;
  }
}
