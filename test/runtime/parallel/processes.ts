/** Running tessera's TypeScript in child processes for the multi-process tests (through test/support/ts-register.mjs). */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const NODE_ARGS = [
  '--import',
  fileURLToPath(new URL('../../support/ts-register.mjs', import.meta.url)),
];
export const CLI = fileURLToPath(new URL('../../../cli/main.ts', import.meta.url));

/** A child's output and how it ended. */
export interface Finished {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** A running child: its process, the output so far, and a promise of its end. */
export interface Running {
  readonly child: ChildProcess;
  stderr(): string;
  readonly done: Promise<Finished>;
}

/**
 * Start `node <ts-hooks> ...args` in a process group of its own; the whole group (a launcher and its ranks) is
 * killed after `limitMs` (the test then fails on its exit), so a failing test leaves no rank behind.
 */
export function start(args: readonly string[], env: Record<string, string> = {}, limitMs = 120_000): Running {
  const begin = performance.now();
  const child = spawn(process.execPath, [...NODE_ARGS, ...args], {
    cwd: ROOT,
    env: { ...process.env, TESSERA_PARALLEL_TIMEOUT: '20', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }, limitMs);
  const done = new Promise<Finished>((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: out, stderr: err, ms: performance.now() - begin });
    });
  });
  return { child, stderr: () => err, done };
}

/** Resolve once `predicate` holds on the child's stderr (polled), or reject after `ms`. */
export async function waitForStderr(
  run: Running,
  predicate: (text: string) => boolean,
  ms = 90_000,
): Promise<string> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const text = run.stderr();
    if (predicate(text)) return text;
    if (run.child.exitCode !== null) throw new Error(`the process ended first:\n${text}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting on stderr:\n${run.stderr()}`);
}

/** The rank pids the launcher printed. */
export function launchedPids(stderr: string): number[] {
  const m = /launched \d+ ranks on this machine \(pids ([\d, ]+)\)/.exec(stderr);
  if (!m) throw new Error(`no launch line in:\n${stderr}`);
  return m[1]!.split(',').map((p) => Number(p.trim()));
}

/** Whether a process exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
