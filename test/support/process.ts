/** Child processes in tests: run the CLI to its end, stop one in bounded time, whatever it does. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { withTimeout } from './mqtt.ts';

const BIN = fileURLToPath(new URL('../../bin/edgeweave.js', import.meta.url));

/** Runs `edgeweave <args>` (logs at warn) to its end; rejects when it takes longer than `timeoutMs`. */
export function runCli(args: string[], timeoutMs = 120_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, EDGEWEAVE_LOG_LEVEL: 'warn' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`edgeweave ${args.join(' ')} did not end in ${timeoutMs} ms:\n${stdout}\n${stderr}`)); }, timeoutMs);
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

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
