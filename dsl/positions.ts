/** Conversions from chevrotain's token and node locations to the AST's half-open source ranges. */
import type { CstNodeLocation, IToken } from 'chevrotain';
import type { SourcePosition, SourceRange } from './source.js';

/** The position of character `offset` in `text` (1-based line and column), clamped to the text. */
export function positionAt(text: string, offset: number): SourcePosition {
  const at = Math.max(0, Math.min(offset, text.length));
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < at; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: at - lineStart + 1, offset: at };
}

/** The range from `start` (inclusive) to `end` (exclusive) offsets of `text`. */
export function rangeAt(text: string, start: number, end: number): SourceRange {
  return { start: positionAt(text, start), end: positionAt(text, Math.max(start, end)) };
}

/** True when chevrotain gave the token a real place (tokens invented by error recovery and EOF have none). */
export function hasLocation(token: IToken): boolean {
  return (
    Number.isFinite(token.startOffset) &&
    token.startOffset >= 0 &&
    Number.isFinite(token.endOffset ?? Number.NaN)
  );
}

/** The range a token covers; chevrotain's end offsets and columns are inclusive, ours are exclusive. */
export function tokenRange(token: IToken): SourceRange {
  const endOffset = token.endOffset ?? token.startOffset;
  return {
    start: { line: token.startLine ?? 1, column: token.startColumn ?? 1, offset: token.startOffset },
    end: {
      line: token.endLine ?? token.startLine ?? 1,
      column: (token.endColumn ?? token.startColumn ?? 0) + 1,
      offset: endOffset + 1,
    },
  };
}

/** The range a CST node covers (parser built with `nodeLocationTracking: 'full'`). */
export function locationRange(location: CstNodeLocation): SourceRange {
  return {
    start: { line: location.startLine ?? 1, column: location.startColumn ?? 1, offset: location.startOffset },
    end: {
      line: location.endLine ?? location.startLine ?? 1,
      column: (location.endColumn ?? location.startColumn ?? 0) + 1,
      offset: (location.endOffset ?? location.startOffset) + 1,
    },
  };
}
