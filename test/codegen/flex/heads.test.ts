/**
 * The FlexAttention export of per-head plans (`tessera layers <plan> --flex <dir>`): block-mask tensors with H =
 * the head count whose head-h rows rebuild head h's brute-force mask, and a `.blockmask.py` that Python
 * compiles and whose `pattern_allows(q, k, head=h)` (plain Python, no torch) agrees with the compiler's element
 * mask of head h's pattern on random triples. Running it with torch is the GPU check (scripts/gpu/run-all.sh).
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeLayerFlex } from '../../../cli/layer-flex.js';
import { toFlexHeadsBlockMask } from '../../../codegen/flex/block-mask.js';
import { parseLayerPlan, planLayers } from '../../../compiler/layer-plan.js';
import { planElementMask } from '../../../compiler/plan/element-mask.js';
import type { BlockPlan } from '../../../compiler/plan/plan.js';
import { seededUniform } from '../../../core/random.js';
import { decodeSafetensors } from '../../../core/safetensors.js';
import { testRuns } from '../../support/arbitraries/layout.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-flex-heads-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const NAMES = ['spatial', 'temporal', 'attention_tile', 'frame_window', 'causal'] as const;

/** A per-head layer plan of `heads` heads over `names` (one range per entry, in order), compiled. */
async function compiledSplit(
  names: readonly string[],
  grid: { t: number; h: number; w: number },
  block: number,
) {
  const per = Math.ceil(12 / names.length);
  const heads: Record<string, string> = {};
  names.forEach((name, i) => {
    const first = i * per;
    const last = Math.min(12, (i + 1) * per) - 1;
    if (first <= last) heads[`${first}-${last}`] = name;
  });
  const plan = parseLayerPlan(
    {
      format: 'tessera.layer-plan/1',
      layers: 2,
      heads: 12,
      sizes: grid,
      patterns: Object.fromEntries(NAMES.map((n) => [n, { builtin: n }])),
      default: 'spatial',
      assign: { '1': { heads } },
    },
    join(dir, 'split.json'),
  );
  return planLayers(
    plan,
    { frames: grid.t, height: grid.h, width: grid.w },
    { blockQ: block, blockK: block },
    null,
  );
}

function perHeadPlans(compiled: Awaited<ReturnType<typeof compiledSplit>>): BlockPlan[] {
  const layer = compiled.layers[1]!;
  if (!('perHead' in layer)) throw new Error('layer 1 does not split its heads');
  return layer.perHead.map((p) => p.plan);
}

const caseArb = fc.record({
  names: fc.uniqueArray(fc.constantFrom(...NAMES), { minLength: 2, maxLength: 4 }),
  t: fc.integer({ min: 2, max: 5 }),
  h: fc.integer({ min: 1, max: 3 }),
  w: fc.integer({ min: 2, max: 5 }),
  block: fc.constantFrom(4, 8, 16),
});

describe('the per-head FlexAttention export', () => {
  it("rebuilds head h's brute-force mask from head h's rows of the [1, H, ...] tensors", async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const perHead = perHeadPlans(await compiledSplit(c.names, { t: c.t, h: c.h, w: c.w }, c.block));
        const m = toFlexHeadsBlockMask(perHead, 'k', 'k');
        const { numQBlocks: qb, numKBlocks: kb, seqLen: n, blockQ, blockK } = perHead[0]!;
        expect(m.kvNumBlocks.shape).toEqual([1, 12, qb]);
        expect(m.fullKvIndices.shape).toEqual([1, 12, qb, kb]);
        perHead.forEach((plan, h) => {
          const mask = planElementMask(plan);
          for (let q = 0; q < n; q++) {
            const row = h * qb + Math.floor(q / blockQ);
            const full = new Set(
              m.fullKvIndices.data.subarray(row * kb, row * kb + m.fullKvNumBlocks.data[row]!),
            );
            const partial = new Set(m.kvIndices.data.subarray(row * kb, row * kb + m.kvNumBlocks.data[row]!));
            for (let k = 0; k < n; k++) {
              const b = Math.floor(k / blockK);
              const want = mask.isReal(q) && mask.isReal(k) && mask.allowed(q, k);
              expect(full.has(b) || (partial.has(b) && want), `head ${h} (${plan.key}) q ${q} k ${k}`).toBe(
                want,
              );
            }
          }
        });
      }),
      { numRuns: testRuns(8) },
    );
  });

  it('writes a module that py_compiles and agrees with the element mask of each head in plain Python', async () => {
    const random = seededUniform(5);
    const compiled = await compiledSplit(['spatial', 'attention_tile', 'temporal'], { t: 4, h: 3, w: 5 }, 16);
    const out = join(dir, 'flex');
    const files = await writeLayerFlex(compiled, out);
    expect((await readdir(out)).sort()).toEqual(files.map((f) => f.slice(out.length + 1)).sort());
    const module = files.find((f) => f.endsWith('.py'))!;
    execFileSync('python3', ['-m', 'py_compile', module], { stdio: 'pipe' });
    const perHead = perHeadPlans(compiled);
    const n = perHead[0]!.seqLen;
    const triples = Array.from({ length: 3000 }, () => [
      Math.floor(random() * 12),
      Math.floor(random() * n),
      Math.floor(random() * n),
    ]);
    const script = join(dir, 'evaluate.py');
    await writeFile(
      script,
      `import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("m", sys.argv[1])
m = importlib.util.module_from_spec(spec)
spec.loader.exec_module(m)
assert "torch" not in sys.modules, "the module must import without torch"
triples = json.load(open(sys.argv[2]))
print(json.dumps({"heads": m.HEADS, "groups": list(m.HEAD_GROUP), "allowed": [bool(m.pattern_allows(q, k, head=h)) for h, q, k in triples]}))
`,
    );
    const triplesFile = join(dir, 'triples.json');
    await writeFile(triplesFile, JSON.stringify(triples));
    const got = JSON.parse(execFileSync('python3', [script, module, triplesFile], { encoding: 'utf8' })) as {
      heads: number;
      groups: number[];
      allowed: boolean[];
    };
    expect(got.heads).toBe(12);
    expect(got.groups).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
    const masks = perHead.map(planElementMask);
    const want = triples.map(([h, q, k]) => masks[h!]!.allowed(q!, k!));
    expect(got.allowed).toEqual(want);
    // Every head group answers both ways in the sample, or the comparison proves little.
    for (const g of [0, 4, 8]) expect(new Set(want.filter((_, i) => triples[i]![0] === g)).size).toBe(2);
    // The safetensors holds the H dimension.
    const tensors = decodeSafetensors(await readFile(files.find((f) => f.endsWith('.safetensors'))!));
    expect(tensors.tensors.get('kv_num_blocks')!.shape[1]).toBe(12);
  }, 120_000);

  it('refuses a layer whose heads order their tokens differently, naming the layer', async () => {
    const plan = parseLayerPlan(
      {
        format: 'tessera.layer-plan/1',
        layers: 1,
        heads: 2,
        sizes: { t: 3, h: 4, w: 4 },
        patterns: {
          spatial: { builtin: 'spatial' },
          // Tiles of 6 x 8 x 8 (the default): tokens reordered tile by tile and padded.
          tiled: { builtin: 'sliding_tile', params: { wt: 1, wh: 1, ww: 2 } },
        },
        default: { heads: { '0': 'spatial', '1': 'tiled' } },
      },
      join(dir, 'mixed.json'),
    );
    const compiled = await planLayers(
      plan,
      { frames: 3, height: 4, width: 4 },
      { blockQ: 8, blockK: 8 },
      null,
    );
    await expect(writeLayerFlex(compiled, join(dir, 'mixed'))).rejects.toThrow(
      /\$\.assign\.0: a Flex block mask needs one token order/,
    );
  });
});
