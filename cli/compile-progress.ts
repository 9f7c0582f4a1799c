/**
 * The progress of `tessera compile` and `inspect` through the pipeline's stages: quiet while stages are quick,
 * and a bar over the stages with the running stage's time once a stage has run longer than a second (drawn
 * with generate's bar). Stages run synchronously, so the bar moves between stages and while asynchronous ones
 * (rendering, nvcc) run, and a slow stage's time shows when it ends.
 */
import type { StageEvent } from '../compiler/pipeline.js';
import { formatDuration, progressBar } from './generate-progress.js';

/** A stage shows the bar once it has run this long. */
export const SLOW_STAGE_MS = 1000;

/** Follows stage events and says, through `show`, what the progress line should read. */
export class CompileProgress {
  private index = -1;
  private title = '';
  private started = 0;
  private readonly timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly stages: readonly string[],
    private readonly show: (line: string) => void,
    private readonly now: () => number = () => performance.now(),
    tickMs = 200,
  ) {
    if (tickMs > 0) {
      this.timer = setInterval(() => this.tick(), tickMs);
      this.timer.unref?.();
    }
  }

  /** A stage started, ended or came from the cache. */
  stage(e: StageEvent): void {
    const index = this.stages.indexOf(e.stage);
    if (e.phase === 'start') {
      this.index = index;
      this.title = e.title;
      this.started = this.now();
      this.show(`${e.title}...`);
    } else if (e.phase === 'cached') {
      this.show(`${e.title}: from cache`);
    } else if ((e.seconds ?? 0) * 1000 > SLOW_STAGE_MS) {
      this.show(`${this.line(index + 1)}  ${e.title}: ${formatDuration((e.seconds ?? 0) * 1000)}`);
    }
  }

  /** Redraw the bar when the running stage has been slow. */
  tick(): void {
    if (this.index < 0) return;
    const elapsed = this.now() - this.started;
    if (elapsed > SLOW_STAGE_MS)
      this.show(`${this.line(this.index)}  ${this.title}  ${formatDuration(elapsed)}`);
  }

  /** Stop redrawing. */
  dispose(): void {
    if (this.timer) clearInterval(this.timer);
    this.index = -1;
  }

  private line(done: number): string {
    return `${progressBar(done, this.stages.length, 20)} ${done}/${this.stages.length} stages done`;
  }
}
