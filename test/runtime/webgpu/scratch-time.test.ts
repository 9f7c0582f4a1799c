import { it } from 'vitest';
import { fullPattern, videoLayout } from '../../../compiler/analysis/reference-patterns.js';
import { buildPlan } from '../../../compiler/build-plan.js';
import { openTestBackend, oracleCase } from './gpu-fixture.js';
it('t', async () => {
  const backend = (await openTestBackend())!;
  for (const [hd, bq, bk] of [[96, 32, 32], [96,8,64]]) {
  const plan = buildPlan(fullPattern(videoLayout(3, 10, Number(process.env.W ?? 10))), bq!, bk!);
  const shape = { batch: 1, heads: 2, headDim: hd!, layout: 'bhsd' as const };
  let t = performance.now();
  const { q, k, v } = oracleCase(plan, shape, 3);
  const o = performance.now() - t; t = performance.now();
  const p = await backend.prepare(plan, q, k, v, shape);
  const c = performance.now() - t; t = performance.now();
  await p.run();
  const r1 = performance.now() - t; t = performance.now();
  await p.run();
  console.log(`d${hd} b${bq}x${bk} oracle ${o.toFixed(0)} prepare ${c.toFixed(0)} run1 ${r1.toFixed(0)} run2 ${(performance.now() - t).toFixed(0)}`);
  }
  backend.dispose();
}, 60000);
