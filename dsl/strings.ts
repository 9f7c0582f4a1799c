/** String literals of the language: `"..."` with backslash escapes `\"`, `\\`, `\n`, `\t`. */

const ESCAPES: Readonly<Record<string, string>> = { n: '\n', t: '\t', r: '\r' };

/** The value of a string literal's source text (quotes included). Unknown escapes stand for the character. */
export function unescapeString(literal: string): string {
  return literal.slice(1, -1).replace(/\\(.)/g, (_, c: string) => ESCAPES[c] ?? c);
}

/** The source text of a string literal with value `value`; {@link unescapeString} inverts it. */
export function escapeString(value: string): string {
  const body = value.replace(/[\\"\n\t\r]/g, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\t') return '\\t';
    if (c === '\r') return '\\r';
    return `\\${c}`;
  });
  return `"${body}"`;
}
