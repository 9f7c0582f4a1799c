/**
 * The class grids the pictures show: the block-level grid a plan encodes, and the unit-level (frame or tile)
 * grid of its pattern.
 */
import { classifyBlocks } from '../../compiler/classify/classify.js';
import type { PatternInstance } from '../../compiler/ir.js';
import { makeLayout } from '../../compiler/layout.js';
import { paddedSpec } from '../../compiler/layout-choice.js';
import type { BlockPlan } from '../../compiler/plan/plan.js';

/**
 * The pattern with every unit and the text padded to whole unit slots, so that blocks of one unit's slot size
 * line up with frames (or tiles) and the text: the unit-level picture of the mask. Padding moves tokens but
 * never changes the predicate, which is over coordinates.
 */
export function unitAlignedPattern(pattern: PatternInstance): PatternInstance {
  return { ...pattern, layout: makeLayout(paddedSpec(pattern.layout, pattern.layout.unitSlot)) };
}

/** Unit-level (frame or tile) classes: rows x cols grid of empty / partial / full. */
export function unitLevelClasses(pattern: PatternInstance): {
  classes: Uint8Array;
  rows: number;
  cols: number;
} {
  const aligned = unitAlignedPattern(pattern);
  const unit = aligned.layout.unitSlot;
  const classes = classifyBlocks(aligned, unit, unit);
  const n = Math.ceil(aligned.layout.length / unit);
  return { classes, rows: n, cols: n };
}

/** The class grid a plan encodes (row-major, 0 empty / 1 partial / 2 full), rebuilt from its tables. */
export function classesOfPlan(plan: BlockPlan): Uint8Array {
  const classes = new Uint8Array(plan.numQBlocks * plan.numKBlocks);
  for (const [csr, value] of [
    [plan.partial, 1],
    [plan.full, 2],
  ] as const) {
    for (let qb = 0; qb < plan.numQBlocks; qb++) {
      for (let i = csr.offsets[qb]!; i < csr.offsets[qb + 1]!; i++)
        classes[qb * plan.numKBlocks + csr.indices[i]!] = value;
    }
  }
  return classes;
}
