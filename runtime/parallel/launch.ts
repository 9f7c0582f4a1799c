/**
 * tessera's own launcher (`tessera generate --gpus P`): one process per rank on this machine, each started
 * with the environment torchrun gives its workers (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR,
 * MASTER_PORT), so a rank cannot tell tessera's launcher from torchrun. Their output goes to this terminal
 * (rank 0 prints the progress and the report). When a rank fails the others are given a grace period to stop
 * by themselves (they learn of the fault through the control channel), then ended; Ctrl-C ends every rank.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';

/** What to launch. */
export interface LaunchOptions {
  /** Number of ranks. */
  readonly world: number;
  /** The script and its arguments, run by this Node with its flags (`process.execArgv`). */
  readonly args: readonly string[];
  /** Extra environment for every rank. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Where the launcher's own lines go (default stderr). */
  readonly log?: { write(text: string): unknown };
  /** After a rank fails, how long the others may take to stop by themselves (default 5 s after the last exit). */
  readonly graceMs?: number;
}

/** How each rank ended. */
export interface RankExit {
  readonly rank: number;
  readonly pid: number;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The launcher ended it (after another rank failed, or on Ctrl-C). */
  readonly ended: boolean;
}

/** The launch's outcome: the exit code to end with, and every rank's. */
export interface LaunchResult {
  readonly exitCode: number;
  readonly ranks: readonly RankExit[];
  /** Set when Ctrl-C (or SIGTERM) stopped the launch. */
  readonly interrupted?: NodeJS.Signals;
}

/** A TCP port that was free a moment ago (the root binds it when it starts). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Environment a rank must not inherit: another launcher's rendezvous would mislead it. */
const STRIP = [
  'TORCHELASTIC_USE_AGENT_STORE',
  'TESSERA_RENDEZVOUS_PORT',
  'GROUP_RANK',
  'TORCHELASTIC_RUN_ID',
];

/** Start `world` ranks of `args` and wait for all of them. */
export async function launchRanks(options: LaunchOptions): Promise<LaunchResult> {
  const { world, args } = options;
  const log = options.log ?? process.stderr;
  const graceMs = options.graceMs ?? 5000;
  const port = await freePort();
  const base: Record<string, string | undefined> = { ...process.env, ...options.env };
  for (const k of STRIP) delete base[k];
  const children: ChildProcess[] = [];
  const exits: (RankExit | undefined)[] = Array.from({ length: world }, () => undefined);
  const ended = new Set<number>();
  let interrupted: NodeJS.Signals | undefined;
  let failure = false;
  let graceTimer: NodeJS.Timeout | undefined;
  let killTimer: NodeJS.Timeout | undefined;

  const endAll = (signal: NodeJS.Signals) => {
    children.forEach((c, r) => {
      if (exits[r] === undefined) {
        ended.add(r);
        c.kill(signal);
      }
    });
  };
  /** SIGTERM now, SIGKILL for whatever is left 3 s later (a stopped process only yields to SIGKILL). */
  const stopAll = () => {
    endAll('SIGTERM');
    killTimer ??= setTimeout(() => endAll('SIGKILL'), 3000);
  };
  const onSignal = (signal: NodeJS.Signals) => {
    interrupted ??= signal;
    stopAll();
  };
  const onInt = () => onSignal('SIGINT');
  const onTerm = () => onSignal('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);

  const done = new Promise<void>((resolve) => {
    let left = world;
    for (let rank = 0; rank < world; rank++) {
      const child = spawn(process.execPath, [...process.execArgv, ...args], {
        stdio: 'inherit',
        env: {
          ...base,
          RANK: String(rank),
          WORLD_SIZE: String(world),
          LOCAL_RANK: String(rank),
          LOCAL_WORLD_SIZE: String(world),
          MASTER_ADDR: '127.0.0.1',
          MASTER_PORT: String(port),
          TESSERA_LAUNCHER: '1',
        },
      });
      children.push(child);
      child.on('error', (e) => {
        log.write(`tessera: rank ${rank} could not start: ${e.message}\n`);
      });
      child.on('exit', (code, signal) => {
        exits[rank] = { rank, pid: child.pid ?? -1, code, signal, ended: ended.has(rank) };
        if (code !== 0 || signal) failure = true;
        if (failure && !interrupted) {
          // The others hear of it through the control channel and stop; whoever still runs `graceMs` after the
          // last exit is ended.
          clearTimeout(graceTimer);
          graceTimer = setTimeout(stopAll, graceMs);
        }
        if (--left === 0) resolve();
      });
    }
  });
  log.write(
    `tessera: launched ${world} ranks on this machine (pids ${children.map((c) => c.pid).join(', ')})\n`,
  );
  await done;
  clearTimeout(graceTimer);
  clearTimeout(killTimer);
  process.off('SIGINT', onInt);
  process.off('SIGTERM', onTerm);

  const ranks = exits.map((e) => e!);
  for (const e of ranks) {
    if (e.signal && !e.ended) log.write(`tessera: rank ${e.rank} (pid ${e.pid}) was killed by ${e.signal}\n`);
    else if (e.ended) log.write(`tessera: rank ${e.rank} (pid ${e.pid}) was ended by the launcher\n`);
  }
  if (interrupted) return { exitCode: interrupted === 'SIGINT' ? 130 : 143, ranks, interrupted };
  const failed = ranks.find((e) => e.code !== 0 || e.signal);
  return { exitCode: failed ? (failed.code && failed.code > 0 ? failed.code : 1) : 0, ranks };
}
