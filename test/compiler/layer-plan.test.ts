import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describeChoice, instancePerHead } from '../../compiler/layer-heads.js';
import { formatLayerPlan, LayerPlanError, parseLayerPlan } from '../../compiler/layer-plan.js';

const base = {
  format: 'tessera.layer-plan/1',
  layers: 4,
  sizes: { t: 8, h: 45, w: 80 },
  patterns: {
    full: { builtin: 'full' },
    tile: { builtin: 'attention_tile', params: { a: 1 } },
    mine: { file: 'x.tile', pattern: 'x' },
  },
  default: 'tile',
  assign: { '0': 'full', '3': 'mine' },
};

/** The error parsing `json` as a plan throws (the test fails when it parses, or throws something else). */
function planError(json: unknown): LayerPlanError {
  try {
    parseLayerPlan(json, 'p.json');
  } catch (error) {
    expect(error).toBeInstanceOf(LayerPlanError);
    return error as LayerPlanError;
  }
  throw new Error('the plan parsed');
}

describe('layer plans', () => {
  it('resolves defaults, assignments and relative files', () => {
    const plan = parseLayerPlan(base, '/plans/p.json');
    expect(plan.assignment).toEqual(['full', 'tile', 'tile', 'mine']);
    expect(plan.patterns.mine!.file).toBe('/plans/x.tile');
    expect(plan.patterns.tile!.params).toEqual({ a: 1 });
  });

  it.each([
    [{ ...base, format: 'v0' }, '$.format'],
    [{ ...base, layers: 0 }, '$.layers'],
    [{ ...base, sizes: { t: -1 } }, '$.sizes.t'],
    [{ ...base, patterns: {} }, '$.patterns'],
    [{ ...base, patterns: { a: { builtin: 'full', file: 'x' } }, default: 'a', assign: {} }, '$.patterns.a'],
    [
      { ...base, patterns: { a: { builtin: 'full', params: { a: 1.5 } } }, default: 'a', assign: {} },
      '$.patterns.a.params.a',
    ],
    [{ ...base, default: 'nope' }, '$.default'],
    [{ ...base, assign: { '4': 'full' } }, '$.assign.4'],
    [{ ...base, assign: { x: 'full' } }, '$.assign.x'],
    [{ ...base, assign: { '1': 'tile_17' } }, '$.assign.1'],
    [{ ...base, default: undefined, assign: { '0': 'full' } }, '$.default'],
  ])('rejects a malformed plan at %#, naming the JSON path', (json, path) => {
    expect(planError(json).path).toBe(path);
    expect(planError(json).message).toContain(`p.json: ${path}:`);
  });

  it('round-trips through its own file format', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('full', 'tile', 'mine'), { minLength: 1, maxLength: 40 }),
        (names) => {
          const assign = Object.fromEntries(names.map((n, i) => [String(i), n]));
          const plan = parseLayerPlan({ ...base, layers: names.length, assign }, '/plans/p.json');
          const again = parseLayerPlan(JSON.parse(formatLayerPlan(plan)), '/plans/p.json');
          expect(again.assignment).toEqual(names);
          expect(again.patterns).toEqual(plan.patterns);
        },
      ),
    );
  });

  it('keeps the search metadata of a searched plan and writes it back', () => {
    const search = {
      mode: 'cumulative',
      threshold: 0.05,
      metric: 'x',
      layers: [{ layer: 0, errors: { full: 0 } }],
    };
    const plan = parseLayerPlan({ ...base, search }, '/plans/p.json');
    expect(plan.search).toEqual(search);
    const again = parseLayerPlan(JSON.parse(formatLayerPlan(plan)), '/plans/p.json');
    expect(again.search).toEqual(search);
    expect(again.assignment).toEqual(plan.assignment);
    // Plans without it stay as they were.
    expect(JSON.parse(formatLayerPlan(parseLayerPlan(base, '/plans/p.json'))).search).toBeUndefined();
    // .tile paths relative to the folder the plan goes to.
    expect(JSON.parse(formatLayerPlan(plan, '/plans/out')).patterns.mine.file).toBe('../x.tile');
  });

  it.each([
    [{ ...base, search: [] }, '$.search'],
    [{ ...base, search: { mode: 'greedy', threshold: 0.1 } }, '$.search.mode'],
    [{ ...base, search: { mode: 'independent', threshold: 'high' } }, '$.search.threshold'],
    [{ ...base, search: { mode: 'independent', threshold: -1 } }, '$.search.threshold'],
  ])('rejects malformed search metadata at %#', (json, path) => {
    expect(() => parseLayerPlan(json, 'p.json')).toThrow(`p.json: ${path}:`);
  });

  it('never throws anything but LayerPlanError on arbitrary JSON', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (json) => {
        try {
          parseLayerPlan(json, 'p.json');
        } catch (error) {
          expect(error).toBeInstanceOf(LayerPlanError);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('per-head layer plans', () => {
  const split = { heads: { '0-11': 'full', '12-23': 'tile' } };
  const perHead = { ...base, heads: 24, assign: { '0': 'full', '2': split } };

  it('reads head ranges into sorted ranges that cover every head', () => {
    const plan = parseLayerPlan(perHead, '/plans/p.json');
    expect(plan.heads).toBe(24);
    expect(plan.assignment[2]).toEqual({
      heads: [
        { first: 0, last: 11, instance: 'full' },
        { first: 12, last: 23, instance: 'tile' },
      ],
    });
    expect(instancePerHead(plan.assignment[2]!, 24).filter((n) => n === 'tile')).toHaveLength(12);
    expect(describeChoice(plan.assignment[2]!)).toBe('heads 0-11: full, 12-23: tile');
  });

  it.each([
    [{ ...perHead, heads: undefined }, '$.heads', /head count/],
    [{ ...perHead, heads: 0 }, '$.heads', /integer from 1/],
    [
      { ...perHead, assign: { '2': { heads: { '0-11': 'full', '10-23': 'tile' } } } },
      '$.assign.2.heads.10-23',
      /overlaps/,
    ],
    [
      { ...perHead, assign: { '2': { heads: { '0-11': 'full', '14-23': 'tile' } } } },
      '$.assign.2.heads',
      /heads 12-13 have no pattern/,
    ],
    [
      { ...perHead, assign: { '2': { heads: { '0-11': 'full' } } } },
      '$.assign.2.heads',
      /heads 12-23 have no pattern/,
    ],
    [
      { ...perHead, assign: { '2': { heads: { '0-11': 'full', '12-24': 'tile' } } } },
      '$.assign.2.heads.12-24',
      /past the plan's 24 heads/,
    ],
    [
      { ...perHead, assign: { '2': { heads: { '0-11': 'full', '23-12': 'tile' } } } },
      '$.assign.2.heads.23-12',
      /ends/,
    ],
    [{ ...perHead, assign: { '2': { heads: { 'a-b': 'full' } } } }, '$.assign.2.heads.a-b', /first-last/],
    [
      { ...perHead, assign: { '2': { heads: { '0-23': 'nope' } } } },
      '$.assign.2.heads.0-23',
      /unknown pattern instance/,
    ],
    [{ ...perHead, assign: { '2': { heads: {} } } }, '$.assign.2.heads', /head ranges/],
    [{ ...perHead, assign: { '2': { head: {} } } }, '$.assign.2.head', /nothing else/],
    [
      { ...perHead, default: { heads: { '0-22': 'tile' } } },
      '$.default.heads',
      /head 23 have no pattern|heads 23 have/,
    ],
  ])('rejects a malformed head split at %#, naming the JSON path', (json, path, detail) => {
    expect(planError(json).path).toBe(path);
    expect(planError(json).message).toMatch(detail);
  });

  it('round-trips random head splits through its own file format', () => {
    const splitArb = fc.uniqueArray(fc.integer({ min: 1, max: 23 }), { maxLength: 5 }).chain((cuts) => {
      const bounds = [0, ...[...cuts].sort((a, b) => a - b), 24];
      const ranges = bounds.slice(0, -1).map((first, i) => [first, bounds[i + 1]! - 1] as const);
      return fc
        .array(fc.constantFrom('full', 'tile', 'mine'), {
          minLength: ranges.length,
          maxLength: ranges.length,
        })
        .map((names) => ({
          heads: Object.fromEntries(ranges.map(([a, b], i) => [a === b ? `${a}` : `${a}-${b}`, names[i]!])),
        }));
    });
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constantFrom('full', 'tile'), splitArb), { minLength: 1, maxLength: 12 }),
        (choices) => {
          const assign = Object.fromEntries(choices.map((c, i) => [String(i), c]));
          const plan = parseLayerPlan(
            { ...base, heads: 24, layers: choices.length, assign },
            '/plans/p.json',
          );
          const again = parseLayerPlan(JSON.parse(formatLayerPlan(plan)), '/plans/p.json');
          expect(again.assignment).toEqual(plan.assignment);
          expect(again.heads).toBe(24);
          for (const [i, c] of choices.entries()) {
            if (typeof c === 'string') continue;
            // Every head of a range runs the range's instance.
            const names = instancePerHead(plan.assignment[i]!, 24);
            for (const [key, name] of Object.entries(c.heads)) {
              const [a, b = a] = key.split('-').map(Number) as [number, number?];
              for (let h = a; h <= b!; h++) expect(names[h]).toBe(name);
            }
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it('plans without heads stay valid and are written without them', () => {
    expect(JSON.parse(formatLayerPlan(parseLayerPlan(base, '/plans/p.json'))).heads).toBeUndefined();
  });
});
