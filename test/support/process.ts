/** Child processes in tests: stop one in bounded time, whatever it does. */
import type { ChildProcess } from 'node:child_process';
import { withTimeout } from './mqtt.ts';

/** Resolves when `child` has exited (at once when it already has, or never started). */
export function exitOf(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * Stops `child` within about 7 s: `signal` (SIGTERM unless told), up to 5 s for it to exit,
 * then SIGKILL and up to 2 s more. Never throws; says on stderr when it did not exit.
 */
export async function stopChild(child: ChildProcess, what: string, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  const exited = exitOf(child);
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  if (signal !== 'SIGKILL') {
    try {
      await withTimeout(exited, 5_000, `${what} exiting on ${signal}`);
      return;
    } catch {
      child.kill('SIGKILL');
    }
  }
  await withTimeout(exited, 2_000, `${what} exiting on SIGKILL`).catch((err: unknown) => {
    process.stderr.write(`[${what}] ${(err as Error).message} (pid ${child.pid})\n`);
  });
}
