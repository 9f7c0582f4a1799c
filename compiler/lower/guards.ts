/**
 * Segment tests. A coordinate is only defined on tokens of its own segment; kleene.ts turns that into guards
 * on the comparisons that read it. With a text-less layout every real token is a video token.
 */
import { constBool } from '../fold.js';
import type { BoolExpr, Segment, Side } from '../ir.js';

/** Which segment each coordinate axis belongs to, and whether the layout has a text segment at all. */
export interface SegmentMap {
  readonly axisSegment: readonly Segment[];
  readonly hasText: boolean;
}

/** `side in segment` on a concrete layout: always true for video tokens of a text-less layout. */
export function segmentTest(side: Side, segment: Segment, map: SegmentMap): BoolExpr {
  if (!map.hasText) return constBool(segment === 'video');
  return { op: 'segment', side, segment };
}
