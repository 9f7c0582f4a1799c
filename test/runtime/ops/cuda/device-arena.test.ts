/**
 * The CUDA model ops' buffer pool and scopes (runtime/ops/cuda/device-arena.ts), on a recording stand-in for
 * the device (the arena only allocates and frees): buffers come back to the pool at `release` except the kept
 * ones, persistent allocations never do, scratch ones always do, and a repeated sequence of allocations is
 * served from the pool without new device memory. Checked against a model of live allocations.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CudaDevice, DeviceTensor } from '../../../../runtime/cuda/device.js';
import { DeviceArena } from '../../../../runtime/ops/cuda/device-arena.js';

const runs = Number(process.env.TESSERA_TEST_RUNS ?? 50);

/** A stand-in device that hands out fresh addresses and records frees. */
function fakeDevice() {
  let next = 0x1000n;
  const live = new Set<bigint>();
  const device = {
    name: 'cuda:0',
    empty(_dtype: string, shape: readonly number[]): DeviceTensor {
      const bytes = shape[0]!;
      const ptr = next;
      next += BigInt(bytes);
      live.add(ptr);
      return { dtype: 'uint8', shape: [bytes], strides: [1], device: 'cuda:0', ptr, bytes };
    },
    free(t: DeviceTensor) {
      live.delete(t.ptr);
    },
  };
  return { device: device as unknown as CudaDevice, live };
}

describe('DeviceArena', () => {
  it('releases what was allocated after a mark, except the kept tensors', () => {
    const { device } = fakeDevice();
    const arena = new DeviceArena(device);
    const before = arena.tensor('bfloat16', [1000]);
    const mark = arena.mark();
    const a = arena.tensor('bfloat16', [1000]);
    const b = arena.tensor('float32', [10, 10]);
    arena.release(mark, [b]);
    // a's buffer is free again, b's and before's are not.
    const c = arena.tensor('bfloat16', [1000]);
    expect(c.buffer.ptr).toBe(a.buffer.ptr);
    expect(c.buffer.ptr).not.toBe(before.buffer.ptr);
    const d = arena.tensor('float32', [10, 10]);
    expect(d.buffer.ptr).not.toBe(b.buffer.ptr);
  });

  it('keeps persistent tensors through any release, but pools scratch ones made inside persistent', () => {
    const { device } = fakeDevice();
    const arena = new DeviceArena(device);
    const mark = arena.mark();
    const [weight, staging] = arena.persistent(() => [
      arena.tensor('bfloat16', [64]),
      arena.tensor('float32', [64], 'staging', true),
    ]);
    arena.release(mark);
    const next = arena.tensor('float32', [64]);
    expect(next.buffer.ptr).toBe(staging!.buffer.ptr);
    const again = arena.tensor('bfloat16', [64]);
    expect(again.buffer.ptr).not.toBe(weight!.buffer.ptr);
  });

  it('serves a repeated pass from the pool and never hands out a buffer twice', () => {
    const sizes = fc.array(fc.tuple(fc.integer({ min: 1, max: 4096 }), fc.boolean()), {
      minLength: 1,
      maxLength: 40,
    });
    fc.assert(
      fc.property(sizes, (pass) => {
        const { device, live } = fakeDevice();
        const arena = new DeviceArena(device);
        const runPass = () => {
          const mark = arena.mark();
          const inUse = new Set<bigint>();
          let inner = arena.mark();
          for (const [elements, closeScope] of pass) {
            const t = arena.tensor('bfloat16', [elements]);
            expect(inUse.has(t.buffer.ptr), 'a live buffer handed out again').toBe(false);
            expect(t.buffer.bytes).toBeGreaterThanOrEqual(elements * 2);
            inUse.add(t.buffer.ptr);
            if (closeScope) {
              // Keep only the newest tensor of the scope, like a layer keeping its output.
              const mine = inUse;
              arena.release(inner, [t]);
              for (const p of [...mine]) if (p !== t.buffer.ptr) mine.delete(p);
              inner = arena.mark() - 1;
            }
          }
          arena.release(mark);
        };
        runPass();
        const held = arena.heldBytes;
        const allocated = live.size;
        runPass();
        expect(arena.heldBytes).toBe(held);
        expect(live.size).toBe(allocated);
      }),
      { numRuns: runs },
    );
  });

  it('trims the pool back to the device', () => {
    const { device, live } = fakeDevice();
    const arena = new DeviceArena(device);
    const mark = arena.mark();
    arena.tensor('bfloat16', [10]);
    arena.tensor('bfloat16', [1000]);
    arena.release(mark);
    arena.trim();
    expect(live.size).toBe(0);
    expect(arena.heldBytes).toBe(0);
  });
});
