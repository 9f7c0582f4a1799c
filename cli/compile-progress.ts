/**
 * The progress of `tessera compile` and `inspect` through the pipeline's stages: quiet while stages are quick,
 * and a bar over the stages with the running stage's time once a stage has run longer than a second (drawn
 * with generate's bar). Stages run synchronously, so the timer cannot fire inside one; a long stage's loops
 * report how far they have got (`progress` events), and those reports redraw the line, with the stage's own
 * fraction, from inside the stage. Setting the line is synchronous (the task renderer redraws on it).
 */
import type { StageEvent } from '../compiler/pipeline.js';
import { formatDuration, progressBar } from './generate-progress.js';

/** A stage shows the bar once it has run this long. */
export const SLOW_STAGE_MS = 1000;

/** Redraws from progress reports are at least this far apart (a terminal line need not move faster). */
const REDRAW_MS = 100;

/** Follows stage events and says, through `show`, what the progress line should read. */
export class CompileProgress {
  private index = -1;
  private title = '';
  private started = 0;
  /** The running stage's own fraction done, once it has reported one. */
  private fraction: number | undefined;
  private lastDrawn = Number.NEGATIVE_INFINITY;
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

  /** A stage started, reported progress, ended or came from the cache. */
  stage(e: StageEvent): void {
    const index = this.stages.indexOf(e.stage);
    if (e.phase === 'start') {
      this.index = index;
      this.title = e.title;
      this.started = this.now();
      this.fraction = undefined;
      this.show(`${e.title}...`);
    } else if (e.phase === 'progress') {
      if (index !== this.index || !e.total) return;
      this.fraction = Math.min(1, (e.done ?? 0) / e.total);
      if (this.now() - this.lastDrawn >= REDRAW_MS) this.tick();
    } else if (e.phase === 'cached') {
      this.show(`${e.title}: from cache`);
    } else if ((e.seconds ?? 0) * 1000 > SLOW_STAGE_MS) {
      this.fraction = undefined;
      this.show(`${this.line(index + 1)}  ${e.title}: ${formatDuration((e.seconds ?? 0) * 1000)}`);
    }
  }

  /** Redraw the bar when the running stage has been slow. */
  tick(): void {
    if (this.index < 0) return;
    const now = this.now();
    const elapsed = now - this.started;
    if (elapsed <= SLOW_STAGE_MS) return;
    const share = this.fraction === undefined ? '' : ` ${Math.floor(100 * this.fraction)}%`;
    this.lastDrawn = now;
    this.show(`${this.line(this.index, this.fraction)}  ${this.title}${share}  ${formatDuration(elapsed)}`);
  }

  /** Stop redrawing. */
  dispose(): void {
    if (this.timer) clearInterval(this.timer);
    this.index = -1;
  }

  /** The bar over the stages: `done` whole stages, plus the running one's fraction when known. */
  private line(done: number, fraction = 0): string {
    return `${progressBar(done + fraction, this.stages.length, 20)} ${done}/${this.stages.length} stages done`;
  }
}
