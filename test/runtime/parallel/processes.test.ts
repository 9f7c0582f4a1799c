/**
 * The partitioning in real separate processes, through the same launcher `tessera generate --gpus` uses, on
 * the CPU backend over the host communicator (the reference for the partitioning; CI has no GPU):
 * - every split of 2, 3 and 4 ranks (Ulysses, CFG-parallel, both) gives the unsharded float64 output within
 *   1e-12, with full attention and with a sparse layer plan, on a 5-frame video (no split divides it);
 * - `tessera generate --ranks P` writes the latents of the one-process command, bit for bit, and only rank 0
 *   prints;
 * - a rank killed mid-step, or stopped (hung), makes the others stop within a bounded time with an error
 *   naming it; ranks started with different settings refuse; Ctrl-C on the launcher ends every rank;
 *   `--gpus` without CUDA says why.
 * Sized for a 2-core machine: a tiny network, generous limits (each process loads the sources through the
 * TypeScript hooks, seconds on a busy machine).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gaussianNoise } from '../../../core/random.js';
import { readSafetensors, writeSafetensors } from '../../../core/safetensors.js';
import { decodeValues, fromValues } from '../../../core/tensor.js';
import { layerAttention } from '../../../models/open-sora-plan/layer-attention.js';
import { writeOpenSoraCheckpoint } from '../../../models/open-sora-plan/random-weights.js';
import { freePort } from '../../../runtime/parallel/launch.js';
import { alive, CLI, launchedPids, start, waitForStderr } from './processes.js';
import {
  PARALLEL_CONFIG,
  PARALLEL_WEIGHTS,
  parallelInputs,
  relativeError,
  sparsePlan,
  unshardedForward,
} from './support.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/rank-forward.ts', import.meta.url));
const LAUNCH = fileURLToPath(new URL('./fixtures/launch.ts', import.meta.url));
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-parallel-'));
  const { name, ...rest } = PARALLEL_CONFIG;
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ name, ...rest }));
  await writeOpenSoraCheckpoint(join(dir, 'weights.safetensors'), PARALLEL_WEIGHTS, 'float32');
  await writeSafetensors(join(dir, 'text.safetensors'), {
    prompt_embeds: fromValues('float32', [4, 8], gaussianNoise(1, 0, 32)),
    prompt_attention_mask: fromValues('float32', [4], [1, 1, 1, 0]),
    negative_prompt_embeds: fromValues('float32', [3, 8], gaussianNoise(2, 0, 24)),
    negative_prompt_attention_mask: fromValues('float32', [3], [1, 1, 0]),
  });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the partitioning across processes equals the unsharded float64 graph', () => {
  const splits: [number, string][] = [
    [2, '2x1,1x2'],
    [3, '3x1'],
    [4, '4x1,2x2'],
  ];
  it.each(splits)(
    '%i ranks (%s)',
    async (world, list) => {
      const out = join(dir, `forward-${world}`);
      const run = await start([LAUNCH, String(world), FIXTURE, list, out]).done;
      expect(run.code, run.stderr).toBe(0);
      const inputs = parallelInputs();
      const dense = unshardedForward(inputs);
      const plan = unshardedForward(inputs, layerAttention(await sparsePlan()));
      expect(relativeError(plan, dense)).toBeGreaterThan(1e-3);
      for (const split of list.split(',')) {
        for (const [name, want] of [
          ['dense', dense],
          ['plan', plan],
        ] as const) {
          const bytes = readFileSync(`${out}.${split}.${name}.bin`);
          const got = new Float64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 8);
          expect(got.length).toBe(want.length);
          expect(relativeError(got, want), `${split} ${name}`).toBeLessThan(1e-12);
        }
      }
    },
    180_000,
  );
});

/** `tessera generate` on the test network: 5 latent frames (17 video frames) of 32 x 48 pixels, guidance 4. */
function generateArgs(out: string, steps = 3, extra: string[] = []): string[] {
  return [
    CLI,
    'generate',
    '--config',
    join(dir, 'config.json'),
    '--weights',
    join(dir, 'weights.safetensors'),
    '--text-embeddings',
    join(dir, 'text.safetensors'),
    '--frames',
    '17',
    '--size',
    '48x32',
    '--sampler',
    'ddim',
    '--steps',
    String(steps),
    '--guidance',
    '4',
    '--seed',
    '7',
    '--out',
    out,
    ...extra,
  ];
}

async function latents(path: string): Promise<Float64Array> {
  return decodeValues((await readSafetensors(path)).tensors.get('latents')!);
}

describe('tessera generate over several ranks', () => {
  it('--ranks 4 (CFG-parallel x Ulysses 2) writes the one-process latents bit for bit; only rank 0 prints', async () => {
    const single = await start(generateArgs(join(dir, 'single.safetensors'))).done;
    expect(single.code, single.stderr).toBe(0);
    const four = await start(generateArgs(join(dir, 'four.safetensors'), 3, ['--ranks', '4'])).done;
    expect(four.code, four.stderr).toBe(0);
    expect(await latents(join(dir, 'four.safetensors'))).toEqual(
      await latents(join(dir, 'single.safetensors')),
    );
    expect(four.stdout).toContain('4 ranks: CFG-parallel, Ulysses 2 per row');
    expect(four.stdout.match(/^wrote /gm)).toHaveLength(1);
    // One progress line per step, all from rank 0 (the others print nothing).
    expect(four.stderr.match(/step \d\/3/g)).toHaveLength(3);
  }, 180_000);

  it('a rank killed mid-step stops the others with its number, within a bounded time', async () => {
    const run = start(generateArgs(join(dir, 'killed.safetensors'), 1000, ['--ranks', '3']));
    const text = await waitForStderr(run, (t) => /step 2\/1000/.test(t));
    const pids = launchedPids(text);
    const killedAt = performance.now();
    process.kill(pids[1]!, 'SIGKILL');
    const end = await run.done;
    expect(end.code).toBe(1);
    expect(end.stderr).toMatch(/rank 0 of 3: rank 1 exited before the end of the run/);
    expect(end.stderr).toMatch(/rank 2 of 3: rank 1 exited before the end of the run/);
    expect(end.stderr).toContain(`rank 1 (pid ${pids[1]}) was killed by SIGKILL`);
    expect(performance.now() - killedAt).toBeLessThan(30_000);
    for (const pid of pids) expect(alive(pid), `pid ${pid}`).toBe(false);
  }, 180_000);

  it('a hung rank (stopped) is named by the watchdog and ended by the launcher', async () => {
    const run = start(generateArgs(join(dir, 'hung.safetensors'), 1000, ['--ranks', '3']), {
      TESSERA_PARALLEL_TIMEOUT: '6',
    });
    const text = await waitForStderr(run, (t) => /step 2\/1000/.test(t));
    const pids = launchedPids(text);
    const stoppedAt = performance.now();
    process.kill(pids[2]!, 'SIGSTOP');
    const end = await run.done;
    expect(end.code).toBe(1);
    expect(end.stderr).toMatch(/rank 0 of 3: rank 2 made no progress for 6 s/);
    expect(end.stderr).toContain(`rank 2 (pid ${pids[2]}) was ended by the launcher`);
    expect(performance.now() - stoppedAt).toBeLessThan(40_000);
    for (const pid of pids) expect(alive(pid), `pid ${pid}`).toBe(false);
  }, 180_000);

  it('Ctrl-C on the launcher ends every rank', async () => {
    const run = start(generateArgs(join(dir, 'interrupted.safetensors'), 1000, ['--ranks', '2']));
    const text = await waitForStderr(run, (t) => /step 2\/1000/.test(t));
    const pids = launchedPids(text);
    run.child.kill('SIGINT');
    const end = await run.done;
    expect(end.code).toBe(130);
    for (const pid of pids) expect(alive(pid), `pid ${pid}`).toBe(false);
  }, 180_000);

  it('ranks started with different settings refuse, naming the difference (torchrun-style environment)', async () => {
    const port = await freePort();
    const env = (rank: number) => ({
      RANK: String(rank),
      WORLD_SIZE: '2',
      LOCAL_RANK: String(rank),
      MASTER_ADDR: '127.0.0.1',
      MASTER_PORT: String(port),
      TORCHELASTIC_RUN_ID: 'test',
    });
    const a = start(generateArgs(join(dir, 'a.safetensors')), env(0));
    const b = start(generateArgs(join(dir, 'b.safetensors'), 3, ['--seed', '8']), env(1));
    const [ra, rb] = await Promise.all([a.done, b.done]);
    for (const r of [ra, rb]) {
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/rank 1's configuration differs from rank 0's: seed 8 \(rank 0: 7\)/);
    }
  }, 120_000);

  it('--gpus without CUDA (or NCCL) is a readable error', async () => {
    const r = await start(generateArgs(join(dir, 'gpus.safetensors'), 3, ['--gpus', '2'])).done;
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^tessera: --gpus 2: (CUDA backend unavailable|NCCL)/m);
    expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
  }, 60_000);
});
