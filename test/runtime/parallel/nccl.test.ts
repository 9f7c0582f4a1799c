/**
 * NCCL without a GPU: where the library is looked for, the readable reason when it cannot load, and how large
 * exchanges are cut into groups (both ends of a transfer cut it the same way). The calls themselves run on the
 * GPU (test/device/parallel.gpu.ts).
 */
import { describe, expect, it } from 'vitest';
import { chunkRounds, ncclAvailable, ncclCandidates } from '../../../runtime/parallel/nccl.js';

describe('loading NCCL', () => {
  it('tries TESSERA_NCCL_LIBRARY first, then the loader path', () => {
    const c = ncclCandidates({ TESSERA_NCCL_LIBRARY: '/opt/nccl/libnccl.so.2' });
    expect(c[0]).toBe('/opt/nccl/libnccl.so.2');
    expect(c[1]).toBe('libnccl.so.2');
  });

  it('says why it cannot be used, naming what was tried', (ctx) => {
    const probe = ncclAvailable({ TESSERA_NCCL_LIBRARY: '/nonexistent/libnccl.so.2', PATH: '' });
    if (probe.available) ctx.skip(); // a machine with NCCL: nothing to report
    expect(probe.reason).toMatch(/addon is not built|libnccl\.so\.2/);
    if (/libnccl/.test(probe.reason)) expect(probe.reason).toContain('/nonexistent/libnccl.so.2');
  });
});

describe('exchanges in groups', () => {
  const buf = (peer: number, ptr: bigint, bytes: number) => ({ peer, buffer: { ptr, bytes } });

  it('a small exchange is one group', () => {
    const rounds = chunkRounds([buf(1, 1000n, 100)], [buf(1, 5000n, 100)], 512);
    expect(rounds).toEqual([
      { sends: [{ peer: 1, ptr: 1000n, bytes: 100 }], recvs: [{ peer: 1, ptr: 5000n, bytes: 100 }] },
    ]);
  });

  it('buffers above the limit go in pieces, the k-th piece of each in round k', () => {
    const rounds = chunkRounds([buf(0, 0n, 1200), buf(2, 10_000n, 300)], [buf(0, 20_000n, 1200)], 512);
    expect(rounds).toHaveLength(3);
    expect(rounds[0]!.sends).toEqual([
      { peer: 0, ptr: 0n, bytes: 512 },
      { peer: 2, ptr: 10_000n, bytes: 300 },
    ]);
    expect(rounds[1]!.sends).toEqual([{ peer: 0, ptr: 512n, bytes: 512 }]);
    expect(rounds[2]!.sends).toEqual([{ peer: 0, ptr: 1024n, bytes: 176 }]);
    expect(rounds[2]!.recvs).toEqual([{ peer: 0, ptr: 20_000n + 1024n, bytes: 176 }]);
    const sent = rounds.flatMap((r) => r.sends).reduce((a, s) => a + s.bytes, 0);
    expect(sent).toBe(1500);
  });
});
