/**
 * An emulated system on this machine, as the demo and the experiments run it: the embedded
 * broker (or an external one), a planner and devices, each an `edgeweave` process of its
 * own with its log in a file; a watcher follows their statuses so callers can await
 * readiness; job clients connect as any device. `close()` stops everything it started.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ProcessGroup } from './processes.ts';
import { SystemWatcher } from './watcher.ts';
import type { Connection } from '../connection.ts';
import { JobClient } from '../../node-runtime/client.ts';
import type { HistoryRecord } from '../../node-runtime/history.ts';

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
}

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
  return [...args, ...common];
}

export class EmulatedSystem {
  private readonly clients: JobClient[] = [];

  private constructor(
    readonly conn: Connection,
    readonly procs: ProcessGroup,
    readonly watcher: SystemWatcher,
    private readonly common: string[],
    private readonly models: string[],
    private readonly log: Logger,
  ) {}

  /** Starts the broker (unless external), the watcher and the planner; resolves when the planner is online. */
  static async start(options: SystemOptions): Promise<EmulatedSystem> {
    const { dataDir, log } = options;
    const procs = new ProcessGroup(options.logDir ?? join(dataDir, 'logs'), log, { EDGEWEAVE_CACHE_DIR: process.env['EDGEWEAVE_CACHE_DIR'] ?? join(dataDir, 'models') });
    let watcher: SystemWatcher | undefined;
    try {
      let conn: Connection;
      if (options.connection) conn = options.connection;
      else {
        const broker = procs.start('broker', ['broker', '--port', '0', '--ws-port', '0', '--json']);
        const { url } = JSON.parse(await ProcessGroup.firstLine(broker)) as { url: string };
        conn = { brokerUrl: url };
        log.info({ url }, 'embedded broker started');
      }
      if (conn.ca !== undefined) writeFileSync(join(dataDir, 'ca.pem'), conn.ca);
      const credentials = conn.ca !== undefined ? ['--ca', join(dataDir, 'ca.pem')] : [];
      if (conn.username !== undefined) credentials.push('--username', conn.username);
      if (conn.password !== undefined) credentials.push('--password', conn.password);
      watcher = await SystemWatcher.connect(conn, log);
      procs.start('planner', ['planner', '--broker', conn.brokerUrl, '--id', options.plannerId, '--algorithm', 'auto', ...credentials]);
      await watcher.waitFor(() => watcher!.plannerOnline(), 'the planner');
      const common = ['--broker', conn.brokerUrl, '--data-dir', dataDir, '--models', options.models.join(',')];
      if (conn.ca !== undefined) common.push('--ca', join(dataDir, 'ca.pem'));
      return new EmulatedSystem(conn, procs, watcher, common, options.models, log);
    } catch (err) {
      await watcher?.close().catch(() => undefined);
      await procs.stopAll();
      throw err;
    }
  }

  /**
   * Starts devices (restarting any already running under the same id) and resolves when each
   * is online in its new incarnation and has published a profile of every model since.
   */
  async startDevices(devices: readonly DeviceLaunch[], what = devices.map((d) => d.id).join(' and '), timeoutMs = 600_000): Promise<void> {
    const since = Date.now();
    const previous = new Map<string, string | undefined>();
    for (const d of devices) {
      previous.set(d.id, this.watcher.devices.get(d.id)?.incarnation);
      await this.procs.stop(d.id);
    }
    for (const d of devices) this.procs.start(d.id, deviceCommand(d, this.common));
    const ids = devices.map((d) => d.id);
    await this.watcher.waitFor(
      () => ids.every((id) => this.watcher.deviceOnline(id, previous.get(id)) && this.watcher.profiled(id, this.models, since)),
      what, timeoutMs,
    );
    this.log.debug({ devices: ids }, 'devices ready');
  }

  stopDevice(id: string): Promise<void> {
    return this.procs.stop(id);
  }

  /** A job client submitting as `origin`; closed with the system. */
  async client(origin: string): Promise<JobClient> {
    const c = await JobClient.connect({ ...this.conn, origin, log: this.log });
    this.clients.push(c);
    return c;
  }

  /** Closes every job client: jobs still waiting resolve at once as failed (for a run told to stop). */
  async abortJobs(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.close().catch(() => undefined)));
  }

  /** Stops the devices and the planner, then closes the clients (no message is left arriving as they close), then the broker. */
  async close(): Promise<void> {
    await this.procs.stopAll({ keepBroker: true });
    await Promise.all(this.clients.map((c) => c.close().catch(() => undefined)));
    await this.watcher.close().catch(() => undefined);
    await this.procs.stopAll();
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
