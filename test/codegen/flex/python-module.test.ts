/**
 * The `.blockmask.py` that `--target flex` writes, for every built-in pattern at its default sizes: Python
 * compiles it (`py_compile`), and its predicate, evaluated in plain Python (no torch: `pattern_allows` over
 * ints), agrees with the compiler's element mask on random pairs; its slot -> model-order token map agrees with
 * the layout decoder. Running it with torch (flex_attention against SDPA) is the GPU check
 * (scripts/gpu/run-all.sh tests).
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderArtifacts, STAGES } from '../../../codegen/index.js';
import { decodeToken } from '../../../compiler/layout.js';
import { makeCompileOptions } from '../../../compiler/options.js';
import { compile } from '../../../compiler/pipeline.js';
import { planElementMask } from '../../../compiler/plan/element-mask.js';
import type { BlockPlan } from '../../../compiler/plan/plan.js';
import { seededUniform } from '../../../core/random.js';
import { BUILTIN_PATTERNS } from '../../../patterns/index.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-flex-py-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Natural (model-order) token of a slot as the module documents it, from the compiler's decoder. */
function naturalToken(plan: BlockPlan, slot: number): number {
  const layout = plan.pattern.layout;
  const d = decodeToken(layout, slot);
  if (d === null) return -1;
  const video = layout.videoSizes.reduce((a, b) => a * b, 1);
  const nv = layout.videoAxes.length;
  if (d.segment === 'text') return (layout.textPosition === 'after' ? video : 0) + d.coords[nv]!;
  let n = 0;
  for (let a = 0; a < nv; a++) n = n * layout.videoSizes[a]! + d.coords[a]!;
  return n + (layout.textPosition === 'after' ? 0 : layout.textLength);
}

/** The evaluator: imports each module by path, without torch, and prints pattern_allows and tp_natural. */
const EVALUATE = `
import importlib.util, json, sys
cases = json.load(open(sys.argv[1]))
out = []
for case in cases:
    spec = importlib.util.spec_from_file_location("m", case["file"])
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    assert "torch" not in sys.modules, "the module must import without torch"
    out.append({
        "allowed": [bool(m.pattern_allows(q, k)) for q, k in case["pairs"]],
        "natural": [m.tp_natural(i) for i in case["slots"]],
        "seq_len": m.SEQ_LEN,
    })
print(json.dumps(out))
`;

describe('the .blockmask.py module', () => {
  it('compiles with py_compile and agrees with the compiler on random pairs, for every built-in pattern', async () => {
    const random = seededUniform(11);
    const cases: { file: string; pairs: [number, number][]; slots: number[] }[] = [];
    const expected: { allowed: boolean[]; natural: number[]; seqLen: number }[] = [];
    for (const builtin of BUILTIN_PATTERNS) {
      const options = makeCompileOptions({
        params: { ...builtin.defaultParams },
        sizes: { ...builtin.defaultSizes },
        blockQ: 128,
        blockK: 128,
        targets: ['flex'],
      });
      const text = await readFile(builtin.file, 'utf8');
      const { outputs } = await compile({ source: { name: builtin.file, text }, options, stages: STAGES });
      const plan = outputs.plan!;
      const py = renderArtifacts(plan, builtin.file, ['flex']).find((a) => a.path.endsWith('.py'))!;
      const file = join(dir, py.path);
      await writeFile(file, py.contents);
      const n = plan.seqLen;
      const pick = () => Math.floor(random() * n);
      // Half uniform pairs, half near the diagonal (same frame or tile), where sparse patterns allow pairs.
      const pairs = Array.from({ length: 1500 }, (_, i): [number, number] => {
        const q = pick();
        return [
          q,
          i % 2 === 0 ? pick() : Math.min(n - 1, Math.max(0, q + Math.floor((random() - 0.5) * 600))),
        ];
      });
      const slots = Array.from({ length: 300 }, pick);
      const mask = planElementMask(plan);
      cases.push({ file, pairs, slots });
      expected.push({
        allowed: pairs.map(([q, k]) => mask.allowed(q, k)),
        natural: slots.map((s) => naturalToken(plan, s)),
        seqLen: n,
      });
    }
    execFileSync('python3', ['-m', 'py_compile', ...cases.map((c) => c.file)], { stdio: 'pipe' });
    const casesFile = join(dir, 'cases.json');
    const script = join(dir, 'evaluate.py');
    await writeFile(casesFile, JSON.stringify(cases));
    await writeFile(script, EVALUATE);
    const got = JSON.parse(execFileSync('python3', [script, casesFile], { encoding: 'utf8' })) as {
      allowed: boolean[];
      natural: number[];
      seq_len: number;
    }[];
    BUILTIN_PATTERNS.forEach((builtin, i) => {
      expect(got[i]!.seq_len, builtin.name).toBe(expected[i]!.seqLen);
      expect(got[i]!.allowed, builtin.name).toEqual(expected[i]!.allowed);
      expect(got[i]!.natural, builtin.name).toEqual(expected[i]!.natural);
      // The sample must exercise both answers, or the comparison proves little.
      expect(new Set(expected[i]!.allowed).size, builtin.name).toBe(builtin.name === 'full' ? 1 : 2);
    });
  }, 180_000);
});
