/**
 * The compile progress line: quiet for quick stages, a bar with the stage's time once one runs past a second.
 */
import { describe, expect, it } from 'vitest';
import { CompileProgress, SLOW_STAGE_MS } from '../../cli/compile-progress.js';

describe('CompileProgress', () => {
  it('draws the bar only for a stage slower than a second, and says how long it took', () => {
    let now = 0;
    const lines: string[] = [];
    const progress = new CompileProgress(
      ['parse', 'classify'],
      (l) => lines.push(l),
      () => now,
      0,
    );
    progress.stage({ stage: 'parse', title: 'Parse', phase: 'start' });
    now += 20;
    progress.tick();
    progress.stage({ stage: 'parse', title: 'Parse', phase: 'end', seconds: 0.02 });
    expect(lines).toEqual(['Parse...']);
    progress.stage({ stage: 'classify', title: 'Classify block pairs', phase: 'start' });
    now += SLOW_STAGE_MS / 2;
    progress.tick();
    expect(lines).toHaveLength(2);
    now += SLOW_STAGE_MS;
    progress.tick();
    expect(lines.at(-1)).toBe(
      `[${'#'.repeat(10)}${'.'.repeat(10)}] 1/2 stages done  Classify block pairs  1.5s`,
    );
    progress.stage({ stage: 'classify', title: 'Classify block pairs', phase: 'end', seconds: 1.5 });
    expect(lines.at(-1)).toBe(`[${'#'.repeat(20)}] 2/2 stages done  Classify block pairs: 1.5s`);
    progress.dispose();
    now += 5000;
    progress.tick();
    expect(lines).toHaveLength(4);
  });

  it('moves the bar inside a slow stage from its progress reports, at most every 100 ms', () => {
    let now = 0;
    const lines: string[] = [];
    const progress = new CompileProgress(
      ['classify', 'plan'],
      (l) => lines.push(l),
      () => now,
      0,
    );
    const report = (done: number) =>
      progress.stage({ stage: 'classify', title: 'Classify', phase: 'progress', done, total: 100 });
    progress.stage({ stage: 'classify', title: 'Classify', phase: 'start' });
    now += SLOW_STAGE_MS / 2;
    report(30);
    // Quick so far: nothing but the stage's title.
    expect(lines).toEqual(['Classify...']);
    now += SLOW_STAGE_MS;
    report(50);
    expect(lines.at(-1)).toBe(`[${'#'.repeat(5)}${'.'.repeat(15)}] 0/2 stages done  Classify 50%  1.5s`);
    now += 50;
    report(60);
    expect(lines).toHaveLength(2);
    now += 60;
    report(75);
    expect(lines.at(-1)).toBe(`[${'#'.repeat(8)}${'.'.repeat(12)}] 0/2 stages done  Classify 75%  1.6s`);
    // A report from another stage than the running one is ignored.
    now += 200;
    progress.stage({ stage: 'plan', title: 'Plan', phase: 'progress', done: 1, total: 2 });
    expect(lines).toHaveLength(3);
    progress.dispose();
  });
});
