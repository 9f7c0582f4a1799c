/**
 * Answers shared by whole block pairs that are translates of each other along the frame axis. A block of an
 * untiled video layout is the same set of in-frame positions as every block that starts at the same offset
 * inside its frame (with frames of 3,600 tokens and blocks of 128, 225 such offsets), only in other frames.
 * When the predicate reads the frame axis only through query-key differences (`abs(q.t - k.t)`) or not at
 * all, a block pair's class and allowed-pair count depend only on the two blocks' shapes (their boxes moved
 * to frame 0) and on the frames between them (not even that when the frame axis is unread): block pairs with
 * the same key have the same answer, so each is worked out once. Patterns that read the frame absolutely
 * (`k.t == 0`, a sink frame) get no block memo; the box-pair memo still serves them.
 */
import type { BoolExpr } from '../ir.js';
import type { ConcreteLayout } from '../layout.js';
import { movingAxes } from './box-memo.js';
import { type CoordBox, rangeBoxes } from './boxes.js';
import { axesRead } from './ir-deps.js';

/** The frame axis: the first video axis, the one block shapes are moved along. */
const FRAME_AXIS = 0;

/** Per block: an interned id of its shape and the frame shift that takes the shape to the block. */
interface BlockShapes {
  readonly shape: Int32Array;
  readonly shift: Int32Array;
  readonly count: number;
}

/**
 * Shapes of every block of `blockSize` tokens. A block holding text keeps its absolute boxes (text tokens'
 * frame coordinate is not a frame). Exact for any layout (a shape is the block's boxes, moved); it pays off
 * where many blocks share a shape, as in frame-major layouts.
 */
function blockShapes(layout: ConcreteLayout, blockSize: number): BlockShapes {
  const blocks = Math.ceil(layout.length / blockSize);
  const shape = new Int32Array(blocks);
  const shift = new Int32Array(blocks);
  const ids = new Map<string, number>();
  const boxes: CoordBox[] = [];
  for (let b = 0; b < blocks; b++) {
    boxes.length = 0;
    rangeBoxes(layout, b * blockSize, (b + 1) * blockSize, boxes);
    const movable = boxes.length > 0 && boxes.every((box) => box.segment === 'video');
    const by = movable ? boxes[0]!.lo[FRAME_AXIS]! : 0;
    let key = movable ? '' : `#${b}`;
    for (const box of boxes) {
      key += `;${box.segment}`;
      for (let a = 0; a < box.lo.length; a++) {
        const base = a === FRAME_AXIS ? by : 0;
        key += `,${box.lo[a]! - base},${box.hi[a]! - base}`;
      }
    }
    let id = ids.get(key);
    if (id === undefined) {
      id = ids.size;
      ids.set(key, id);
    }
    shape[b] = id;
    shift[b] = by;
  }
  return { shape, shift, count: ids.size };
}

/** A memo of one number per block pair: `answer(qb, kb, compute)` runs `compute` once per key. */
export type BlockPairMemo = (qb: number, kb: number, compute: () => number) => number;

/**
 * A block-pair memo for `predicate` on `layout`, or null when the predicate reads the frame axis other than
 * through differences (or the layout has no video).
 */
export function blockPairMemo(
  predicate: BoolExpr,
  layout: ConcreteLayout,
  blockQ: number,
  blockK: number,
): BlockPairMemo | null {
  if (layout.videoAxes.length === 0 || movingAxes(predicate).has(FRAME_AXIS)) return null;
  const q = blockShapes(layout, blockQ);
  const k = blockK === blockQ ? q : blockShapes(layout, blockK);
  // Frame distances matter only when the predicate reads frames at all.
  const frames = layout.videoSizes[FRAME_AXIS]!;
  const distances = axesRead(predicate).has(FRAME_AXIS) ? 2 * frames + 1 : 1;
  const answers = new Map<number, number>();
  return (qb, kb, compute) => {
    const distance = distances === 1 ? 0 : q.shift[qb]! - k.shift[kb]! + frames;
    const key = (q.shape[qb]! * k.count + k.shape[kb]!) * distances + distance;
    let answer = answers.get(key);
    if (answer === undefined) {
      answer = compute();
      answers.set(key, answer);
    }
    return answer;
  };
}
