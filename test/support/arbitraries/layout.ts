/**
 * Random concrete layouts for property tests: 1-3 video axes with small sizes that are rarely block
 * multiples, optional tiling (tiles may overhang the axis, giving edge padding), unit padding, and an optional
 * text segment before or after the video with its own padding.
 */
import fc from 'fast-check';
import { type ConcreteLayout, type LayoutSpec, makeLayout } from '../../../compiler/layout.js';

/** Number of runs for property tests: `TESSERA_TEST_RUNS` or a CI-friendly default. */
export function testRuns(fallback: number): number {
  const fromEnv = Number(process.env.TESSERA_TEST_RUNS);
  return Number.isFinite(fromEnv) && fromEnv > 0 ? Math.floor(fromEnv) : fallback;
}

/** Options bounding generated layouts. */
export interface LayoutArbitraryOptions {
  /** Largest total length (padding included) accepted. */
  readonly maxLength?: number;
  /** Allow a text segment. */
  readonly text?: boolean;
  /** Allow tiled layouts. */
  readonly tiled?: boolean;
}

const AXIS_NAMES = ['t', 'h', 'w'];

/** Random layout specs (before bounding the length). */
export function layoutSpecArbitrary(options: LayoutArbitraryOptions = {}): fc.Arbitrary<LayoutSpec> {
  return fc.integer({ min: 1, max: 3 }).chain((axes) =>
    fc
      .record({
        sizes: fc.array(fc.integer({ min: 1, max: 8 }), { minLength: axes, maxLength: axes }),
        tileSeeds:
          options.tiled === false
            ? fc.constant(null)
            : fc.option(fc.array(fc.integer({ min: 1, max: 7 }), { minLength: axes, maxLength: axes })),
        unitPad: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 9 })),
        text:
          options.text === false
            ? fc.constant(null)
            : fc.option(
                fc.record({
                  length: fc.integer({ min: 1, max: 7 }),
                  position: fc.constantFrom('before' as const, 'after' as const),
                  pad: fc.integer({ min: 1, max: 5 }),
                }),
              ),
      })
      .map(({ sizes, tileSeeds, unitPad, text }) => ({
        name: 'random',
        videoAxes: AXIS_NAMES.slice(0, sizes.length),
        videoSizes: sizes,
        // Tile extents up to one past the axis size, so edge tiles with padding occur often.
        tile: tileSeeds ? tileSeeds.map((seed, i) => 1 + (seed % (sizes[i]! + 1))) : null,
        unitPad,
        text: text ? { axis: 'l', ...text } : null,
      })),
  );
}

/** Random concrete layouts of bounded length. */
export function layoutArbitrary(options: LayoutArbitraryOptions = {}): fc.Arbitrary<ConcreteLayout> {
  const maxLength = options.maxLength ?? 200;
  return layoutSpecArbitrary(options)
    .map(makeLayout)
    .filter((layout) => layout.length <= maxLength);
}

/** Random block sizes: 1..40, mostly not dividing anything. */
export const blockSizeArbitrary: fc.Arbitrary<number> = fc.integer({ min: 1, max: 40 });
