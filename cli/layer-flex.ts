/**
 * `tessera layers <plan> --flex <dir>`: the FlexAttention export of every layer that splits its heads, a block
 * mask with H = the head count and a `.blockmask.py` whose `mask_mod` reads the head (codegen/flex). Layers that
 * run one pattern on every head are what `tessera compile <pattern> --target flex` exports.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { flexHeadsBlockMask } from '../codegen/flex/block-mask.js';
import { renderFlexHeadsModule } from '../codegen/flex/python-module.js';
import type { CompiledLayerPlan } from '../compiler/layer-plan.js';
import { LayerPlanError } from '../compiler/layer-plan.js';
import type { HeadPlans } from '../compiler/plan/head-plans.js';
import { encodeSafetensors } from '../core/safetensors.js';

/** Write the per-head layers' Flex exports into `dir`; returns the files written. */
export async function writeLayerFlex(compiled: CompiledLayerPlan, dir: string): Promise<string[]> {
  const stem = basename(compiled.plan.file)
    .replace(/\.json$/, '')
    .replace(/[^A-Za-z0-9_]/g, '_');
  const done = new Set<HeadPlans>();
  const files: string[] = [];
  await mkdir(dir, { recursive: true });
  for (const [layer, planned] of compiled.layers.entries()) {
    if (!('perHead' in planned) || done.has(planned)) continue;
    done.add(planned);
    const perHead = planned.perHead.map((p) => p.plan);
    const first = planned.perHead[0]!;
    const odd = planned.perHead.find((p) => !sameOrder(p.tokenOf, first.tokenOf));
    if (odd)
      throw new LayerPlanError(
        compiled.plan.file,
        `$.assign.${layer}`,
        `a Flex block mask needs one token order for every head, but ${odd.plan.pattern.key} orders the tokens differently from ${first.plan.pattern.key}`,
      );
    const key = `${stem}_layer${layer}_b${first.plan.blockQ}x${first.plan.blockK}`;
    const mask = flexHeadsBlockMask(perHead, key);
    const safetensors = join(dir, `${key}.blockmask.safetensors`);
    const module = join(dir, `${key}.blockmask.py`);
    await writeFile(safetensors, encodeSafetensors(mask.tensors, mask.metadata));
    await writeFile(module, renderFlexHeadsModule(perHead, key, compiled.plan.file));
    files.push(safetensors, module);
  }
  return files;
}

function sameOrder(a: Int32Array, b: Int32Array): boolean {
  return a.length === b.length && a.every((t, i) => t === b[i]);
}
