/**
 * The demo's child processes (broker, planner, devices): each an `edgeweave` command of its
 * own, logs in a file, stopped with SIGTERM (then SIGKILL) on the way out.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { EdgeweaveError } from '../../schemas/errors.ts';
import { killOnProcessExit } from '../../node-runtime/child-guard.ts';

const BIN = fileURLToPath(new URL('../../bin/edgeweave.js', import.meta.url));
/** A process told to stop is killed if it has not exited by then (unless the caller gives less time). */
const STOP_TIMEOUT_MS = 8000;


export interface Child {
  name: string;
  process: ChildProcess;
  exited: Promise<number | null>;
}

export class ProcessGroup {
  private readonly children = new Map<string, Child>();

  constructor(private readonly logDir: string, private readonly log: Logger, private readonly env: NodeJS.ProcessEnv = {}) {
    mkdirSync(logDir, { recursive: true });
  }

  /** Starts `edgeweave <args>` (with `env` added to the group's); its output goes to <logDir>/<name>.log. */
  start(name: string, args: string[], env: NodeJS.ProcessEnv = {}): Child {
    if (this.children.has(name)) throw new EdgeweaveError('E_CONFIG', `process ${name} is already running`);
    const logFile = createWriteStream(join(this.logDir, `${name}.log`), { flags: 'a' });
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, EDGEWEAVE_LOG_LEVEL: process.env['EDGEWEAVE_LOG_LEVEL'] ?? 'info', ...this.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    killOnProcessExit(child);
    child.stdout!.pipe(logFile, { end: false });
    child.stderr!.pipe(logFile, { end: false });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => { logFile.end(); resolve(code); }));
    const entry = { name, process: child, exited };
    this.children.set(name, entry);
    void exited.then((code) => {
      if (this.children.get(name) === entry) {
        this.children.delete(name);
        this.log.warn({ process: name, code }, 'process exited');
      }
    });
    this.log.debug({ process: name, pid: child.pid, args }, 'process started');
    return entry;
  }

  /** The pid of a running process of the group, by name. */
  pidOf(name: string): number | undefined {
    return this.children.get(name)?.process.pid;
  }

  /** The first line the process prints on stdout (e.g. the broker's --json URLs). */
  static firstLine(child: Child, timeoutMs = 30_000): Promise<string> {
    return new Promise((resolve, reject) => {
      let buf = '';
      const timer = setTimeout(() => reject(new EdgeweaveError('E_TIMEOUT', `${child.name} printed nothing within ${timeoutMs} ms`)), timeoutMs);
      const onData = (chunk: Buffer): void => {
        buf += chunk.toString('utf8');
        const nl = buf.indexOf('\n');
        if (nl >= 0) {
          clearTimeout(timer);
          child.process.stdout!.off('data', onData);
          resolve(buf.slice(0, nl));
        }
      };
      child.process.stdout!.on('data', onData);
      void child.exited.then((code) => {
        clearTimeout(timer);
        reject(new EdgeweaveError('E_CONFIG', `${child.name} exited (code ${code}) before it was ready; see its log`));
      });
    });
  }

  async stop(name: string, timeoutMs = STOP_TIMEOUT_MS): Promise<void> {
    const child = this.children.get(name);
    if (!child) return;
    this.children.delete(name);
    if (child.process.exitCode === null && child.process.signalCode === null) {
      child.process.kill('SIGTERM');
      const timer = setTimeout(() => child.process.kill('SIGKILL'), timeoutMs);
      await child.exited;
      clearTimeout(timer);
    }
  }

  /**
   * Stops devices first, then planners, the broker last (unless `keepBroker`); with `withinMs`,
   * all within that time (what is still running when it is up is killed).
   */
  async stopAll(options: { keepBroker?: boolean; withinMs?: number } = {}): Promise<void> {
    const end = options.withinMs === undefined ? undefined : Date.now() + options.withinMs;
    const timeout = (): number => (end === undefined ? STOP_TIMEOUT_MS : Math.max(0, end - Date.now()));
    const order = [...this.children.keys()].sort((a, b) => rank(a) - rank(b));
    await Promise.all(order.filter((n) => rank(n) === 0).map((n) => this.stop(n, timeout())));
    await Promise.all(order.filter((n) => rank(n) === 1).map((n) => this.stop(n, timeout())));
    if (options.keepBroker !== true) await Promise.all(order.filter((n) => rank(n) === 2).map((n) => this.stop(n, timeout())));
  }
}

function rank(name: string): number {
  if (name === 'broker') return 2;
  if (name.startsWith('planner')) return 1;
  return 0;
}
