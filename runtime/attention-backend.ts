/**
 * The interface every attention backend offers verification (verify/) and the shared tests. Backends declare
 * capabilities; callers choose and skip by capability, never by backend name.
 */
import type { BlockPlan } from '../compiler/plan/plan.js';
import type { AttentionInputs, AttentionResult } from './cpu/attention-inputs.js';

/** Things a backend may or may not support. */
export type Capability = 'f32' | 'f16' | 'bf16' | 'subgroups' | 'tensor-cores' | 'float64';

/** Element type of the inputs a kernel reads (results always come back as float32 or float64). */
export type KernelDtype = 'float64' | 'float32' | 'float16' | 'bfloat16';

/** A block-sparse attention implementation. */
export interface AttentionBackend {
  /** Human-readable name for reports (`cpu`, `webgpu (llvmpipe)`, `cuda (NVIDIA H100)`). */
  readonly name: string;
  /** Larger is preferred when choosing "the best backend present". */
  readonly rank: number;
  readonly capabilities: ReadonlySet<Capability>;
  /** Run the plan's kernel on the inputs (Q/K/V values are converted to `dtype` first). */
  attention(plan: BlockPlan, inputs: AttentionInputs, dtype: KernelDtype): Promise<AttentionResult>;
  /** Release devices and handles; the backend is unusable afterwards. */
  dispose(): Promise<void>;
}

/** The dtype a backend computes best in: bf16 on tensor cores, else f16, else f32. */
export function preferredDtype(backend: AttentionBackend): KernelDtype {
  if (backend.capabilities.has('bf16')) return 'bfloat16';
  if (backend.capabilities.has('f16')) return 'float16';
  if (backend.capabilities.has('f32')) return 'float32';
  return 'float64';
}
