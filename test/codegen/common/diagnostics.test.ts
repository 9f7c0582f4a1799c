import { describe, expect, it } from 'vitest';
import { planDiagnostic } from '../../../codegen/common/diagnostics.js';
import { fullPattern, videoLayout } from '../../../compiler/classify/reference-patterns.js';
import { buildPlan } from '../../../compiler/plan/build.js';
import { START_OF_FILE } from '../../../dsl/source.js';

describe('planDiagnostic', () => {
  const pattern = fullPattern(videoLayout(2, 2, 2));

  it("points at the pattern's declaration when the plan came from source", () => {
    const range = { start: { line: 7, column: 1, offset: 90 }, end: { line: 7, column: 23, offset: 112 } };
    const plan = buildPlan({ ...pattern, declaration: { file: 'patterns/p.tile', range } }, 4, 4);
    const d = planDiagnostic(plan, 'TP401', 'no kernel for this', 'do that');
    expect(d).toEqual({
      code: 'TP401',
      severity: 'error',
      message: `${plan.key}: no kernel for this`,
      range,
      file: 'patterns/p.tile',
      hint: 'do that',
    });
  });

  it('falls back to the pattern key at line 1 without a declaration', () => {
    const plan = buildPlan(pattern, 4, 4);
    const d = planDiagnostic(plan, 'TP405', 'mismatch');
    expect([d.file, d.range, d.hint]).toEqual([pattern.key, START_OF_FILE, undefined]);
  });
});
