import { it } from 'vitest';
import { fullPattern, videoLayout } from '../../../compiler/analysis/reference-patterns.js';
import { buildPlan } from '../../../compiler/build-plan.js';
import { openTestBackend, oracleCase, relativeError } from './gpu-fixture.js';

it('repro', async () => {
  const backend = (await openTestBackend())!;
  console.log(backend.capabilities);
  const cases = JSON.parse(process.env.CASES ?? '[[96,288],[96,336],[64,480],[32,1920]]') as [number, number, number?][];
  for (const [headDim, tokens, block = 32] of cases) {
    const plan = buildPlan(fullPattern(videoLayout(1, 1, tokens)), block, block);
    const shape = { batch: 1, heads: 1, headDim, layout: 'bshd' as const };
    const { q, k, v, ref } = oracleCase(plan, shape, 5);
    const got = await backend.attention(plan, q, k, v, { ...shape, poison: true });
    let nan = 0;
    for (const x of got.out) if (!Number.isFinite(x)) nan++;
    let firstBad = -1;
    for (let i = 0; i < got.out.length; i++) if (!(Math.abs(got.out[i]! - ref.out[i]!) < 1e-3)) { firstBad = i; break; }
    console.log(`d=${headDim} S=${tokens} b=${block} nonfinite=${nan}/${got.out.length} firstBad=${firstBad} (row ${Math.floor(firstBad/headDim)}) err=${relativeError(got.out, ref.out)} lse0=${got.lse[0]} ref=${ref.lse[0]}`);
  }
  backend.dispose();
}, 600000);
