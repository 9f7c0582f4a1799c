/**
 * The error metric every kernel is judged by (SPEC §4): ||got - ref|| / ||ref|| against the float64
 * reference, one definition for every test, benchmark and verification.
 */

/**
 * Relative L2 error; when ||ref|| is 0 the absolute error. A NaN anywhere (an unwritten, poisoned output)
 * makes the result NaN, so a check `error < bound` fails rather than passing silently.
 */
export function relativeError(got: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (got.length !== ref.length)
    throw new RangeError(`relativeError: ${got.length} values against ${ref.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < ref.length; i++) {
    num += (got[i]! - ref[i]!) ** 2;
    den += ref[i]! ** 2;
  }
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}
