/** "Did you mean" hints: the closest known name by edit distance. */

/**
 * Edit distance between two strings: insertions, deletions, substitutions and swaps of two neighbouring
 * characters cost 1 (optimal string alignment), since swapped letters are the most common typo.
 */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/** The candidate closest to `name`, if it is close enough to be a likely typo. */
export function closestName(name: string, candidates: Iterable<string>): string | null {
  let best: string | null = null;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    const d = editDistance(name.toLowerCase(), c.toLowerCase());
    if (d < bestDistance || (d === bestDistance && best !== null && c < best)) {
      best = c;
      bestDistance = d;
    }
  }
  // Allow about one typo per three characters, and always one.
  return best !== null && bestDistance <= Math.max(1, Math.floor(name.length / 3)) ? best : null;
}

/** A hint for an unknown name: "did you mean `x`?", else the list of known names (when short). */
export function unknownNameHint(
  name: string,
  candidates: readonly string[],
  what: string,
  plural = `${what}s`,
): string {
  const close = closestName(name, candidates);
  if (close) return `did you mean \`${close}\`?`;
  if (candidates.length === 0) return `no ${what} is defined here`;
  const sorted = [...candidates].sort();
  const shown = sorted
    .slice(0, 12)
    .map((c) => `\`${c}\``)
    .join(', ');
  return `known ${plural}: ${shown}${sorted.length > 12 ? ', ...' : ''}`;
}
