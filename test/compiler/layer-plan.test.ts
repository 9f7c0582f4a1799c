import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
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
    let caught: unknown;
    try {
      parseLayerPlan(json, 'p.json');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(LayerPlanError);
    expect((caught as LayerPlanError).path).toBe(path);
    expect((caught as Error).message).toContain(`p.json: ${path}:`);
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
