/** Building the scopes of a file, reporting duplicate (TP201) and reserved (TP214) names on the way. */
import type { FnDecl, Identifier, LayoutDecl, PatternDecl, TileFile } from '../../dsl/ast.js';
import type { Reporter } from './report.js';
import {
  describeSymbol,
  HEAD_NAME,
  type LayoutInfo,
  layoutInfos,
  type NameSymbol,
  RESERVED_NAMES,
  Scope,
} from './scope.js';

/** Every scope of a file. */
export interface FileScopes {
  readonly file: Scope;
  readonly layouts: ReadonlyMap<string, LayoutInfo>;
  readonly layoutScopes: ReadonlyMap<LayoutDecl, Scope>;
  readonly patternScopes: ReadonlyMap<PatternDecl, Scope>;
  /** The scope of each helper's body (its parameters, over the scope it is declared in). */
  readonly fnScopes: ReadonlyMap<FnDecl, Scope>;
}

function where(id: Identifier): string {
  return `${id.range.start.line}:${id.range.start.column}`;
}

/** Declare `symbol` in `scope`; `outer` also checks enclosing scopes, since shadowing is not allowed. */
function declare(scope: Scope, symbol: NameSymbol, reporter: Reporter, outer = true): void {
  const name = symbol.name.name;
  if (RESERVED_NAMES.has(name)) {
    reporter.error(
      'TP214',
      symbol.name.range,
      `\`${name}\` is reserved and cannot be declared`,
      '`q`, `k`, `video` and `text` already mean the query token, the key token and the two segments',
    );
    return;
  }
  const existing = outer ? scope.lookup(name) : scope.symbols.get(name);
  if (existing) {
    reporter.error(
      'TP201',
      symbol.name.range,
      `\`${name}\` is already declared as ${describeSymbol(existing)} at ${where(existing.name)}`,
      'rename one of them; names cannot be shadowed',
    );
    return;
  }
  scope.symbols.set(name, symbol);
}

/** Declare the lets and fns of a list of items, and make a scope for each helper's body. */
function declareHelpers(
  scope: Scope,
  items: readonly { kind: string }[],
  reporter: Reporter,
  fnScopes: Map<FnDecl, Scope>,
): void {
  for (const item of items) {
    if (item.kind === 'LetDecl') {
      const decl = item as import('../../dsl/ast.js').LetDecl;
      declare(scope, { kind: 'let', name: decl.name, decl, scope }, reporter);
    } else if (item.kind === 'FnDecl') {
      const decl = item as FnDecl;
      declare(scope, { kind: 'fn', name: decl.name, decl, scope }, reporter);
    }
  }
  for (const item of items) {
    if (item.kind !== 'FnDecl') continue;
    const decl = item as FnDecl;
    const body = new Scope('fn', scope, scope.layout);
    for (const p of decl.params)
      declare(body, { kind: 'fnParam', name: p.name, decl: p, scope: body }, reporter);
    fnScopes.set(decl, body);
  }
}

function layoutScope(decl: LayoutDecl, reporter: Reporter): Scope {
  const scope = new Scope('layout', null, null);
  for (const axis of decl.axes) declare(scope, { kind: 'size', name: axis, decl, scope }, reporter);
  for (const item of decl.items) {
    if (item.kind === 'TextItem') declare(scope, { kind: 'size', name: item.axis, decl, scope }, reporter);
  }
  const fromSizeItems = new Set<string>();
  for (const item of decl.items) {
    if (item.kind !== 'SizeItem') continue;
    for (const s of item.sizes) {
      // A `size` entry may name an axis to give it a default; naming the same size twice is a mistake.
      if (fromSizeItems.has(s.name.name)) {
        reporter.error(
          'TP201',
          s.name.range,
          `size \`${s.name.name}\` is given a default twice`,
          'keep one of the two entries',
        );
        continue;
      }
      fromSizeItems.add(s.name.name);
      if (!scope.symbols.has(s.name.name))
        declare(scope, { kind: 'size', name: s.name, decl, scope }, reporter);
    }
  }
  return scope;
}

/** Build every scope of `file`. */
export function buildScopes(file: TileFile, reporter: Reporter): FileScopes {
  const fileScope = new Scope('file', null, null);
  const fnScopes = new Map<FnDecl, Scope>();
  const layoutScopes = new Map<LayoutDecl, Scope>();
  const patternScopes = new Map<PatternDecl, Scope>();
  const layouts = layoutInfos(file);
  const seenLayouts = new Map<string, Identifier>();
  const seenPatterns = new Map<string, Identifier>();

  declareHelpers(fileScope, file.items, reporter, fnScopes);
  for (const item of file.items) {
    if (item.kind === 'LayoutDecl') {
      const prior = seenLayouts.get(item.name.name);
      if (prior)
        reporter.error(
          'TP201',
          item.name.range,
          `layout \`${item.name.name}\` is already declared at ${where(prior)}`,
          'rename one of the layouts',
        );
      else seenLayouts.set(item.name.name, item.name);
      layoutScopes.set(item, layoutScope(item, reporter));
    }
  }
  for (const item of file.items) {
    if (item.kind !== 'PatternDecl') continue;
    const prior = seenPatterns.get(item.name.name);
    if (prior)
      reporter.error(
        'TP201',
        item.name.range,
        `pattern \`${item.name.name}\` is already declared at ${where(prior)}`,
        'rename one of the patterns',
      );
    else seenPatterns.set(item.name.name, item.name);
    const layout = layouts.get(item.layout.name) ?? null;
    const scope = new Scope('pattern', fileScope, layout);
    // Layout sizes live in the pattern scope; they may reuse a file-level name (the size wins inside).
    const sizes = layout ? layoutScopes.get(layout.decl) : undefined;
    if (sizes) for (const [n, s] of sizes.symbols) scope.symbols.set(n, { ...s, scope } as NameSymbol);
    for (const p of item.params) declare(scope, { kind: 'param', name: p.name, decl: p, scope }, reporter);
    declareHelpers(scope, item.items, reporter, fnScopes);
    // `head`, the attention head the pattern is evaluated for; a file that declares its own `head` keeps it.
    if (!scope.lookup(HEAD_NAME))
      scope.symbols.set(HEAD_NAME, {
        kind: 'head',
        name: { ...item.name, name: HEAD_NAME },
        decl: item,
        scope,
      });
    patternScopes.set(item, scope);
  }
  return { file: fileScope, layouts, layoutScopes, patternScopes, fnScopes };
}
