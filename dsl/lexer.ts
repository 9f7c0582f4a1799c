/**
 * The token vocabulary of `.tile` files and the chevrotain lexer built from it.
 *
 * Only words that start a declaration or a statement are reserved; words that have meaning in one place only
 * (`before`, `after`, `frame`, `tile`, `video`, `q`, `k`, `int`, `bool`) lex as identifiers and are checked
 * where they appear, so users keep them as names elsewhere (a layout may well be called `video`).
 */
import { createToken, Lexer, type TokenType } from 'chevrotain';

/** Any name. Declared first because keywords name it as their `longer_alt`. */
export const Identifier = createToken({
  name: 'Identifier',
  pattern: /[A-Za-z_][A-Za-z0-9_]*/,
  label: 'a name',
});

function keyword(word: string, categories: TokenType[] = []): TokenType {
  const name = word[0]!.toUpperCase() + word.slice(1);
  return createToken({
    name,
    pattern: new RegExp(word),
    longer_alt: Identifier,
    categories,
    label: `\`${word}\``,
  });
}

export const Layout = keyword('layout');
export const Pattern = keyword('pattern');
export const On = keyword('on');
export const Let = keyword('let');
export const Fn = keyword('fn');
export const Require = keyword('require');
export const Else = keyword('else');
export const Attend = keyword('attend');
export const Deny = keyword('deny');
export const If = keyword('if');
export const Then = keyword('then');
export const In = keyword('in');
export const True = keyword('true');
export const False = keyword('false');
export const Size = keyword('size');
export const Tiles = keyword('tiles');
export const Pad = keyword('pad');
export const To = keyword('to');
/** `text` starts a layout item but is also the segment name in `q in text`, so it is an identifier too. */
export const Text = keyword('text', [Identifier]);

export const WhiteSpace = createToken({ name: 'WhiteSpace', pattern: /\s+/, group: Lexer.SKIPPED });
export const LineComment = createToken({ name: 'LineComment', pattern: /\/\/[^\n\r]*/, group: 'comments' });
export const BlockComment = createToken({
  name: 'BlockComment',
  pattern: /\/\*[\s\S]*?\*\//,
  group: 'comments',
});
/** A `/*` that never closes: lexed as one token so the parser can report it instead of a cascade. */
export const UnterminatedComment = createToken({
  name: 'UnterminatedComment',
  pattern: /\/\*[\s\S]*/,
  group: 'errors',
});

export const IntLiteral = createToken({ name: 'IntLiteral', pattern: /[0-9]+/, label: 'an integer' });
export const StringLiteral = createToken({
  name: 'StringLiteral',
  pattern: /"(?:[^"\\\r\n]|\\.)*"/,
  label: 'a string',
});
/** A `"` whose string does not close on its line. */
/** A `"` whose string does not close on its line; it still parses as a string so no cascade of errors follows. */
export const UnterminatedString = createToken({
  name: 'UnterminatedString',
  pattern: /"[^"\r\n]*/,
  categories: [StringLiteral],
});

/** Comparison operators share a category so the grammar names them once. */
export const CmpOp = createToken({ name: 'CmpOp', pattern: Lexer.NA, label: 'a comparison' });
export const AddOp = createToken({ name: 'AddOp', pattern: Lexer.NA, label: '`+` or `-`' });
export const MulOp = createToken({ name: 'MulOp', pattern: Lexer.NA, label: '`*`, `/` or `%`' });

function punct(name: string, text: string, categories: TokenType[] = []): TokenType {
  const pattern = new RegExp(text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'));
  return createToken({ name, pattern, categories, label: `\`${text}\`` });
}

export const DotDotEq = punct('DotDotEq', '..=');
export const DotDot = punct('DotDot', '..');
export const Dot = punct('Dot', '.');
export const EqEq = punct('EqEq', '==', [CmpOp]);
export const NotEq = punct('NotEq', '!=', [CmpOp]);
export const LessEq = punct('LessEq', '<=', [CmpOp]);
export const GreaterEq = punct('GreaterEq', '>=', [CmpOp]);
export const Less = punct('Less', '<', [CmpOp]);
export const Greater = punct('Greater', '>', [CmpOp]);
export const AndAnd = punct('AndAnd', '&&');
export const OrOr = punct('OrOr', '||');
export const Equals = punct('Equals', '=');
export const Bang = punct('Bang', '!');
export const Plus = punct('Plus', '+', [AddOp]);
export const Minus = punct('Minus', '-', [AddOp]);
export const Star = punct('Star', '*', [MulOp]);
export const Slash = punct('Slash', '/', [MulOp]);
export const Percent = punct('Percent', '%', [MulOp]);
export const LParen = punct('LParen', '(');
export const RParen = punct('RParen', ')');
export const LCurly = punct('LCurly', '{');
export const RCurly = punct('RCurly', '}');
export const Comma = punct('Comma', ',');
export const Colon = punct('Colon', ':');

/** Every token type, in matching order (longest and most specific first). */
export const allTokens: TokenType[] = [
  WhiteSpace,
  LineComment,
  BlockComment,
  UnterminatedComment,
  Layout,
  Pattern,
  On,
  Let,
  Fn,
  Require,
  Else,
  Attend,
  Deny,
  If,
  Then,
  In,
  True,
  False,
  Size,
  Tiles,
  Pad,
  To,
  Text,
  Identifier,
  IntLiteral,
  StringLiteral,
  UnterminatedString,
  DotDotEq,
  DotDot,
  Dot,
  EqEq,
  NotEq,
  LessEq,
  GreaterEq,
  Less,
  Greater,
  AndAnd,
  OrOr,
  Equals,
  Bang,
  Plus,
  Minus,
  Star,
  Slash,
  Percent,
  LParen,
  RParen,
  LCurly,
  RCurly,
  Comma,
  Colon,
  CmpOp,
  AddOp,
  MulOp,
];

/** The lexer; `tokenize` never throws, unknown characters come back as lexing errors. */
export const tileLexer = new Lexer(allTokens, {
  positionTracking: 'full',
  ensureOptimizations: false,
  // Lines end at `\n` only (a `\r\n` line ends at its `\n`), as in diagnostic rendering and `positionAt`.
  lineTerminatorsPattern: /\n/g,
  lineTerminatorCharacters: ['\n'],
});
