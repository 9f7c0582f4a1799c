/** A position in a source file: 1-based line and column, 0-based character offset. */
export interface SourcePosition {
  readonly line: number;
  readonly column: number;
  readonly offset: number;
}

/** A half-open span of source text, `start` inclusive and `end` exclusive. */
export interface SourceRange {
  readonly start: SourcePosition;
  readonly end: SourcePosition;
}

/** A source text with the name it is reported under (a path, or `<input>`). */
export interface SourceFile {
  readonly name: string;
  readonly text: string;
}

/** The range that covers both `a` and `b`. */
export function spanRanges(a: SourceRange, b: SourceRange): SourceRange {
  const start = a.start.offset <= b.start.offset ? a.start : b.start;
  const end = a.end.offset >= b.end.offset ? a.end : b.end;
  return { start, end };
}

/** A zero-width range at the start of a file, for diagnostics that have no better place. */
export const START_OF_FILE: SourceRange = {
  start: { line: 1, column: 1, offset: 0 },
  end: { line: 1, column: 1, offset: 0 },
};
