/** The control channel's frames survive any split of the byte stream (TCP delivers arbitrary chunks). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeFrame, FRAME, FrameReader, frameJson, jsonFrame } from '../../../runtime/parallel/wire.js';

describe('frames', () => {
  it('decode whatever the chunking', () => {
    const payload = fc.uint8Array({ maxLength: 300 });
    const frame = fc.record({
      type: fc.integer({ min: 1, max: 9 }),
      a: fc.nat(),
      b: fc.nat(),
      c: fc.nat(),
      payload,
    });
    fc.assert(
      fc.property(
        fc.array(frame, { minLength: 1, maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 50 })),
        (frames, cuts) => {
          const bytes = Buffer.concat(frames.map((f) => encodeFrame(f.type, f.a, f.b, f.c, f.payload)));
          const reader = new FrameReader();
          const got = [];
          let at = 0;
          for (const cut of cuts) {
            got.push(...reader.push(bytes.subarray(at, Math.min(bytes.length, at + cut))));
            at = Math.min(bytes.length, at + cut);
          }
          got.push(...reader.push(bytes.subarray(at)));
          expect(got.map((f) => ({ ...f, payload: Uint8Array.from(f.payload) }))).toEqual(
            frames.map((f) => ({ ...f, payload: Uint8Array.from(f.payload) })),
          );
        },
      ),
    );
  });

  it('carry JSON', () => {
    const [f] = new FrameReader().push(jsonFrame(FRAME.hello, 3, 8, { hash: 'h', summary: { seed: '1' } }));
    expect(f).toMatchObject({ type: FRAME.hello, a: 3, b: 8 });
    expect(frameJson(f!)).toEqual({ hash: 'h', summary: { seed: '1' } });
  });
});
