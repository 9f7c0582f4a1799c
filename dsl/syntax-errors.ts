/**
 * Turning chevrotain's lexing and parsing errors into TP1xx diagnostics: messages in the user's words
 * ("expected `)`", "expected an expression") and hints that point back at the bracket left open, or at an `=`
 * that should have been `==`.
 */
import {
  EOF,
  type IParserErrorMessageProvider,
  type IRecognitionException,
  type IToken,
  type TokenType,
  tokenLabel,
} from 'chevrotain';
import type { Diagnostic, DiagnosticCode } from './diagnostics.js';
import { Equals, LCurly, LParen, RCurly, RParen } from './lexer.js';
import { hasLocation, positionAt, rangeAt, tokenRange } from './positions.js';
import type { SourceFile, SourceRange } from './source.js';

/** What a grammar rule is about, for "expected ..." messages when no single token was expected. */
const RULE_EXPECTATIONS: Readonly<Record<string, string>> = {
  file: '`layout`, `pattern`, `let` or `fn`',
  layoutItem: '`text`, `size`, `tiles` or `pad` in a layout body',
  patternItem: '`let`, `fn`, `attend`, `deny` or `require` in a pattern body',
  expression: 'an expression',
  unaryExpr: 'an expression',
  primary: 'an expression',
  inTarget: 'a range `lo..hi`, a set `{a, b}`, `video` or `text`',
};

function describeToken(token: IToken): string {
  if (token.tokenType === EOF) return 'the end of the file';
  return `\`${token.image}\``;
}

function expectedFromPaths(paths: TokenType[][], ruleName: string): string {
  const fromRule = RULE_EXPECTATIONS[ruleName];
  if (fromRule) return fromRule;
  const labels = [...new Set(paths.map((p) => (p[0] ? tokenLabel(p[0]) : 'the end')))];
  if (labels.length <= 1) return labels[0] ?? 'something else';
  return `${labels.slice(0, -1).join(', ')} or ${labels[labels.length - 1]}`;
}

/** Messages for the parser to raise (chevrotain calls these while parsing). */
export const syntaxMessages: IParserErrorMessageProvider = {
  buildMismatchTokenMessage: ({ expected, actual }) =>
    expected === EOF
      ? `unexpected ${describeToken(actual)}; expected ${RULE_EXPECTATIONS.file}`
      : `expected ${tokenLabel(expected)}, found ${describeToken(actual)}`,
  buildNotAllInputParsedMessage: ({ firstRedundant }) =>
    `unexpected ${describeToken(firstRedundant)}; expected \`layout\`, \`pattern\`, \`let\` or \`fn\``,
  buildNoViableAltMessage: ({ expectedPathsPerAlt, actual, ruleName }) =>
    `expected ${expectedFromPaths(expectedPathsPerAlt.flat(), ruleName)}, found ${describeToken(actual[0]!)}`,
  buildEarlyExitMessage: ({ expectedIterationPaths, actual, ruleName }) =>
    `expected ${expectedFromPaths(expectedIterationPaths, ruleName)}, found ${describeToken(actual[0]!)}`,
};

interface OpenBracket {
  readonly token: IToken;
  readonly what: string;
}

/** The brackets still open just before `offset`, innermost last. */
function openBrackets(tokens: readonly IToken[], offset: number): OpenBracket[] {
  const stack: OpenBracket[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.startOffset >= offset) break;
    if (t.tokenType === LParen) {
      const before = tokens[i - 1];
      const isCall = before !== undefined && before.tokenType.name === 'Identifier';
      stack.push({ token: t, what: isCall ? `call of \`${before.image}\`` : '`(`' });
    } else if (t.tokenType === LCurly) {
      stack.push({ token: t, what: '`{`' });
    } else if (t.tokenType === RParen || t.tokenType === RCurly) {
      stack.pop();
    }
  }
  return stack;
}

function errorRange(source: SourceFile, token: IToken): SourceRange {
  if (token.tokenType === EOF || !hasLocation(token)) {
    const end = positionAt(source.text, source.text.length);
    return { start: end, end };
  }
  return tokenRange(token);
}

/** Diagnostics for the parser's recognition errors, one per distinct place and message. */
export function parserDiagnostics(
  source: SourceFile,
  tokens: readonly IToken[],
  errors: readonly IRecognitionException[],
): Diagnostic[] {
  const out: Diagnostic[] = [];
  const seen = new Set<string>();
  for (const error of errors) {
    const range = errorRange(source, error.token);
    const key = `${range.start.offset}:${error.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    let code: DiagnosticCode = 'TP105';
    let hint: string | undefined;
    const expectsCloser = /^expected `[)}]`/.test(error.message);
    if (error.token.tokenType === Equals) {
      code = 'TP107';
      hint = '`=` gives a name its value; to compare two values write `==`';
    } else if (expectsCloser) {
      const open = openBrackets(
        tokens,
        error.token.tokenType === EOF ? Number.POSITIVE_INFINITY : error.token.startOffset,
      ).pop();
      if (open) {
        code = 'TP106';
        const closer = open.token.tokenType === LParen ? ')' : '}';
        hint = `expected \`${closer}\` to close the ${open.what} opened at ${open.token.startLine}:${open.token.startColumn}`;
      }
    }
    out.push({
      code,
      severity: 'error',
      message: error.message,
      range,
      file: source.name,
      ...(hint ? { hint } : {}),
    });
  }
  return out;
}

/** A diagnostic for a run of characters no token matches. */
export function unknownCharacter(source: SourceFile, offset: number, length: number): Diagnostic {
  const text = source.text.slice(offset, offset + length);
  const shown = text.length > 20 ? `${text.slice(0, 20)}...` : text;
  return {
    code: 'TP101',
    severity: 'error',
    message: `unexpected character${length > 1 ? 's' : ''} \`${shown}\``,
    range: rangeAt(source.text, offset, offset + length),
    file: source.name,
    hint: 'names are letters, digits and `_`; operators are + - * / % == != < <= > >= && || ! .. ..=',
  };
}
