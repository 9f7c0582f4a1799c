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
import { contiguousStrides, TensorError } from '../../core/tensor.js';
import { attentionRuns } from '../head-specs.js';
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

  constructor(
    private readonly device: CudaDevice,
    private readonly arena: DeviceArena,
    private readonly kernels: ModelKernels,
    private readonly gemm: CudaGemm,
  ) {}

  /**
   * Softmax(Q K^T / sqrt(hd)) V over video tokens as `spec` says. A per-head spec runs one kernel per run of
   * adjacent heads that share a plan, on strided views of the run's columns.
   */
  self(q: CudaTensor, k: CudaTensor, v: CudaTensor, heads: number, spec: SelfAttentionSpec): CudaTensor {
    const { N } = geometry('q', q, heads);
    expectSame('k', k, q.shape);
    expectSame('v', v, q.shape);
    const out = this.arena.tensor('bfloat16', q.shape, 'attention out');
    // Scratch (lse, layout-order copies) goes back to the pool at the end: later launches queue behind these.
    const mark = this.arena.mark();
    for (const run of attentionRuns(spec, heads)) {
      if (run.value.kind === 'masked') {
        throw new TensorError(
          'self-attention',
          'an element-mask spec is the CPU oracle; the CUDA ops run block plans (kind "plan") or dense attention',
        );
      }
      const planned = run.value.kind === 'plan' ? run.value : this.denseSpec(N);
      this.headRun(q, k, v, out, heads, run.first, run.count, planned);
    }
    this.arena.release(mark);
    return out;
  }

  /** Attention of heads `first .. first + count - 1` of q, k, v into the same heads of `out`, through `spec`. */
  private headRun(
    q: CudaTensor,
    k: CudaTensor,
    v: CudaTensor,
    out: CudaTensor,
    heads: number,
    first: number,
    count: number,
    spec: PlanSpec,
  ): void {
    const { B, N, D, hd } = geometry('q', q, heads);
    const { plan, tokenOf } = spec;
    const map = this.tokenMap(tokenOf, N);
    const L = plan.seqLen;
    const attention = this.attentionFor(plan, hd);
    // The run's heads as [B, S, count, hd] inside rows of all D columns: a strided view, no copy.
    const heads4 = (t: CudaTensor, S: number): DeviceTensor => ({
      ...deviceView(this.device, t, [B, S, count, hd]),
      strides: [S * D, D, hd, 1],
      ptr: t.buffer.ptr + BigInt(first * hd * 2),
      bytes: (B * S * D - first * hd) * 2,
    });
    const lse = this.arena.tensor('float32', [B, count, L], 'lse');
    const lseView = deviceView(this.device, lse, [B, count, L]);
    if (map.identity) {
      attention.run({
        q: heads4(q, N),
        k: heads4(k, N),
        v: heads4(v, N),
        out: heads4(out, N),
        lse: lseView,
        layout: 'bshd',
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
      q: heads4(lq, L),
      k: heads4(lk, L),
      v: heads4(lv, L),
      out: heads4(lo, L),
      lse: lseView,
      layout: 'bshd',
    });
    // Whole rows go back to natural order; when other heads share the output, through scratch and then only
    // this run's columns, so the other runs' heads are not overwritten.
    const whole = count === heads;
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
    const cols = count * hd;
    this.kernels.elementwise('copyBlock', B * N * cols, {
      src: natural.buffer.ptr,
      dst: out.buffer.ptr,
      total: B * N * cols,
      rows: N,
      cols,
      src_origin: first * hd,
      src_batch: N * D,
      src_row: D,
      dst_origin: first * hd,
      dst_batch: N * D,
      dst_row: D,
    });
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
