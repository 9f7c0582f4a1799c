import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { emitTypescriptBinding } from '../../../codegen/ts/emit-binding.js';
import { compiledElementMask } from '../../../compiler/classify/element-mask.js';
import { compileSource } from '../../../compiler/frontend.js';
import { buildPlan } from '../../../compiler/plan/build.js';
import type { BlockPlan } from '../../../compiler/plan/plan.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** Type-check the emitted module on its own, then transpile and import it. */
async function load(plan: BlockPlan): Promise<Record<string, unknown>> {
  const text = emitTypescriptBinding(plan, 'inline.tile');
  const host = ts.createCompilerHost({});
  const fileName = '/virtual/binding.ts';
  const original = host.getSourceFile.bind(host);
  host.getSourceFile = (name, version) =>
    name === fileName ? ts.createSourceFile(name, text, version) : original(name, version);
  const program = ts.createProgram(
    [fileName],
    {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
      types: [],
    },
    host,
  );
  const errors = ts
    .getPreEmitDiagnostics(program)
    .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  expect(errors).toEqual([]);
  const js = ts.transpileModule(text, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  }).outputText;
  const dir = await mkdtemp(join(tmpdir(), 'tessera-binding-'));
  dirs.push(dir);
  const path = join(dir, 'binding.mjs');
  await writeFile(path, js);
  return (await import(pathToFileURL(path).href)) as Record<string, unknown>;
}

const SOURCE = `
layout mm(t, h, w) {
  text(l) before
  pad frame to 8
}
pattern p(a: int = 2, r: int = 1) on mm {
  let s = ceildiv(t, a)
  attend q.t == k.t || k.t % s == 0 || abs(q.h - k.h) <= r && (q.w - k.w) / 2 == 0
  attend q in text || k in text
  deny q in text && k.l > q.l
}`;

describe('the typed TypeScript binding', () => {
  it("type-checks, and its mask and tables are the plan's", async () => {
    const pattern = compileSource(
      { name: 'inline.tile', text: SOURCE },
      { sizes: { t: 4, h: 3, w: 5, l: 3 } },
    );
    const plan = buildPlan(pattern, 16, 8);
    const mod = await load(plan);
    const allowedIndex = mod.allowedIndex as (qi: number, ki: number) => boolean;
    const oracle = compiledElementMask(pattern);
    let allowed = 0;
    for (let qi = 0; qi < plan.seqLen; qi++) {
      for (let ki = 0; ki < plan.seqLen; ki++) {
        expect(allowedIndex(qi, ki), `(${qi}, ${ki})`).toBe(oracle(qi, ki));
        if (oracle(qi, ki)) allowed++;
      }
    }
    expect(allowed).toBe(plan.stats.allowedPairs);
    const tables = mod.blockTables as {
      full: { offsets: Int32Array; indices: Int32Array };
      partial: { offsets: Int32Array; indices: Int32Array };
      schedule: Int32Array;
      keyBlockHasPadding: Uint8Array;
    };
    expect(Array.from(tables.full.offsets)).toEqual(Array.from(plan.full.offsets));
    expect(Array.from(tables.full.indices)).toEqual(Array.from(plan.full.indices));
    expect(Array.from(tables.partial.indices)).toEqual(Array.from(plan.partial.indices));
    expect(Array.from(tables.schedule)).toEqual(Array.from(plan.schedule));
    expect(Array.from(tables.keyBlockHasPadding)).toEqual(Array.from(plan.keyBlockHasPadding));
    expect(mod.key).toBe(plan.key);
    expect((mod.geometry as { seqLen: number }).seqLen).toBe(plan.seqLen);
  });
});
