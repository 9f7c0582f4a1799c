/** Rank layouts: frame slices (uneven counts), the degrees a model allows, the default split, the messages. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkDegrees,
  defaultDegrees,
  degreeChoices,
  frameSlices,
  rankAt,
  rankLayout,
  rankPosition,
  validSpDegrees,
} from '../../../runtime/parallel/layout.js';
import { tokenSlices } from '../../../runtime/parallel/ulysses.js';

describe('frame slices', () => {
  it('are contiguous, cover every frame once, and differ by at most one frame', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 40 }), (frames, sp) => {
        fc.pre(sp <= frames);
        const slices = frameSlices(frames, sp);
        expect(slices).toHaveLength(sp);
        let next = 0;
        for (const s of slices) {
          expect(s.first).toBe(next);
          expect(s.count).toBeGreaterThan(0);
          next += s.count;
        }
        expect(next).toBe(frames);
        const counts = slices.map((s) => s.count);
        expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
      }),
    );
  });

  it('give the first T mod U ranks the extra frame', () => {
    expect(frameSlices(5, 3)).toEqual([
      { first: 0, count: 2 },
      { first: 2, count: 2 },
      { first: 4, count: 1 },
    ]);
    expect(tokenSlices({ frames: 5, height: 2, width: 3 }, 2)).toEqual([
      { first: 0, frames: 3, offset: 0, count: 18 },
      { first: 3, frames: 2, offset: 18, count: 12 },
    ]);
  });

  it('need a frame per rank', () => {
    expect(() => frameSlices(3, 4)).toThrow(/at least 4 latent frames \(one per rank\); this video has 3/);
  });
});

describe('degrees', () => {
  const ctx = { heads: 24, frames: 8, guided: true };

  it('valid Ulysses degrees divide the heads and fit the frames', () => {
    expect(validSpDegrees(24, 8)).toEqual([1, 2, 3, 4, 6, 8]);
    expect(validSpDegrees(24, 24)).toEqual([1, 2, 3, 4, 6, 8, 12, 24]);
    expect(validSpDegrees(12, 5)).toEqual([1, 2, 3, 4]);
  });

  it('a degree that does not divide the heads names the valid ones', () => {
    expect(() => checkDegrees({ sp: 5, cfg: 1 }, 5, ctx)).toThrow(
      '--sp-degree 5: the Ulysses degree must divide the 24 attention heads; valid degrees: 1, 2, 3, 4, 6, 8',
    );
    expect(() => checkDegrees({ sp: 12, cfg: 1 }, 12, ctx)).toThrow(/at least one of the 8 latent frames/);
  });

  it('CFG-parallel needs guidance, and the degrees must multiply to the world', () => {
    expect(() => checkDegrees({ sp: 2, cfg: 2 }, 4, { ...ctx, guided: false })).toThrow(
      /with --guidance 1 there is only one/,
    );
    expect(() => checkDegrees({ sp: 2, cfg: 1 }, 4, ctx)).toThrow(
      '4 ranks cannot run --sp-degree 2 (that needs 2); for 4 ranks use --sp-degree 2 --cfg-parallel or --sp-degree 4',
    );
    expect(() => checkDegrees({ sp: 2, cfg: 2 }, 4, ctx)).not.toThrow();
  });

  it('the default splits guidance first, then Ulysses; no split fits is an error', () => {
    expect(defaultDegrees(4, ctx)).toEqual({ sp: 2, cfg: 2 });
    expect(defaultDegrees(2, ctx)).toEqual({ sp: 1, cfg: 2 });
    expect(defaultDegrees(3, ctx)).toEqual({ sp: 3, cfg: 1 });
    expect(defaultDegrees(4, { ...ctx, guided: false })).toEqual({ sp: 4, cfg: 1 });
    expect(degreeChoices(16, ctx)).toEqual([{ sp: 8, cfg: 2 }]);
    expect(() => defaultDegrees(10, ctx)).toThrow(/no split of 24 heads and 8 frames fits 10 ranks/);
  });

  it('ranks map to (group, position) and back', () => {
    const d = { sp: 3, cfg: 2 as const };
    for (let r = 0; r < 6; r++) {
      const { group, position } = rankPosition(d, r);
      expect(rankAt(d, group, position)).toBe(r);
    }
    expect(rankPosition(d, 4)).toEqual({ group: 1, position: 1 });
    expect(() => rankLayout(d, [6])).toThrow(/rank 6 is outside a world of 6/);
  });
});
