/**
 * The render stage: everything `tessera compile` writes for a plan, per target, as in-memory files. Writing
 * them to disk is the CLI's job, so rendering stays pure and testable.
 */

import { classifyBlocks } from '../compiler/classify/classify.js';
import type { PatternInstance } from '../compiler/ir.js';
import { makeLayout } from '../compiler/layout.js';
import { paddedSpec } from '../compiler/layout-choice.js';
import type { Target } from '../compiler/options.js';
import type { BlockPlan } from '../compiler/plan/plan.js';
import { encodeSafetensors } from '../core/safetensors.js';
import type { SourceFile } from '../dsl/source.js';
import { emitCudaArtifacts } from './cuda/artifacts.js';
import { FLEX_LOADER_SNIPPET, flexBlockMask } from './flex/block-mask.js';
import { renderClassGridPng } from './png/mask-image.js';
import { emitTypescriptBinding } from './ts/emit-binding.js';
import { emitWgslArtifacts } from './wgsl/artifacts.js';

/** One output file, relative to the output folder. */
export interface Artifact {
  readonly path: string;
  readonly contents: string | Uint8Array;
  /** What the file is, for the report. */
  readonly description: string;
}

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

/** Render every requested target for a plan. */
export function renderArtifacts(plan: BlockPlan, source: SourceFile, targets: readonly Target[]): Artifact[] {
  const key = plan.key;
  const out: Artifact[] = [];
  for (const target of targets) {
    switch (target) {
      case 'ts':
        out.push({
          path: `${key}.ts`,
          contents: emitTypescriptBinding(plan, source.name),
          description: 'typed TypeScript binding',
        });
        break;
      case 'flex': {
        const mask = flexBlockMask(plan);
        out.push({
          path: `${key}.blockmask.safetensors`,
          contents: encodeSafetensors(mask.tensors, mask.metadata),
          description:
            'FlexAttention block mask (kv_num_blocks, kv_indices, full_kv_num_blocks, full_kv_indices)',
        });
        out.push({
          path: `${key}.blockmask.py`,
          contents: FLEX_LOADER_SNIPPET,
          description: 'how to load it as a BlockMask',
        });
        break;
      }
      case 'png': {
        const blocks = renderClassGridPng(classesOfPlan(plan), plan.numQBlocks, plan.numKBlocks, {});
        out.push({ path: `${key}.blocks.png`, contents: blocks, description: 'block-level mask picture' });
        const units = unitLevelClasses(plan.pattern);
        out.push({
          path: `${key}.${plan.pattern.layout.tiled ? 'tiles' : 'frames'}.png`,
          contents: renderClassGridPng(units.classes, units.rows, units.cols, {}),
          description: `${plan.pattern.layout.tiled ? 'tile' : 'frame'}-level mask picture`,
        });
        break;
      }
      case 'wgsl':
        for (const file of emitWgslArtifacts(plan, source.name).files)
          out.push({ ...file, description: 'WGSL kernel / binding' });
        break;
      case 'cuda':
        for (const file of emitCudaArtifacts(plan, source.name).files)
          out.push({ ...file, description: 'CUDA kernel' });
        break;
    }
  }
  return out;
}
