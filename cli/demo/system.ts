/**
 * An emulated system on this machine, as the demo and the experiments run it: the embedded
 * broker (or an external one), a planner and devices, each an `edgeweave` process of its
 * own with its log in a file; a watcher follows their statuses so callers can await
 * readiness; job clients connect as any device. The embedded broker may serve the dashboard,
 * and may be secured (TLS, a login per process). `close()` stops everything it started.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ProcessGroup, type Child } from './processes.ts';
import { SystemWatcher } from './watcher.ts';
import { OBSERVER_USER, secureBroker, type SecureBroker } from './secure.ts';
import type { Connection } from '../connection.ts';
import { JobClient } from '../../node-runtime/client.ts';
import type { HistoryRecord } from '../../node-runtime/history.ts';
import { EdgeweaveError } from '../../schemas/errors.ts';
import { settleWithin } from '../../transport/settle-within.ts';

/** How one emulated device is started (`edgeweave node` flags). */
export interface DeviceLaunch {
  id: string;
  role: 'iot' | 'edge' | 'cloud';
  speed: number;
  /** `up=<Mbps>,down=<Mbps>,rtt=<ms>`; absent: no link emulation. */
  link?: string;
  /** Bandwidth trace the uplink follows (needs `link`). */
  trace?: string;
  memoryMiB?: number;
  power?: string;
  radio?: string;
  workers?: number;
  heartbeatMs?: number;
  /** Models this device holds, when not the system's. */
  models?: string[];
  /** `virtual`: stages take their profiled time without running the model. */
  compute?: 'real' | 'virtual';
}

export interface SystemOptions {
  /** An external broker; absent: the embedded broker is started. */
  connection?: Connection;
  /** Profiles, model cache (unless EDGEWEAVE_CACHE_DIR is set) and, by default, the logs. */
  dataDir: string;
  logDir?: string;
  /** Models every device holds. */
  models: string[];
  plannerId: string;
  log: Logger;
  /** The embedded broker also serves the dashboard on its WebSocket port. */
  dashboard?: boolean;
  /**
   * The embedded broker with TLS (a self-signed certificate) and a login per process: the
   * planner, these devices (no others can start) and an observer for the watcher and the dashboard.
   */
  secure?: { devices: readonly string[] };
  /** The planner sends each plan with the job's task DAG, for the dashboard (default true). */
  planDag?: boolean;
  /** Aborting it ends every wait for readiness at once (a stop on SIGINT/SIGTERM): they reject with its reason. */
  signal?: AbortSignal;
}

/** `close()` stops everything within this (a device that overruns is killed). */
export const CLOSE_WITHIN_MS = 3000;

/** The `edgeweave node` arguments of a device, in the order the demo has always used. */
export function deviceCommand(d: DeviceLaunch, common: string[]): string[] {
  const args = ['node', '--id', d.id, '--role', d.role, '--speed', String(d.speed)];
  if (d.memoryMiB !== undefined) args.push('--memory', String(d.memoryMiB));
  if (d.power !== undefined) args.push('--power', d.power);
  if (d.radio !== undefined) args.push('--radio', d.radio);
  if (d.link !== undefined) args.push('--link', d.link);
  if (d.trace !== undefined) args.push('--trace', d.trace);
  if (d.workers !== undefined) args.push('--workers', String(d.workers));
  if (d.heartbeatMs !== undefined) args.push('--heartbeat-ms', String(d.heartbeatMs));
  if (d.compute !== undefined) args.push('--compute', d.compute);
  // A device's own model list comes last: the last --models wins.
  return [...args, ...common, ...(d.models ? ['--models', d.models.join(',')] : [])];
}

/** How a process of the system logs in: flags, and the password in its environment (never on its command line). */
interface Login {
  args: string[];
  env: NodeJS.ProcessEnv;
}

/**
 * The logins of the system's processes and clients. On the secured embedded broker each
 * logs in as its own id; on an external broker every one uses the connection's login.
 */
class Logins {
  constructor(private readonly conn: Connection, private readonly caPath: string | undefined, private readonly secure: SecureBroker | undefined) {}

  /** Flags and environment of the process that is `user` (the planner or a device id). */
  process(user: string): Login {
    const args = this.caPath !== undefined ? ['--ca', this.caPath] : [];
    if (this.secure) return { args, env: { EDGEWEAVE_PASSWORD: this.secure.passwordOf(user) } };
    if (this.conn.username !== undefined) args.push('--username', this.conn.username);
    return { args, env: this.conn.password !== undefined ? { EDGEWEAVE_PASSWORD: this.conn.password } : {} };
  }

  /** The connection of a client of this process acting as `user` (absent: the observer). */
  client(user?: string): Connection {
    if (!this.secure) return this.conn;
    const username = user ?? OBSERVER_USER;
    return { ...this.conn, username, password: this.secure.passwordOf(username) };
  }
}

export class EmulatedSystem {
  private readonly clients: JobClient[] = [];

  private constructor(
    readonly conn: Connection,
    /** The live dashboard, when the embedded broker serves it. */
    readonly dashboardUrl: string | undefined,
    readonly procs: ProcessGroup,
    readonly watcher: SystemWatcher,
    private readonly logins: Logins,
    private readonly common: string[],
    private readonly models: string[],
    private readonly log: Logger,
    private readonly signal: AbortSignal | undefined,
  ) {}

  /** Starts the broker (unless external), the watcher and the planner; resolves when the planner is online. */
  static async start(options: SystemOptions): Promise<EmulatedSystem> {
    const { dataDir, log } = options;
    if (options.connection && options.secure) throw new EdgeweaveError('E_CONFIG', 'a secured system starts its own broker: it cannot go with an external one');
    const procs = new ProcessGroup(options.logDir ?? join(dataDir, 'logs'), log, { EDGEWEAVE_CACHE_DIR: process.env['EDGEWEAVE_CACHE_DIR'] ?? join(dataDir, 'models') });
    let watcher: SystemWatcher | undefined;
    try {
      let conn: Connection;
      let dashboardUrl: string | undefined;
      let secure: SecureBroker | undefined;
      if (options.connection) conn = options.connection;
      else {
        if (options.secure) secure = await secureBroker(dataDir, { planner: options.plannerId, devices: options.secure.devices });
        const args = ['broker', '--port', '0', '--ws-port', '0', '--json'];
        if (secure) args.push('--tls-cert', secure.certPath, '--tls-key', secure.keyPath, '--auth', secure.authPath);
        let started: BrokerStarted | undefined;
        if (options.dashboard === true) {
          const dashboard = secure ? ['--dashboard', '--dashboard-username', OBSERVER_USER] : ['--dashboard'];
          const env = secure ? { EDGEWEAVE_DASHBOARD_PASSWORD: secure.passwordOf(OBSERVER_USER) } : {};
          started = await startBrokerProcess(procs, [...args, ...dashboard], env, options.signal).catch((err: unknown) => {
            if (options.signal?.aborted === true) throw err;
            // The dashboard is for watching; the demo runs without it (its page is bundled at start).
            log.warn({ err }, 'the broker did not start with the dashboard; starting it without (see broker.log)');
            return undefined;
          });
        }
        started ??= await startBrokerProcess(procs, args, {}, options.signal);
        conn = { brokerUrl: started.url, ...(secure ? { ca: secure.ca } : {}) };
        dashboardUrl = started.dashboardUrl;
        log.info({ url: started.url, tls: secure !== undefined, auth: secure?.authPath }, 'embedded broker started');
        if (dashboardUrl !== undefined) log.info({ url: dashboardUrl }, 'dashboard ready');
      }
      let caPath: string | undefined;
      if (conn.ca !== undefined) {
        caPath = join(dataDir, 'ca.pem');
        writeFileSync(caPath, conn.ca);
      }
      const logins = new Logins(conn, caPath, secure);
      watcher = await SystemWatcher.connect(logins.client(), log);
      const planner = logins.process(options.plannerId);
      const plannerProcess = procs.start('planner', ['planner', '--broker', conn.brokerUrl, '--id', options.plannerId, '--algorithm', 'auto', ...(options.planDag === false ? [] : ['--plan-dag']), ...planner.args], planner.env);
      const w = watcher;
      await untilExit([plannerProcess], (signal) => w.waitFor(() => w.plannerOnline(), 'the planner', undefined, signal), options.signal);
      const common = ['--broker', conn.brokerUrl, '--data-dir', dataDir, '--models', options.models.join(',')];
      return new EmulatedSystem(conn, dashboardUrl, procs, watcher, logins, common, options.models, log, options.signal);
    } catch (err) {
      await watcher?.close().catch(() => undefined);
      await procs.stopAll({ withinMs: CLOSE_WITHIN_MS });
      throw err;
    }
  }

  /**
   * Starts devices (restarting any already running under the same id) and resolves when each
   * is online in its new incarnation and has published a profile of every model since.
   */
  async startDevices(devices: readonly DeviceLaunch[], what = devices.map((d) => d.id).join(' and '), timeoutMs = 600_000): Promise<void> {
    const since = Date.now();
    const logins = devices.map((d) => this.logins.process(d.id));
    const previous = new Map<string, string | undefined>();
    for (const d of devices) {
      previous.set(d.id, this.watcher.devices.get(d.id)?.incarnation);
      await this.procs.stop(d.id);
    }
    const children = devices.map((d, i) => this.procs.start(d.id, deviceCommand(d, [...this.common, ...logins[i]!.args]), logins[i]!.env));
    const ids = devices.map((d) => d.id);
    await untilExit(children, (signal) => this.watcher.waitFor(
      () => devices.every((d) => this.watcher.deviceOnline(d.id, previous.get(d.id)) && this.watcher.profiled(d.id, d.models ?? this.models, since)),
      what, timeoutMs, signal,
    ), this.signal);
    this.log.debug({ devices: ids }, 'devices ready');
  }

  stopDevice(id: string): Promise<void> {
    return this.procs.stop(id);
  }

  /** A job client submitting as `origin`; closed with the system. */
  async client(origin: string): Promise<JobClient> {
    const c = await JobClient.connect({ ...this.logins.client(origin), origin, log: this.log });
    this.clients.push(c);
    return c;
  }

  /** Closes every job client: jobs still waiting resolve at once as failed (for a run told to stop). */
  async abortJobs(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.close().catch(() => undefined)));
  }

  /**
   * Stops the devices and the planner, then closes the clients (no message is left arriving as
   * they close), then the broker; all within `withinMs` (what overruns is killed or left).
   */
  async close(withinMs = CLOSE_WITHIN_MS): Promise<void> {
    const end = Date.now() + withinMs;
    const left = (keep: number): number => Math.max(0, end - keep - Date.now());
    // The broker keeps a third of the time: the others need it to stop cleanly.
    await this.procs.stopAll({ keepBroker: true, withinMs: left(withinMs / 3) });
    const clients = Promise.all([...this.clients.map((c) => c.close()), this.watcher.close()].map((p) => p.catch(() => undefined)));
    await settleWithin(clients, left(withinMs / 6));
    await this.procs.stopAll({ withinMs: left(0) });
  }
}

/** What `edgeweave broker --json` prints once it listens. */
interface BrokerStarted {
  url: string;
  dashboardUrl?: string;
}

async function startBrokerProcess(procs: ProcessGroup, args: string[], env: NodeJS.ProcessEnv, stop: AbortSignal | undefined): Promise<BrokerStarted> {
  await procs.stop('broker');
  const line = ProcessGroup.firstLine(procs.start('broker', args, env));
  return JSON.parse(await orStopped(line, stop)) as BrokerStarted;
}

/** `promise`, or a rejection with the reason of `stop` as soon as it aborts. */
function orStopped<T>(promise: Promise<T>, stop: AbortSignal | undefined): Promise<T> {
  if (!stop) return promise;
  return new Promise<T>((resolve, reject) => {
    const onStop = (): void => reject(stop.reason as Error);
    if (stop.aborted) onStop();
    else stop.addEventListener('abort', onStop, { once: true });
    promise.then(resolve, reject).finally(() => stop.removeEventListener('abort', onStop));
  });
}

/**
 * Runs `wait`, aborting it as soon as one of `children` exits (a wrong login, a bad flag): no
 * waiting out the timeout; or as soon as `stop` aborts (with its reason).
 */
async function untilExit(children: readonly Child[], wait: (signal: AbortSignal) => Promise<void>, stop?: AbortSignal): Promise<void> {
  const abort = new AbortController();
  for (const c of children) {
    void c.exited.then((code) => abort.abort(new EdgeweaveError('E_CONFIG', `${c.name} exited (code ${code}) before it was ready; see ${c.name}.log in the logs directory`)));
  }
  const onStop = (): void => abort.abort(stop!.reason);
  if (stop?.aborted === true) onStop();
  else stop?.addEventListener('abort', onStop, { once: true });
  try {
    await wait(abort.signal);
  } finally {
    stop?.removeEventListener('abort', onStop);
    // Later exits are the caller's to see (the process group logs them).
    abort.abort(new EdgeweaveError('E_CONFIG', 'no longer waiting'));
  }
}

/** A job's placement in brief: `car1:3 edge1:5` (tasks per device, in first-use order). */
export function placementSummary(r: Pick<HistoryRecord, 'placement'>): string {
  const counts = new Map<string, number>();
  for (const d of Object.values(r.placement)) counts.set(d, (counts.get(d) ?? 0) + 1);
  return [...counts].map(([d, n]) => `${d}:${n}`).join(' ');
}

/** A device's row of a job's energy bill, measured and predicted (0 when absent). */
export function deviceEnergy(r: Pick<HistoryRecord, 'energyJ'>, deviceId: string): { measured: number; predicted: number } {
  return { measured: r.energyJ[deviceId]?.measured ?? 0, predicted: r.energyJ[deviceId]?.predicted ?? 0 };
}
