/**
 * The WGSL renderer without a GPU: deterministic output with its DO-NOT-EDIT header, option validation with
 * TP4xx diagnostics, the packed plan tables, the closed-form enumeration against brute-force block tables,
 * and the `--target wgsl` artefacts.
 */
import fc from 'fast-check';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { emitWgslArtifacts } from '../../../codegen/wgsl/artifacts.js';
import { resolveKernelConfig } from '../../../codegen/wgsl/kernel-config.js';
import {
  closedFormKeyBlocks,
  closedFormMismatch,
  packPlanTables,
  planTableLayout,
} from '../../../codegen/wgsl/plan-tables.js';
import { renderWgslModule } from '../../../codegen/wgsl/render-module.js';
import { attentionTilePattern, videoLayout } from '../../../compiler/classify/reference-patterns.js';
import type { ClosedForm } from '../../../compiler/plan/plan.js';
import { TesseraError } from '../../../dsl/diagnostics.js';
import { testRuns } from '../../support/arbitraries/layout.js';
import { bruteForcePlan } from './plan-fixture.js';

const tilePlan = () => bruteForcePlan(attentionTilePattern(videoLayout(4, 3, 5), 2), 16, 16);

function codegenError(f: () => unknown): TesseraError {
  try {
    f();
  } catch (error) {
    if (error instanceof TesseraError) return error;
    throw error;
  }
  throw new Error('expected a TesseraError');
}

/** The Attention Tile closed form on frames aligned to blocks, written from SPEC §1.2. */
function tileForm(frames: number, globals: number, unitBlocks: number): ClosedForm {
  const stride = Math.ceil(frames / globals);
  const global = { start: 0, stride, count: Math.min(globals, Math.ceil(frames / stride)) };
  return {
    kind: 'units',
    units: frames,
    unitBlocksQ: unitBlocks,
    unitBlocksK: unitBlocks,
    firstBlockQ: 0,
    firstBlockK: 0,
    band: { lo: 0, hi: 0 },
    keyUnits: global,
    queryUnits: global,
  };
}

describe('renderWgslModule', () => {
  it('is deterministic and starts with a DO-NOT-EDIT header naming the pattern and the source', () => {
    const plan = tilePlan();
    const a = renderWgslModule(plan, { headDim: 64, sourceFile: 'patterns/attention-tile.tile' });
    const b = renderWgslModule(plan, { headDim: 64, sourceFile: 'patterns/attention-tile.tile' });
    expect(a.code).toBe(b.code);
    const lines = a.code.split('\n');
    expect(lines[0]).toMatch(/^\/\/ DO NOT EDIT\. .*patterns\/attention-tile\.tile/);
    expect(lines[1]).toContain(plan.pattern.key);
    expect(a.code).toContain('fn tp_allowed(q: TpToken, k: TpToken) -> bool');
    expect(a.code).toContain('const kHeadDim: u32 = 64u;');
    expect(a.code).not.toContain('enable f16;');
  });

  it('enables f16 and subgroups only in those variants', () => {
    const plan = tilePlan();
    const code = renderWgslModule(plan, { headDim: 32, io: 'f16', subgroups: true }).code;
    expect(code).toMatch(/^enable f16;$/m);
    expect(code).toMatch(/^enable subgroups;$/m);
    expect(code).toContain('array<f16>');
    expect(code).toContain('subgroupShuffleXor');
  });

  it('rejects unsupported options with TP4xx diagnostics and hints', () => {
    const plan = tilePlan();
    for (const headDim of [24, 36, 136])
      expect(codegenError(() => renderWgslModule(plan, { headDim })).diagnostics[0]!.code).toBe('TP401');
    expect(
      codegenError(() => renderWgslModule(plan, { headDim: 64, enumeration: 'closed-form' })).diagnostics[0]!
        .code,
    ).toBe('TP402');
    const big = bruteForcePlan(attentionTilePattern(videoLayout(2, 8, 20), 1), 256, 64);
    const tooWide = codegenError(() => renderWgslModule(big, { headDim: 64 }));
    expect(tooWide.diagnostics[0]!.code).toBe('TP403');
    expect(tooWide.diagnostics[0]!.hint).toMatch(/at most 128/);
    // A band-only form misses the global frame's blocks: the plan must not reach the kernel.
    const bandOnly: ClosedForm = {
      ...(tileForm(4, 1, 2) as Extract<ClosedForm, { kind: 'units' }>),
      keyUnits: null,
      queryUnits: null,
    };
    const wrongForm = bruteForcePlan(attentionTilePattern(videoLayout(4, 4, 8), 1), 16, 16, bandOnly);
    expect(codegenError(() => renderWgslModule(wrongForm, { headDim: 64 })).diagnostics[0]!.code).toBe(
      'TP405',
    );
  });

  it('fits the key tile into the workgroup memory the device grants', () => {
    const plan = tilePlan();
    for (const limit of [8192, 16384, 32768]) {
      for (const headDim of [32, 64, 128]) {
        const c = resolveKernelConfig(
          plan,
          { headDim },
          {
            maxComputeWorkgroupStorageSize: limit,
            maxComputeInvocationsPerWorkgroup: 256,
            maxComputeWorkgroupSizeX: 256,
          },
        );
        expect(c.workgroupBytes).toBeLessThanOrEqual(limit);
        expect(c.keyTile).toBeLessThanOrEqual(plan.blockK);
      }
    }
  });
});

describe('plan tables', () => {
  it('pack every section at the offsets the shader is given', () => {
    const plan = tilePlan();
    const data = packPlanTables(plan);
    const at = planTableLayout(plan);
    expect(Array.from(data.subarray(at.schedule, at.fullOffsets))).toEqual(Array.from(plan.schedule));
    expect(Array.from(data.subarray(at.fullOffsets, at.fullIndices))).toEqual(Array.from(plan.full.offsets));
    expect(Array.from(data.subarray(at.fullIndices, at.partialOffsets))).toEqual(
      Array.from(plan.full.indices),
    );
    expect(Array.from(data.subarray(at.partialOffsets, at.partialIndices))).toEqual(
      Array.from(plan.partial.offsets),
    );
    expect(Array.from(data.subarray(at.partialIndices, at.keyPadding))).toEqual(
      Array.from(plan.partial.indices),
    );
    expect(Array.from(data.subarray(at.keyPadding))).toEqual(Array.from(plan.keyBlockHasPadding));
  });

  it('closed-form enumeration of Attention Tile equals the brute-force block table on aligned layouts', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 3 }),
        fc.constantFrom(4, 8),
        (frames, a, unitBlocks, block) => {
          const globals = Math.min(a, frames);
          // Frames of unitBlocks * block tokens: 1 x block x unitBlocks, so units align with blocks.
          const plan = bruteForcePlan(
            attentionTilePattern(videoLayout(frames, block, unitBlocks), globals),
            block,
            block,
          );
          const form = tileForm(frames, globals, unitBlocks);
          expect(closedFormMismatch(plan, form)).toBeNull();
          for (let qb = 0; qb < plan.numQBlocks; qb++) {
            const table = Array.from(
              plan.full.indices.subarray(plan.full.offsets[qb]!, plan.full.offsets[qb + 1]!),
            );
            expect(closedFormKeyBlocks(plan, form, qb)).toEqual(table);
          }
        },
      ),
      { numRuns: testRuns(40) },
    );
  });
});

describe('emitWgslArtifacts', () => {
  it('writes the kernel and a typed binding that is valid TypeScript', () => {
    const plan = tilePlan();
    const { files } = emitWgslArtifacts(plan, 'patterns/attention-tile.tile');
    expect(files.map((f) => f.path)).toEqual([`${plan.key}.wgsl`, `${plan.key}.webgpu.ts`]);
    for (const f of files) expect(f.contents).toMatch(/DO NOT EDIT\. .*attention-tile\.tile/);
    expect(files[0]!.contents).toContain('const kHeadDim: u32 = 96u;');
    const binding = files[1]!.contents;
    const result = ts.transpileModule(binding, {
      reportDiagnostics: true,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    });
    expect(result.diagnostics ?? []).toEqual([]);
    // The embedded shader is the emitted one, character for character.
    const embedded = new Function(
      `${result.outputText.replace(/export /g, '').replace(/^\/\/\/.*$/m, '')}; return wgsl;`,
    )() as string;
    expect(embedded).toBe(files[0]!.contents);
  });
});
