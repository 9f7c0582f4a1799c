/**
 * Errors of sequence parallelism. Every message names the rank that reports it and, for a fault, the rank at
 * fault and the call it happened in, so the line a user reads from any rank says which process to look at.
 */
import { UserError } from '../../core/errors.js';

/** A parallel configuration that cannot run (a degree that does not divide the heads, too few frames, ...). */
export class ParallelConfigError extends UserError {}

/**
 * A fault of a running world: a rank that died, hung or failed, a configuration that differs between ranks, a
 * failed NCCL call. `rank` reports it; `culprit` is the rank at fault when one is known.
 */
export class RankError extends UserError {
  constructor(
    readonly rank: number,
    readonly world: number,
    message: string,
    readonly culprit?: number,
  ) {
    super(`rank ${rank} of ${world}: ${message}`);
  }
}
