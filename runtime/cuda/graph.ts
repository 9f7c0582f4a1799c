/**
 * CUDA graphs: a stretch of the device stream's work recorded once (stream capture) and replayed with one
 * launch. A replay runs the recorded kernels with the recorded arguments (the same device addresses), so what
 * changes between replays must be written into those addresses before the launch.
 */
import type { NativeCuda } from './native-binding.js';

/** An instantiated graph of device work; {@link CudaGraph.launch} queues one replay on the device stream. */
export class CudaGraph {
  private disposed = false;

  constructor(
    private readonly native: NativeCuda,
    private readonly graph: bigint,
    private readonly exec: bigint,
    /** Nodes the capture recorded (kernels, GEMM kernels, memsets). */
    readonly nodes: number,
  ) {}

  /** Queue one replay after the work already queued (asynchronous). */
  launch(): void {
    if (this.disposed) throw new RangeError('this CUDA graph was disposed');
    this.native.graphLaunch(this.exec);
  }

  /** Destroy the graph (queued replays still complete). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.native.graphExecDestroy(this.exec);
    this.native.graphDestroy(this.graph);
  }
}

/**
 * Record what `record` queues on the device stream into a graph and instantiate it. Nothing recorded runs now.
 * When `record` throws, the capture is ended and dropped and the error is rethrown.
 */
export function captureGraph(native: NativeCuda, record: () => void): CudaGraph {
  native.captureBegin();
  try {
    record();
  } catch (e) {
    try {
      native.graphDestroy(native.captureEnd());
    } catch {
      // The capture was already invalidated; the first error is the one to report.
    }
    throw e;
  }
  const graph = native.captureEnd();
  try {
    const { exec, nodes } = native.graphInstantiate(graph);
    return new CudaGraph(native, graph, exec, nodes);
  } catch (e) {
    native.graphDestroy(graph);
    throw e;
  }
}
