/**
 * Starts a real redis-server for a test: loopback, a free port, nothing saved to disk,
 * started and stopped in bounded time.
 * Where redis-server is not installed, `redisMissing()` says why (so a test can skip);
 * in CI (env CI set) absence is an error.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { withTimeout } from './mqtt.ts';
import { freePort } from './ports.ts';
import { stopChild } from './process.ts';

export interface RedisHandle {
  url: string;
  port: number;
  stop(): Promise<void>;
}

export function findRedis(): string | null {
  for (const dir of [...(process.env['PATH'] ?? '').split(delimiter), '/usr/bin', '/usr/sbin', '/usr/local/bin']) {
    if (!dir) continue;
    try {
      accessSync(join(dir, 'redis-server'), constants.X_OK);
      return join(dir, 'redis-server');
    } catch {
      // keep looking
    }
  }
  return null;
}

export function redisMissing(): string | null {
  if (findRedis() !== null) return null;
  const reason = 'redis-server is not installed: apt-get install redis-server to run the persistence tests';
  if (process.env['CI']) throw new Error(`${reason}; CI must install it`);
  return reason;
}


async function startOnce(binary: string): Promise<RedisHandle> {
  const port = await freePort();
  const child = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const keep = (chunk: string): void => { log = (log + chunk).slice(-4096); }; // keep draining the pipes, keep only the tail
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      keep(chunk);
      if (/Ready to accept connections/.test(log)) resolve();
    });
    child.once('error', (err) => reject(new Error(`cannot run ${binary}: ${err.message}`)));
    void exited.then((code) => reject(new Error(`redis-server (${binary}) exited with code ${code} before it was ready on port ${port}:\n${log}`)));
  });
  try {
    await withTimeout(ready, 10_000, () => `redis-server (${binary}) to accept connections on port ${port}; its log so far:\n${log || '(nothing)'}`);
  } catch (err) {
    await stopChild(child, `redis-server on port ${port}`);
    throw err;
  }
  let stopping: Promise<void> | undefined;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop: () => {
      stopping ??= stopChild(child, `redis-server on port ${port}`);
      return stopping;
    },
  };
}

/**
 * Starts redis-server on a free loopback port; ready when it says it accepts connections
 * (awaited, bounded; a failed start says why, with its log). Stopping is bounded (SIGTERM,
 * then SIGKILL) and idempotent.
 */
export async function startRedis(): Promise<RedisHandle> {
  const binary = findRedis();
  if (!binary) throw new Error('redis-server is not installed (looked in PATH, /usr/bin, /usr/sbin, /usr/local/bin)');
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(binary);
    } catch (err) {
      // Most likely a port taken between freePort() and redis binding it: try another.
      lastError = err;
    }
  }
  throw new Error(`redis-server did not start in 3 attempts: ${(lastError as Error).message}`, { cause: lastError });
}
