/**
 * The progress of `tessera generate` on stderr: one updating line on a terminal (a bar over the steps, the layer
 * reached inside a slow step, the time so far and an estimate of the rest), plain lines otherwise (one per step,
 * and one every few seconds inside a slow step). The estimate comes from finished steps, or during the first
 * step from the layers done so far.
 */
import type { StepReport } from '../models/samplers/index.js';

/** A text sink (stdout, stderr, or a test's buffer); `isTTY` turns on the updating line. */
export interface ProgressSink {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

/** A step slower than this shows its layers. */
const SLOW_STEP_MS = 2000;
/** Without a terminal, a layer line at most this often. */
const PLAIN_LAYER_EVERY_MS = 10_000;

/** `1m05s`, `42s`, `0.8s`. */
export function formatDuration(ms: number): string {
  const s = ms / 1000;
  if (s < 10) return `${s.toFixed(1)}s`;
  if (s < 60) return `${Math.round(s)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.round(s - 60 * m)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** `[####......]`: `done` of `total` as a bar of `width` characters (shared by generate and compile). */
export function progressBar(done: number, total: number, width = 30): string {
  const filled = total <= 0 ? width : Math.min(width, Math.round((width * done) / total));
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

function formatTimestep(t: number): string {
  return Number.isInteger(t) ? String(t) : t.toFixed(2);
}

/** Progress of a sampling run of `steps` network evaluations. */
export class GenerateProgress {
  private readonly started: number;
  private stepStarted: number;
  private stepIndex = 0;
  private readonly stepMs: number[] = [];
  private lastPlainLayer = 0;

  constructor(
    private readonly sink: ProgressSink,
    private readonly steps: number,
    private readonly now: () => number = () => performance.now(),
    private readonly width = 30,
  ) {
    this.started = now();
    this.stepStarted = this.started;
  }

  private bar(done: number): string {
    return progressBar(done, this.steps, this.width);
  }

  /** Time left: the mean finished step times the steps left, or the first step's pace over its layers. */
  private remainingMs(fraction: number): number | undefined {
    const stepsLeft = this.steps - this.stepIndex - fraction;
    if (this.stepMs.length > 0)
      return (stepsLeft * this.stepMs.reduce((a, b) => a + b, 0)) / this.stepMs.length;
    if (fraction <= 0) return undefined;
    return ((this.now() - this.stepStarted) / fraction) * stepsLeft;
  }

  private line(text: string, final = false): void {
    // ESC[K clears what a longer previous line left behind.
    if (this.sink.isTTY) this.sink.write(`\r${text}\x1b[K${final ? '\n' : ''}`);
    else this.sink.write(`${text}\n`);
  }

  /** A transformer block of the current step finished. */
  layer(done: number, layers: number): void {
    const now = this.now();
    if (now - this.stepStarted < SLOW_STEP_MS) return;
    if (!this.sink.isTTY && now - this.lastPlainLayer < PLAIN_LAYER_EVERY_MS && done < layers) return;
    this.lastPlainLayer = now;
    const left = this.remainingMs(done / layers);
    this.line(
      `${this.bar(this.stepIndex)} step ${this.stepIndex + 1}/${this.steps}  layer ${done}/${layers}  ` +
        `${formatDuration(now - this.started)}${left === undefined ? '' : `, about ${formatDuration(left)} left`}`,
    );
  }

  /** A step finished. */
  step(r: StepReport): void {
    this.stepMs.push(r.ms);
    this.stepIndex = r.index + 1;
    const done = this.stepIndex;
    const left = this.remainingMs(0) ?? 0;
    const elapsed = formatDuration(this.now() - this.started);
    this.line(
      `${this.bar(done)} step ${done}/${r.of}  t=${formatTimestep(r.timestep)}  ${r.ms.toFixed(0)} ms  ${elapsed}` +
        `${done < r.of ? `, about ${formatDuration(left)} left` : ''}`,
      done === r.of,
    );
    this.stepStarted = this.now();
    this.lastPlainLayer = this.stepStarted;
  }
}
