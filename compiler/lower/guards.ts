/**
 * Segment guards. A coordinate is only defined on tokens of its own segment, so every comparison atom that
 * reads a video axis of side X is conjoined with `X in video`, and one reading the text axis with
 * `X in text`. With a text-less layout every real token is a video token and the video guard is `true`.
 * A `select` condition inside an operand is an atom of its own and already carries its guards.
 */
import { constBool, makeAnd } from '../fold.js';
import type { BoolExpr, IntExpr, Segment, Side } from '../ir.js';

/** Which segment each coordinate axis belongs to, and whether the layout has a text segment at all. */
export interface SegmentMap {
  readonly axisSegment: readonly Segment[];
  readonly hasText: boolean;
}

function collect(e: IntExpr, map: SegmentMap, out: Set<string>): void {
  switch (e.op) {
    case 'const':
      return;
    case 'coord':
      out.add(`${e.side}:${map.axisSegment[e.axis] ?? 'video'}`);
      return;
    case 'neg':
    case 'abs':
    case 'log2':
    case 'pow2':
      collect(e.a, map, out);
      return;
    case 'select':
      collect(e.a, map, out);
      collect(e.b, map, out);
      return;
    default:
      collect(e.a, map, out);
      collect(e.b, map, out);
      return;
  }
}

/** `atom` conjoined with the segment tests of the coordinates its operands read. */
export function guardAtom(atom: BoolExpr, operands: readonly IntExpr[], map: SegmentMap): BoolExpr {
  if (atom.op === 'bool' || !map.hasText) return atom;
  const reads = new Set<string>();
  for (const o of operands) collect(o, map, reads);
  const guards: BoolExpr[] = [...reads].sort().map((key) => {
    const [side, segment] = key.split(':') as [Side, Segment];
    return { op: 'segment', side, segment };
  });
  return guards.length === 0 ? atom : makeAnd([...guards, atom]);
}

/** `side in segment` on a concrete layout: always true for video tokens of a text-less layout. */
export function segmentTest(side: Side, segment: Segment, map: SegmentMap): BoolExpr {
  if (!map.hasText) return constBool(segment === 'video');
  return { op: 'segment', side, segment };
}
