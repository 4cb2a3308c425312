/**
 * Starts a real redis-server for a test: loopback, a free port, nothing saved to disk.
 * Where redis-server is not installed, `redisMissing()` says why (so a test can skip);
 * in CI (env CI set) absence is an error.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { withTimeout } from './mqtt.ts';
import { freePort } from './ports.ts';

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


export async function startRedis(): Promise<RedisHandle> {
  const binary = findRedis();
  if (!binary) throw new Error('redis-server is not installed');
  const port = await freePort();
  const child = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await withTimeout(new Promise<void>((resolve, reject) => {
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      log = (log + chunk).slice(-4096);
      if (/Ready to accept connections/.test(log)) resolve();
    });
    void exited.then((code) => reject(new Error(`redis-server exited with code ${code}:\n${log}`)));
  }), 10_000, `starting redis-server on port ${port}`);
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await withTimeout(exited, 5000, 'stopping redis').catch(() => child.kill('SIGKILL'));
      }
    },
  };
}
