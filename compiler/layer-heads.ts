/**
 * Per-head choices of a layer plan: a layer whose heads run different pattern instances (Sparse VideoGen's
 * spatial and temporal heads, a window per head). In a plan file such a layer is assigned an object instead of
 * an instance name:
 *
 *   "assign": { "3": { "heads": { "0-11": "spatial", "12-23": "temporal" } } }
 *
 * Keys are inclusive head ranges ("0-11") or single heads ("7"); together they cover every head of the plan's
 * `"heads"` count exactly once. Parsing reports overlaps, gaps and out-of-range heads with their JSON path.
 */

/** Heads `first..last` (inclusive) of a layer run instance `instance`. */
export interface HeadRange {
  readonly first: number;
  readonly last: number;
  readonly instance: string;
}

/** A layer whose heads are split between instances: ranges sorted by head, covering every head once. */
export interface HeadSplit {
  readonly heads: readonly HeadRange[];
}

/** What one layer runs: one instance name for every head, or an instance per range of heads. */
export type LayerChoice = string | HeadSplit;

/** The instance names a layer uses, each once, in head order. */
export function choiceInstances(choice: LayerChoice): string[] {
  if (typeof choice === 'string') return [choice];
  return [...new Set(choice.heads.map((r) => r.instance))];
}

/** The instance of every head of a layer with `heads` heads (index = head). */
export function instancePerHead(choice: LayerChoice, heads: number): string[] {
  if (typeof choice === 'string') return Array.from({ length: heads }, () => choice);
  const names: string[] = [];
  for (const r of choice.heads) for (let h = r.first; h <= r.last; h++) names.push(r.instance);
  return names;
}

/** The choice as plan-file JSON: an instance name, or `{ "heads": { "0-11": name, ... } }`. */
export function formatChoice(choice: LayerChoice): string | { heads: Record<string, string> } {
  if (typeof choice === 'string') return choice;
  const heads: Record<string, string> = {};
  for (const r of choice.heads)
    heads[r.first === r.last ? `${r.first}` : `${r.first}-${r.last}`] = r.instance;
  return { heads };
}

/** A stable text for a choice, to count and compare layers (`formatLayerPlan` picks the commonest as default). */
export function choiceKey(choice: LayerChoice): string {
  return typeof choice === 'string' ? choice : JSON.stringify(formatChoice(choice));
}

/** A choice in words for listings, e.g. `heads 0-11: spatial, 12-23: temporal`. */
export function describeChoice(choice: LayerChoice): string {
  if (typeof choice === 'string') return choice;
  const runs = choice.heads.map(
    (r) => `${r.first === r.last ? r.first : `${r.first}-${r.last}`}: ${r.instance}`,
  );
  return `heads ${runs.join(', ')}`;
}

/**
 * Parse a per-head assignment at JSON path `at`. `heads` is the plan's head count (null when the plan gives
 * none: then a per-head assignment is an error at `$.heads`); `checkName` validates an instance name.
 */
export function parseHeadSplit(
  json: Record<string, unknown>,
  at: string,
  heads: number | null,
  checkName: (path: string, value: unknown) => string,
  fail: (path: string, detail: string) => never,
): HeadSplit {
  const extra = Object.keys(json).filter((key) => key !== 'heads');
  if (extra.length > 0)
    fail(
      `${at}.${extra[0]}`,
      'a per-head assignment is {"heads": {"0-11": "instance", ...}} and nothing else',
    );
  const map = json.heads;
  if (typeof map !== 'object' || map === null || Array.isArray(map) || Object.keys(map).length === 0)
    fail(`${at}.heads`, 'expected an object mapping head ranges to instance names, e.g. {"0-11": "spatial"}');
  if (heads === null)
    return fail('$.heads', `give the model's head count ("heads": 24) to assign patterns per head (${at})`);
  const ranges: HeadRange[] = [];
  for (const [key, value] of Object.entries(map as Record<string, unknown>)) {
    const path = `${at}.heads.${key}`;
    const m = /^(\d+)(?:-(\d+))?$/.exec(key);
    if (!m)
      return fail(path, 'a head range is "first-last" (inclusive) or a single head, e.g. "0-11" or "7"');
    const first = Number(m[1]);
    const last = m[2] === undefined ? first : Number(m[2]);
    if (last < first) fail(path, `the range ends (${last}) before it starts (${first})`);
    if (last >= heads) fail(path, `head ${last} is past the plan's ${heads} heads (0-${heads - 1})`);
    ranges.push({ first, last, instance: checkName(path, value) });
  }
  ranges.sort((a, b) => a.first - b.first);
  let next = 0;
  for (const r of ranges) {
    const name = r.first === r.last ? `${r.first}` : `${r.first}-${r.last}`;
    if (r.first < next)
      fail(
        `${at}.heads.${name}`,
        `overlaps another range on heads ${span(r.first, Math.min(r.last, next - 1))}`,
      );
    if (r.first > next) fail(`${at}.heads`, `heads ${span(next, r.first - 1)} have no pattern`);
    next = r.last + 1;
  }
  if (next < heads) fail(`${at}.heads`, `heads ${span(next, heads - 1)} have no pattern`);
  return { heads: ranges };
}

const span = (first: number, last: number) => (first === last ? `${first}` : `${first}-${last}`);
