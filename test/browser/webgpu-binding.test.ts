/**
 * The generated WebGPU binding (`<key>.webgpu.ts`, what `tessera compile --target wgsl` writes) in a real
 * browser: headless Chromium's `navigator.gpu` (SwiftShader, on the CPU) runs the kernel through the binding
 * alone, with no tessera runtime on the page, and the result is compared with the float64 reference here.
 * CI installs Chromium (.ci/run); elsewhere the test is skipped when no Chromium is installed.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { emitWgslArtifacts } from '../../codegen/wgsl/artifacts.js';
import { compiledElementMask } from '../../compiler/classify/element-mask.js';
import { compileSource } from '../../compiler/frontend.js';
import { buildPlan } from '../../compiler/plan/build.js';
import { relativeError } from '../../core/error-metrics.js';
import { findBuiltinPattern } from '../../patterns/index.js';
import { denseAttention } from '../../runtime/cpu/attention.js';
import { randomInputs } from '../../verify/verify.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const mustRun = process.env.CI === 'true';

/** The page: load the binding, run one call on navigator.gpu, post {out, lse} (or the error) back. */
const PAGE = `<!doctype html><meta charset="utf-8"><script type="module">
import * as kernel from './binding.js';
const post = (body) => fetch('/result', { method: 'POST', body: JSON.stringify(body) });
try {
  const input = await (await fetch('/inputs.json')).json();
  const adapter = await navigator.gpu.requestAdapter();
  const g = kernel.geometry;
  const device = await adapter.requestDevice({ requiredLimits: {
    maxComputeWorkgroupStorageSize: g.workgroupBytes, maxComputeInvocationsPerWorkgroup: g.workgroupSize,
    maxComputeWorkgroupSizeX: g.workgroupSize, maxStorageBuffersPerShaderStage: 6 } });
  const k = await kernel.createAttentionKernel(device);
  const buffer = (data, usage) => {
    const b = device.createBuffer({ size: Math.max(16, data.byteLength), usage: usage | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(b, 0, data);
    return b;
  };
  const f32 = (values) => new Float32Array(values);
  const n = input.seqLen * input.heads * input.headDim;
  const strides = { batch: input.seqLen * input.heads * input.headDim, seq: input.heads * input.headDim, head: input.headDim };
  const params = buffer(kernel.encodeParams(input.heads, 1 / Math.sqrt(input.headDim), strides, strides), GPUBufferUsage.UNIFORM);
  const storage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC;
  const [q, kk, v] = [input.q, input.k, input.v].map((x) => buffer(f32(x), storage));
  const out = buffer(f32(new Array(n).fill(NaN)), storage);
  const lse = buffer(f32(new Array(input.seqLen * input.heads).fill(NaN)), storage);
  const resources = [params, q, kk, v, out, lse, k.tables];
  const bindGroup = device.createBindGroup({ layout: k.bindGroupLayout,
    entries: resources.map((resource, binding) => ({ binding, resource: { buffer: resource } })) });
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  k.dispatch(pass, bindGroup, 1, input.heads);
  pass.end();
  const read = async (src, bytes) => {
    const staging = device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const e = device.createCommandEncoder();
    e.copyBufferToBuffer(src, 0, staging, 0, bytes);
    device.queue.submit([e.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    return staging.getMappedRange().slice(0);
  };
  device.queue.submit([encoder.finish()]);
  const outBits = new Float32Array(await read(out, n * 4));
  const lseBits = new Float32Array(await read(lse, input.seqLen * input.heads * 4));
  await post({ adapter: adapter.info?.vendor ?? 'unknown', out: Array.from(outBits, (x) => (Number.isNaN(x) ? 'NaN' : x)),
    lse: Array.from(lseBits, (x) => (x === -Infinity ? '-inf' : Number.isNaN(x) ? 'NaN' : x)) });
} catch (error) {
  await post({ error: String(error && error.stack || error) });
}
</script>`;

const dirs: string[] = [];
const servers: Server[] = [];
afterAll(async () => {
  for (const s of servers) s.close();
  // Chromium's helper processes may still be flushing the profile for a moment after the kill.
  for (const d of dirs) await rm(d, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
});

/** Serve `dir` on loopback and resolve with what the page posts to /result. */
async function serveAndWait(dir: string): Promise<{ port: number; result: Promise<string> }> {
  let deliver!: (body: string) => void;
  const result = new Promise<string>((resolve) => {
    deliver = resolve;
  });
  const server = createServer(async (request, response) => {
    if (request.method === 'POST' && request.url === '/result') {
      let body = '';
      for await (const chunk of request) body += chunk;
      response.end('ok');
      deliver(body);
      return;
    }
    const name = request.url === '/' ? 'index.html' : (request.url ?? '').replace(/^\//, '');
    const type = name.endsWith('.js')
      ? 'text/javascript'
      : name.endsWith('.json')
        ? 'application/json'
        : 'text/html';
    const body = await readFile(join(dir, name)).catch(() => null);
    if (body === null) response.writeHead(404).end();
    else response.writeHead(200, { 'content-type': type }).end(body);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return { port: typeof address === 'object' && address ? address.port : 0, result };
}

describe('the generated WebGPU binding in a browser', () => {
  it.skipIf(!CHROMIUM && !mustRun)(
    'runs on navigator.gpu and matches the float64 reference',
    async () => {
      expect(CHROMIUM, 'CI must have Chromium installed (.ci/run)').toBeDefined();
      const builtin = findBuiltinPattern('attention_tile')!;
      const pattern = compileSource(
        { name: builtin.file, text: await readFile(builtin.file, 'utf8') },
        { sizes: { t: 5, h: 3, w: 7 }, params: { a: 2 } },
      );
      const plan = buildPlan(pattern, 16, 16);
      const headDim = 32;
      const heads = 2;
      const binding = emitWgslArtifacts(plan, builtin.file, { headDim }).files.find((f) =>
        f.path.endsWith('.webgpu.ts'),
      )!;
      const js = ts.transpileModule(binding.contents, {
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
      }).outputText;
      const inputs = randomInputs(plan.seqLen, heads, headDim, 7);
      const dir = await mkdtemp(join(tmpdir(), 'tessera-browser-'));
      dirs.push(dir);
      await writeFile(join(dir, 'binding.js'), js);
      await writeFile(join(dir, 'index.html'), PAGE);
      await writeFile(
        join(dir, 'inputs.json'),
        JSON.stringify({
          seqLen: plan.seqLen,
          heads,
          headDim,
          q: Array.from(inputs.q),
          k: Array.from(inputs.k),
          v: Array.from(inputs.v),
        }),
      );
      const { port, result } = await serveAndWait(dir);
      const browser = spawn(
        CHROMIUM!,
        [
          '--headless=new',
          '--no-sandbox',
          '--disable-gpu-sandbox',
          '--enable-unsafe-webgpu',
          '--use-webgpu-adapter=swiftshader',
          '--use-angle=swiftshader',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          '--no-first-run',
          `--user-data-dir=${join(dir, 'profile')}`,
          `http://127.0.0.1:${port}/`,
        ],
        // Its own process group, so the kill below takes Chromium's helper processes with it.
        { stdio: 'ignore', detached: true },
      );
      const exited = new Promise<void>((resolve) => browser.once('exit', () => resolve()));
      try {
        const timeout = new Promise<string>((_, reject) =>
          setTimeout(() => reject(new Error('the page posted no result within 90 s')), 90_000),
        );
        const posted = JSON.parse(await Promise.race([result, timeout])) as {
          error?: string;
          out: (number | string)[];
          lse: (number | string)[];
        };
        expect(posted.error).toBeUndefined();
        const ref = denseAttention(inputs, compiledElementMask(pattern));
        const out = posted.out.map(Number);
        expect(out.every(Number.isFinite), 'every output element written').toBe(true);
        expect(relativeError(out, ref.out)).toBeLessThan(1e-4);
        const lse = posted.lse.map((x) => (x === '-inf' ? Number.NEGATIVE_INFINITY : Number(x)));
        expect(relativeError(lse, Array.from(ref.lse))).toBeLessThan(1e-5);
      } finally {
        if (browser.pid !== undefined) process.kill(-browser.pid, 'SIGKILL');
        await exited;
      }
    },
    120_000,
  );
});
