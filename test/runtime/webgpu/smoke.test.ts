import { attentionTilePattern, videoLayout } from '../../../compiler/analysis/reference-patterns.js';
import { bruteForcePlan } from '../../../test/runtime/webgpu/plan-fixture.js';
import { renderWgslModule } from '../../../codegen/wgsl/render-module.js';
import { createNodeWebGpuBackend } from '../../../runtime/webgpu/node-gpu.js';
import { denseAttention } from '../../../runtime/cpu/attention.js';
import { elementMask } from '../../../compiler/analysis/element-mask.js';
import { it } from 'vitest';
it('smoke', async () => {
const pattern = attentionTilePattern(videoLayout(4, 3, 5, 1), 1);
const plan = bruteForcePlan(pattern, 16, 16);
const m = renderWgslModule(plan, { headDim: 32 });
console.log(m.code.split('\n').length, 'lines');
const backend = await createNodeWebGpuBackend();
console.log(backend.capabilities);
const B = 1, H = 2, D = 32, S = plan.seqLen;
const rnd = () => Math.random() * 2 - 1;
const q = Float32Array.from({ length: B * S * H * D }, rnd), k = Float32Array.from({ length: B * S * H * D }, rnd), v = Float32Array.from({ length: B * S * H * D }, rnd);
try {
  const r = await backend.attention(plan, q, k, v, { batch: B, heads: H, headDim: D, layout: 'bshd', poison: true });
  const ref = denseAttention({ q, k, v, layout: 'bshd', batch: B, heads: H, seqLen: S, headDim: D }, elementMask(pattern));
  let num = 0, den = 0; for (let i = 0; i < ref.out.length; i++) { num += (r.out[i] - ref.out[i]) ** 2; den += ref.out[i] ** 2; }
  console.log('rel', Math.sqrt(num / den), r.lse.slice(0, 5), ref.lse.slice(0, 5));
} catch (e) { console.log(String(e)); }
backend.dispose();
});
