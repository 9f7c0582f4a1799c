/**
 * Code generation's entry: each target maps to its renderer (a plan in, in-memory files out), and the render
 * stage that runs the requested ones after the compiler's stages. Writing the files is the CLI's job, so
 * rendering stays pure and testable.
 */

import { type Artifact, PLAN_STAGES, type Stage } from '../compiler/pipeline.js';
import type { BlockPlan } from '../compiler/plan/plan.js';
import { OptionError } from '../core/errors.js';
import { encodeSafetensors } from '../core/safetensors.js';
import { emitCudaArtifacts } from './cuda/artifacts.js';
import { flexBlockMask } from './flex/block-mask.js';
import { renderFlexModule } from './flex/python-module.js';
import { blockFigure, unitFigure } from './png/mask-image.js';
import { renderScenePng, renderSceneSvg } from './png/scene.js';
import { emitTypescriptBinding } from './ts/emit-binding.js';
import { emitWgslArtifacts } from './wgsl/artifacts.js';

/** A renderer: the files of one target for a plan; `sourceName` names the `.tile` file in headers. */
export type Renderer = (plan: BlockPlan, sourceName: string) => Artifact[];

/** Every target and its renderer, in the order `--target` lists them. */
export const RENDERERS = {
  ts: (plan, sourceName) => [
    {
      path: `${plan.key}.ts`,
      contents: emitTypescriptBinding(plan, sourceName),
      description: 'typed TypeScript binding',
    },
  ],
  flex: (plan, sourceName) => {
    const mask = flexBlockMask(plan);
    return [
      {
        path: `${plan.key}.blockmask.safetensors`,
        contents: encodeSafetensors(mask.tensors, mask.metadata),
        description:
          'FlexAttention block mask (kv_num_blocks, kv_indices, full_kv_num_blocks, full_kv_indices)',
      },
      {
        path: `${plan.key}.blockmask.py`,
        contents: renderFlexModule(plan, sourceName),
        description:
          'Python: load_block_mask(), mask_mod, to_layout/from_layout; run it to check flex_attention against SDPA',
      },
    ];
  },
  png: (plan) => {
    const unit = plan.pattern.layout.tiled ? 'tile' : 'frame';
    const blocks = blockFigure(plan);
    const units = unitFigure(plan);
    return [
      {
        path: `${plan.key}.blocks.png`,
        contents: renderScenePng(blocks),
        description: 'block-level mask picture',
      },
      { path: `${plan.key}.blocks.svg`, contents: renderSceneSvg(blocks), description: 'the same, as SVG' },
      {
        path: `${plan.key}.${unit}s.png`,
        contents: renderScenePng(units),
        description: `${unit}-level picture: share of allowed pairs per ${unit} pair`,
      },
      { path: `${plan.key}.${unit}s.svg`, contents: renderSceneSvg(units), description: 'the same, as SVG' },
    ];
  },
  wgsl: (plan, sourceName) =>
    emitWgslArtifacts(plan, sourceName).files.map((file) => ({
      ...file,
      description: 'WGSL kernel / binding',
    })),
  cuda: (plan, sourceName) =>
    emitCudaArtifacts(plan, sourceName).files.map((file) => ({
      ...file,
      description: file.path.endsWith('.cuh')
        ? 'CUDA kernel template (the .cu files include it)'
        : file.path.endsWith('.json')
          ? 'CUDA launch manifest'
          : 'CUDA kernel',
    })),
} as const satisfies Record<string, Renderer>;

/** One artefact kind. */
export type Target = keyof typeof RENDERERS;

/** Artefacts `tessera compile` can write. */
export const TARGETS = Object.keys(RENDERERS) as readonly Target[];

function isTarget(name: string): name is Target {
  return Object.hasOwn(RENDERERS, name);
}

/** Comma-separated targets, checked against {@link TARGETS}. */
export function parseTargets(text: string): Target[] {
  const targets = text
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t.length > 0);
  for (const t of targets) {
    if (!isTarget(t))
      throw new OptionError(`--target: unknown target "${t}"; choose from ${TARGETS.join(', ')}`);
  }
  return [...new Set(targets)] as Target[];
}

/** Render every requested target for a plan. */
export function renderArtifacts(plan: BlockPlan, sourceName: string, targets: readonly string[]): Artifact[] {
  return targets.flatMap((target) => {
    if (!isTarget(target))
      throw new OptionError(`targets: unknown target "${target}"; choose from ${TARGETS.join(', ')}`);
    return RENDERERS[target](plan, sourceName);
  });
}

/** The render stage: the options' targets for the plan. */
export const RENDER_STAGE: Stage = {
  name: 'render',
  title: 'Render kernels and bindings',
  run(outputs, options) {
    if (!outputs.plan) throw new Error('internal: stage render ran before its input existed');
    outputs.artifacts = renderArtifacts(outputs.plan, outputs.source.name, options.targets);
  },
  dump: (o) =>
    (o.artifacts ?? [])
      .map(
        (a) =>
          `// ${a.path}\n${typeof a.contents === 'string' ? a.contents : `<${a.contents.byteLength} bytes>`}`,
      )
      .join('\n\n'),
};

/** The whole pipeline, source to files: the compiler's stages and the render stage. */
export const STAGES: readonly Stage[] = [...PLAN_STAGES, RENDER_STAGE];

/** The stage names of {@link STAGES}, in order (`--dump` accepts them). */
export const STAGE_NAMES: readonly string[] = STAGES.map((s) => s.name);

export type { Artifact };
