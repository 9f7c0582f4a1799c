/**
 * Attention of the CUDA model ops.
 *
 * Self-attention runs the compiled pattern kernels (runtime/cuda `CudaAttention`, block-sparse FA2) on the
 * layer's block plan; dense layers use a dense block plan built in code (`denseBlockPlan`, no pattern file).
 * A plan whose layout
 * reorders or pads tokens gets Q, K, V gathered into layout order first and the output scattered back.
 *
 * Cross-attention (video queries to a few hundred text keys with a padding mask) does not go through the
 * pattern kernels, whose plans assume as many keys as queries: it is two cuBLASLt GEMMs batched over heads
 * (S = Q K^T scaled, O = P V) around a masked softmax kernel, per batch element. With L text tokens that is
 * 4 N L D flops in tensor-core GEMMs and an N x L score matrix per head, which is small next to
 * self-attention's N x N.
 */
import { denseBlockPlan } from '../../compiler/plan/dense.js';
import type { HeadRun } from '../../compiler/plan/head-plans.js';
import { contiguousStrides, TensorError } from '../../core/tensor.js';
import { attentionRuns, headGroups } from '../head-specs.js';
import type { SelfAttentionSpec } from '../model-ops.js';
import { CudaAttention } from './attention.js';
import type { CudaDevice, DeviceTensor } from './device.js';
import type { CudaTensor, DeviceArena } from './device-arena.js';
import type { CudaGemm } from './gemm.js';
import type { ModelKernels } from './op-kernels.js';

/** Block size of dense attention's plan: the kernels' default tile (SPEC §1.2). */
const DENSE_BLOCK = 128;

/** A self-attention spec that names a block plan. */
type PlanSpec = Extract<SelfAttentionSpec, { kind: 'plan' }>;

/** A bf16 device view of a tensor's buffer with `shape` (the attention kernel checks dtype and strides). */
export function deviceView(device: CudaDevice, t: CudaTensor, shape: readonly number[]): DeviceTensor {
  const count = shape.reduce((a, b) => a * b, 1);
  return {
    dtype: t.dtype,
    shape: [...shape],
    strides: contiguousStrides(shape),
    device: device.name,
    ptr: t.buffer.ptr,
    bytes: count * (t.dtype === 'float32' ? 4 : 2),
  };
}

function geometry(
  name: string,
  q: CudaTensor,
  heads: number,
): { B: number; N: number; D: number; hd: number } {
  if (q.shape.length !== 3) throw new TensorError(name, `expected [B, N, D], got [${q.shape.join(', ')}]`);
  const [B, N, D] = q.shape as [number, number, number];
  const hd = D / heads;
  if (!Number.isInteger(hd)) throw new TensorError(name, `width ${D} is not a multiple of ${heads} heads`);
  if (q.dtype !== 'bfloat16') throw new TensorError(name, `expected bfloat16, got ${q.dtype}`);
  return { B, N, D, hd };
}

function expectSame(name: string, t: CudaTensor, shape: readonly number[]): void {
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]) || t.dtype !== 'bfloat16')
    throw new TensorError(
      name,
      `expected bfloat16 [${shape.join(', ')}], got ${t.dtype} [${t.shape.join(', ')}]`,
    );
}

/** Self- and cross-attention on one device. */
export class CudaModelAttention {
  private readonly kernelsByPlan = new Map<string, CudaAttention>();
  private readonly denseSpecs = new Map<number, PlanSpec>();
  private readonly tokenMaps = new WeakMap<Int32Array, { identity: boolean; table: DeviceTensor | null }>();
  private readonly textMasks = new Map<string, DeviceTensor>();
  private readonly headMaps = new Map<string, DeviceTensor>();

  constructor(
    private readonly device: CudaDevice,
    private readonly arena: DeviceArena,
    private readonly kernels: ModelKernels,
    private readonly gemm: CudaGemm,
  ) {}

  /**
   * Softmax(Q K^T / sqrt(hd)) V over video tokens as `spec` says. A per-head spec runs one kernel launch per
   * plan, over the heads that share it wherever they sit (the kernel's head map).
   */
  self(q: CudaTensor, k: CudaTensor, v: CudaTensor, heads: number, spec: SelfAttentionSpec): CudaTensor {
    const { N } = geometry('q', q, heads);
    expectSame('k', k, q.shape);
    expectSame('v', v, q.shape);
    const out = this.arena.tensor('bfloat16', q.shape, 'attention out');
    // Scratch (lse, layout-order copies) goes back to the pool at the end: later launches queue behind these.
    const mark = this.arena.mark();
    for (const group of headGroups(attentionRuns(spec, heads))) {
      if (group.spec.kind === 'masked') {
        throw new TensorError(
          'self-attention',
          'an element-mask spec is the CPU oracle; the CUDA ops run block plans (kind "plan") or dense attention',
        );
      }
      const planned = group.spec.kind === 'plan' ? group.spec : this.denseSpec(N);
      this.groupRun(q, k, v, out, heads, group.runs, planned);
    }
    this.arena.release(mark);
    return out;
  }

  /** Attention of the heads of `runs` (all through `spec`) of q, k, v into the same heads of `out`. */
  private groupRun(
    q: CudaTensor,
    k: CudaTensor,
    v: CudaTensor,
    out: CudaTensor,
    heads: number,
    runs: readonly HeadRun<unknown>[],
    spec: PlanSpec,
  ): void {
    const { B, N, D, hd } = geometry('q', q, heads);
    const { plan, tokenOf } = spec;
    const map = this.tokenMap(tokenOf, N);
    const L = plan.seqLen;
    const attention = this.attentionFor(plan, hd);
    const count = runs.reduce((sum, r) => sum + r.count, 0);
    const whole = count === heads;
    const headMap = whole ? undefined : this.headMap(runs);
    const shape = (S: number) => [B, S, heads, hd];
    const lse = this.arena.tensor('float32', [B, count, L], 'lse');
    const lseView = deviceView(this.device, lse, [B, count, L]);
    const call = { lse: lseView, layout: 'bshd' as const, ...(headMap ? { headMap } : {}) };
    if (map.identity) {
      attention.run({
        q: deviceView(this.device, q, shape(N)),
        k: deviceView(this.device, k, shape(N)),
        v: deviceView(this.device, v, shape(N)),
        out: deviceView(this.device, out, shape(N)),
        ...call,
      });
      return;
    }
    const gather = (t: CudaTensor) => {
      const dst = this.arena.tensor('bfloat16', [B, L, D], 'layout order');
      this.kernels.elementwise('gatherRows', B * L * D, {
        src: t.buffer.ptr,
        dst: dst.buffer.ptr,
        token_of: map.table!.ptr,
        total: B * L * D,
        tokens: N,
        length: L,
        width: D,
      });
      return dst;
    };
    const [lq, lk, lv] = [gather(q), gather(k), gather(v)];
    const lo = this.arena.tensor('bfloat16', [B, L, D], 'layout out');
    attention.run({
      q: deviceView(this.device, lq, shape(L)),
      k: deviceView(this.device, lk, shape(L)),
      v: deviceView(this.device, lv, shape(L)),
      out: deviceView(this.device, lo, shape(L)),
      ...call,
    });
    // Whole rows go back to natural order; when other heads share the output, through scratch and then only
    // this group's columns (a copy per run of adjacent heads), so the other groups' heads are not overwritten.
    const natural = whole ? out : this.arena.tensor('bfloat16', [B, N, D], 'natural order');
    this.kernels.elementwise('scatterRows', B * L * D, {
      src: lo.buffer.ptr,
      dst: natural.buffer.ptr,
      token_of: map.table!.ptr,
      total: B * L * D,
      tokens: N,
      length: L,
      width: D,
    });
    if (whole) return;
    for (const run of runs) {
      const cols = run.count * hd;
      this.kernels.elementwise('copyBlock', B * N * cols, {
        src: natural.buffer.ptr,
        dst: out.buffer.ptr,
        total: B * N * cols,
        rows: N,
        cols,
        src_origin: run.first * hd,
        src_batch: N * D,
        src_row: D,
        dst_origin: run.first * hd,
        dst_batch: N * D,
        dst_row: D,
      });
    }
  }

  /** The device head map (int32, the heads of `runs` in order) of a launch over some heads, cached. */
  private headMap(runs: readonly HeadRun<unknown>[]): DeviceTensor {
    const heads = runs.flatMap((r) => Array.from({ length: r.count }, (_, i) => r.first + i));
    const key = heads.join(',');
    let t = this.headMaps.get(key);
    if (!t) {
      const bytes = this.device.uploadBytes(Int32Array.from(heads), 'head map');
      t = { ...bytes, dtype: 'int32', shape: [heads.length], strides: [1] };
      this.headMaps.set(key, t);
    }
    return t;
  }

  /** Attention of q [B, N, D] to k, v [B, L, D], skipping keys whose keyMask[b * L + l] is 0. */
  cross(q: CudaTensor, k: CudaTensor, v: CudaTensor, heads: number, keyMask: Uint8Array): CudaTensor {
    const { B, N, D, hd } = geometry('q', q, heads);
    const L = k.shape[1] ?? 0;
    expectSame('k', k, [B, L, D]);
    expectSame('v', v, [B, L, D]);
    if (keyMask.length !== B * L)
      throw new TensorError('text mask', `expected ${B * L} entries [B, L], got ${keyMask.length}`);
    const out = this.arena.tensor('bfloat16', [B, N, D], 'cross out');
    if (L === 0) {
      this.device.fillBytes(deviceView(this.device, out, [B * N * D]), 0);
      return out;
    }
    // Score rows padded to a multiple of 8 elements: cuBLASLt's tensor-core kernels want 16-byte row strides.
    const Lp = Math.ceil(L / 8) * 8;
    const mark = this.arena.mark();
    const scores = this.arena.tensor('float32', [heads, N, Lp], 'cross scores');
    const probs = this.arena.tensor('bfloat16', [heads, N, Lp], 'cross probabilities');
    const mask = this.textMask(keyMask);
    for (let b = 0; b < B; b++) {
      // S[h] = Q_bh K_bh^T / sqrt(hd): heads are a strided batch (head h's columns start at h * hd).
      this.gemm.run({
        a: deviceView(this.device, q, [B * N * D]),
        b: deviceView(this.device, k, [B * L * D]),
        c: deviceView(this.device, scores, [heads * N * Lp]),
        offsets: { a: b * N * D, b: b * L * D },
        m: N,
        n: L,
        k: hd,
        lda: D,
        ldb: D,
        ldc: Lp,
        transB: true,
        batch: heads,
        strides: { a: hd, b: hd, c: N * Lp },
        alpha: 1 / Math.sqrt(hd),
      });
      this.kernels.launch('maskedSoftmax', Math.ceil((heads * N) / 8), {
        scores: scores.buffer.ptr,
        probs: probs.buffer.ptr,
        key_mask: mask.ptr + BigInt(b * L),
        rows: heads * N,
        length: L,
        stride: Lp,
      });
      // O_bh = P[h] V_bh, written straight into head h's columns of the output.
      this.gemm.run({
        a: deviceView(this.device, probs, [heads * N * Lp]),
        b: deviceView(this.device, v, [B * L * D]),
        c: deviceView(this.device, out, [B * N * D]),
        offsets: { b: b * L * D, c: b * N * D },
        m: N,
        n: hd,
        k: L,
        lda: Lp,
        ldb: D,
        ldc: D,
        transB: false,
        batch: heads,
        strides: { a: N * Lp, b: hd, c: hd },
      });
    }
    // The scratch goes back to the pool now: later kernels on the same stream run after these.
    this.arena.release(mark);
    return out;
  }

  /** Free the plan tables and cached masks. */
  dispose(): void {
    for (const a of this.kernelsByPlan.values()) a.dispose();
    this.kernelsByPlan.clear();
    for (const m of this.textMasks.values()) this.device.free(m);
    this.textMasks.clear();
    for (const m of this.headMaps.values()) this.device.free(m);
    this.headMaps.clear();
  }

  private attentionFor(plan: PlanSpec['plan'], headDim: number): CudaAttention {
    const key = `${plan.key}/${plan.blockQ}x${plan.blockK}/${headDim}`;
    let a = this.kernelsByPlan.get(key);
    if (!a) {
      a = new CudaAttention(this.device, plan, headDim, 'bfloat16');
      this.kernelsByPlan.set(key, a);
    }
    return a;
  }

  /** Dense attention: every block full, N tokens in natural order (the identity token map). */
  private denseSpec(N: number): PlanSpec {
    const cached = this.denseSpecs.get(N);
    if (cached) return cached;
    const spec: PlanSpec = {
      kind: 'plan',
      plan: denseBlockPlan(N, DENSE_BLOCK, DENSE_BLOCK),
      tokenOf: Int32Array.from({ length: N }, (_, i) => i),
    };
    this.denseSpecs.set(N, spec);
    return spec;
  }

  private tokenMap(tokenOf: Int32Array, N: number): { identity: boolean; table: DeviceTensor | null } {
    let map = this.tokenMaps.get(tokenOf);
    if (!map) {
      const identity = tokenOf.length === N && tokenOf.every((t, i) => t === i);
      map = { identity, table: identity ? null : this.device.uploadBytes(tokenOf, 'token map') };
      this.tokenMaps.set(tokenOf, map);
    }
    return map;
  }

  private textMask(keyMask: Uint8Array): DeviceTensor {
    const key = Buffer.from(keyMask).toString('base64');
    let t = this.textMasks.get(key);
    if (!t) {
      t = this.device.uploadBytes(keyMask, 'text mask');
      this.textMasks.set(key, t);
    }
    return t;
  }
}
