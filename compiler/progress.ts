/**
 * Progress from inside a long synchronous stage (classifying or counting hundreds of thousands of block pairs):
 * the loops report work done out of a total, and the caller decides whether and how to show it. Reports are
 * thinned here so a loop can report per block row or per region without cost.
 */

/** Work done out of a total, in any unit the reporter chooses (block pairs, block rows). */
export type ProgressCallback = (done: number, total: number) => void;

/** Reports per total that reach the callback (one more at the start): a 20-cell bar needs no more. */
const REPORTS = 200;

/**
 * A reporter for `total` units of work that passes on at most {@link REPORTS} calls of `onProgress`, or a
 * no-op without a callback. Call it with the running count of units done.
 */
export function thinnedProgress(
  total: number,
  onProgress: ProgressCallback | undefined,
): (done: number) => void {
  if (!onProgress || total <= 0) return () => {};
  // Integer thresholds: report k of REPORTS passes once `done` reaches ceil(k * total / REPORTS).
  let next = 0;
  return (done) => {
    if (done < next && done < total) return;
    const reached = Math.floor((done * REPORTS) / total);
    next = Math.ceil(((reached + 1) * total) / REPORTS);
    onProgress(done, total);
  };
}

/** `onProgress` for one part of a job made of `parts` equal parts: part `index`'s progress maps to its share. */
export function partProgress(
  onProgress: ProgressCallback | undefined,
  index: number,
  parts: number,
): ProgressCallback | undefined {
  if (!onProgress) return undefined;
  return (done, total) => onProgress(index * total + done, parts * total);
}
