/**
 * The parse stage: source text to a typed AST plus TP1xx diagnostics. It never throws: every problem in the
 * input, however mangled, comes back as a diagnostic with a range inside the source.
 */
import type { IToken } from 'chevrotain';
import { type Comment, type Expr, exprChildren, type TileFile } from './ast.js';
import { CstToAst } from './cst-to-ast.js';
import type { Diagnostic } from './diagnostics.js';
import { tileLexer, UnterminatedComment, UnterminatedString } from './lexer.js';
import { tileParser } from './parser.js';
import { positionAt, tokenRange } from './positions.js';
import type { SourceFile } from './source.js';
import { parserDiagnostics, unknownCharacter } from './syntax-errors.js';

/** The result of parsing: the AST when the file has no syntax errors, and every diagnostic found. */
export interface ParseResult {
  readonly file: TileFile | null;
  readonly diagnostics: Diagnostic[];
}

/** Deepest expression nesting accepted; deeper trees would exhaust the stack of later recursive passes. */
export const MAX_NESTING = 200;

function tooDeep(source: SourceFile, at: number): Diagnostic {
  const start = positionAt(source.text, at);
  return {
    code: 'TP114',
    severity: 'error',
    message: `expression nested too deeply (more than ${MAX_NESTING} levels)`,
    range: { start, end: start },
    file: source.name,
    hint: 'split the expression with `let` or `fn` helpers',
  };
}

/** The first expression in `file` nested deeper than {@link MAX_NESTING}, found without recursion. */
function firstTooDeep(roots: readonly Expr[]): Expr | null {
  const stack: [Expr, number][] = roots.map((r) => [r, 1]);
  while (stack.length > 0) {
    const [e, depth] = stack.pop()!;
    if (depth > MAX_NESTING) return e;
    for (const c of exprChildren(e)) stack.push([c, depth + 1]);
  }
  return null;
}

/** Every top-level expression of the file (each is the root of a tree). */
export function rootExpressions(file: TileFile): Expr[] {
  const out: Expr[] = [];
  for (const item of file.items) {
    if (item.kind === 'LetDecl') out.push(item.value);
    else if (item.kind === 'FnDecl') out.push(item.body);
    else if (item.kind === 'LayoutDecl') {
      for (const li of item.items) {
        if (li.kind === 'SizeItem') out.push(...li.sizes.map((s) => s.defaultValue));
        else if (li.kind === 'TilesItem') out.push(...li.extents);
        else if (li.kind === 'PadItem') out.push(li.multiple);
      }
    } else {
      for (const p of item.params) if (p.defaultValue) out.push(p.defaultValue);
      for (const pi of item.items) {
        if (pi.kind === 'LetDecl') out.push(pi.value);
        else if (pi.kind === 'FnDecl') out.push(pi.body);
        else out.push(pi.condition);
      }
    }
  }
  return out;
}

function lexErrors(source: SourceFile, errorTokens: readonly IToken[]): Diagnostic[] {
  return errorTokens.map((t) =>
    t.tokenType === UnterminatedComment
      ? {
          code: 'TP102',
          severity: 'error',
          message: 'block comment is never closed',
          range: tokenRange({
            ...t,
            endOffset: t.startOffset + 1,
            endLine: t.startLine,
            endColumn: (t.startColumn ?? 1) + 1,
          }),
          file: source.name,
          hint: 'close it with `*/`',
        }
      : {
          code: 'TP103',
          severity: 'error',
          message: 'string is never closed',
          range: tokenRange(t),
          file: source.name,
          hint: 'close it with `"` on the same line',
        },
  );
}

function parseUnsafe(source: SourceFile): ParseResult {
  const lexed = tileLexer.tokenize(source.text);
  const diagnostics: Diagnostic[] = [
    ...lexed.errors.map((e) => unknownCharacter(source, e.offset, e.length)),
    ...lexErrors(source, [
      ...(lexed.groups.errors ?? []),
      ...lexed.tokens.filter((t) => t.tokenType === UnterminatedString),
    ]),
  ];
  tileParser.input = lexed.tokens;
  let cst: ReturnType<TileParser['file']>;
  try {
    cst = tileParser.file();
  } catch (error) {
    if (error instanceof RangeError) return { file: null, diagnostics: [...diagnostics, tooDeep(source, 0)] };
    throw error;
  }
  diagnostics.push(...parserDiagnostics(source, lexed.tokens, tileParser.errors));
  if (diagnostics.length > 0) return { file: null, diagnostics };

  const builder = new CstToAst(source.name);
  const whole = { start: positionAt(source.text, 0), end: positionAt(source.text, source.text.length) };
  const built = builder.visit(cst, whole) as TileFile;
  const comments: Comment[] = (lexed.groups.comments ?? []).map((t) => ({
    kind: 'Comment',
    text: t.image,
    range: tokenRange(t),
  }));
  const file: TileFile = comments.length > 0 ? { ...built, comments } : built;
  diagnostics.push(...builder.diagnostics);
  const deep = firstTooDeep(rootExpressions(file));
  if (deep) diagnostics.push(tooDeep(source, deep.range.start.offset));
  return { file: diagnostics.length > 0 ? null : file, diagnostics };
}

type TileParser = typeof tileParser;

/**
 * Parse a `.tile` source. Returns the AST (null when there is any syntax error) and all TP1xx diagnostics,
 * several at once thanks to chevrotain's error recovery. Never throws.
 */
export function parseTile(source: SourceFile): ParseResult {
  const nul = source.text.indexOf('\u0000');
  if (nul >= 0) {
    // One diagnostic instead of thousands: a .tile file never holds a NUL byte.
    const at = positionAt(source.text, nul);
    return {
      file: null,
      diagnostics: [
        {
          code: 'TP115',
          severity: 'error',
          message: `not a text file (a NUL byte at offset ${nul})`,
          range: { start: at, end: at },
          file: source.name,
          hint: 'pass a .tile pattern file (UTF-8 text)',
        },
      ],
    };
  }
  try {
    return parseUnsafe(source);
  } catch (error) {
    // A crash here is a bug in tessera, not in the input; still report it as data so callers never crash.
    const start = positionAt(source.text, 0);
    const message = error instanceof Error ? error.message : String(error);
    return {
      file: null,
      diagnostics: [
        {
          code: 'TP100',
          severity: 'error',
          message: `internal parser error: ${message}`,
          range: { start, end: start },
          file: source.name,
          hint: 'please report this input as a bug',
        },
      ],
    };
  }
}
