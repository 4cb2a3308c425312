/**
 * Starts a real mosquitto for a test or a benchmark: anonymous, loopback, a free port,
 * no persistence, a config file in a temp dir. Ready when it logs that it is running
 * (awaited, not slept, bounded; a failed start says why, with mosquitto's log). Stopping is
 * bounded too (SIGTERM, then SIGKILL). Where mosquitto is not installed, `mosquittoMissing()` says
 * why, so a test can skip with that message; in CI (env CI set) absence is an error.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { withTimeout } from './mqtt.ts';
import { freePort } from './ports.ts';
import { stopChild } from './process.ts';

export interface MosquittoHandle {
  url: string;
  port: number;
  stop(): Promise<void>;
}

export interface MosquittoOptions {
  /** Extra config lines (after the defaults). */
  config?: string[];
  /** How long to wait for it to start (default 10 s). */
  startTimeoutMs?: number;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The mosquitto binary: $MOSQUITTO, then PATH, then /usr/sbin and /usr/local/sbin. */
export function findMosquitto(): string | null {
  const fromEnv = process.env['MOSQUITTO'];
  if (fromEnv) return isExecutable(fromEnv) ? fromEnv : null;
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin'].filter(Boolean);
  for (const dir of dirs) {
    const candidate = join(dir, 'mosquitto');
    if (isExecutable(candidate)) return candidate;
  }
  return null;
}

/**
 * Why mosquitto tests cannot run here, or null when they can. Throws in CI, where the
 * workflow installs mosquitto and a silent skip would hide a broken comparison.
 */
export function mosquittoMissing(): string | null {
  if (findMosquitto() !== null) return null;
  const reason = 'mosquitto is not installed (looked at $MOSQUITTO, PATH, /usr/sbin): apt-get install mosquitto to run the comparison';
  if (process.env['CI']) throw new Error(`${reason}; CI must install it`);
  return reason;
}


async function startOnce(binary: string, dir: string, options: MosquittoOptions): Promise<MosquittoHandle> {
  const port = await freePort();
  const configPath = join(dir, `mosquitto-${port}.conf`);
  const config = [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    'persistence false',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    'log_type notice',
    'log_type information',
    'max_queued_messages 100000',
    ...(options.config ?? []),
  ];
  await writeFile(configPath, config.join('\n') + '\n');
  const child = spawn(binary, ['-c', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const started = new Promise<void>((resolve, reject) => {
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      log = (log + chunk).slice(-8192); // keep draining the pipe, keep only the tail
      if (/ running$/m.test(log)) resolve();
    });
    child.once('error', (err) => reject(new Error(`cannot run ${binary}: ${err.message}`)));
    void exited.then((code) => reject(new Error(`mosquitto (${binary}) exited with code ${code} before it was ready on port ${port}:\n${log}`)));
  });
  try {
    await withTimeout(started, options.startTimeoutMs ?? 10_000, () => `mosquitto (${binary}) to say it is running on port ${port}; its log so far:\n${log || '(nothing)'}`);
  } catch (err) {
    await stopChild(child, `mosquitto on port ${port}`);
    throw err;
  }
  let stopping: Promise<void> | null = null;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    stop: () => {
      stopping ??= stopChild(child, `mosquitto on port ${port}`);
      return stopping;
    },
  };
}

/** Starts mosquitto on a free loopback port (retrying if another process grabs the port first). */
export async function startMosquitto(options: MosquittoOptions = {}): Promise<MosquittoHandle> {
  const binary = findMosquitto();
  if (binary === null) throw new Error('mosquitto is not installed');
  const dir = await mkdtemp(join(tmpdir(), 'edgeweave-mosquitto-'));
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await startOnce(binary, dir, options);
      return {
        ...handle,
        stop: async () => {
          await handle.stop();
          await rm(dir, { recursive: true, force: true });
        },
      };
    } catch (err) {
      // Most likely a port taken between freePort() and mosquitto binding it: try another.
      lastError = err;
    }
  }
  await rm(dir, { recursive: true, force: true });
  throw new Error(`mosquitto did not start in 3 attempts: ${(lastError as Error).message}`, { cause: lastError });
}
