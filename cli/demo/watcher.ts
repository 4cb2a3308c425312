/** Follows device and planner statuses (retained topics) so the demo can wait for readiness. */
import type { Logger } from 'pino';
import { Transport, brokerConnectionOf } from '../../transport/mqtt-transport.ts';
import { DeviceState, PlannerState, type DeviceStatus, type DeviceProfile, type PlannerStatus } from '../../schemas/generated/edgeweave.ts';
import { filters } from '../../schemas/topics.ts';
import { EdgeweaveError } from '../../schemas/errors.ts';
import type { Connection } from '../connection.ts';

export class SystemWatcher {
  readonly devices = new Map<string, DeviceStatus>();
  readonly profiles = new Map<string, DeviceProfile>();
  readonly planners = new Map<string, PlannerStatus>();
  private readonly waiters = new Set<() => void>();
  /** Called with every device status received (the map above keeps only the latest). */
  readonly statusListeners = new Set<(status: DeviceStatus) => void>();

  private constructor(private readonly transport: Transport) {}

  static async connect(conn: Connection, log: Logger): Promise<SystemWatcher> {
    // On a broker with logins a client id must be the user name or start with `<user>.`.
    const clientId = `${conn.username !== undefined ? `${conn.username}.` : ''}watcher-${process.pid}-${Date.now().toString(36)}`;
    const transport = await Transport.connect({ ...brokerConnectionOf(conn), clientId, log });
    const w = new SystemWatcher(transport);
    const changed = (): void => { for (const f of w.waiters) f(); };
    // Not ours to judge: the planner logs malformed statuses.
    const quiet = { onRefused: (r: { ack(): void }) => r.ack() };
    await transport.on('deviceStatus', filters.allDeviceStatus(), ({ message: s }) => {
      w.devices.set(s.deviceId, s);
      for (const f of w.statusListeners) f(s);
      changed();
    }, quiet);
    await transport.on('deviceProfile', filters.allDeviceProfiles(), ({ message: p }) => { w.profiles.set(p.deviceId, p); changed(); }, quiet);
    await transport.on('plannerStatus', filters.allPlannerStatus(), ({ message: p }) => { w.planners.set(p.plannerId, p); changed(); }, quiet);
    return w;
  }

  deviceOnline(id: string, incarnationNot?: string): boolean {
    const s = this.devices.get(id);
    return s?.state === DeviceState.DEVICE_STATE_ONLINE && s.workers.length > 0 && s.incarnation !== incarnationNot;
  }

  /**
   * The device published, since `sinceMs`, a profile (fused DAG) of every model its status says
   * it holds, and its status accounts for each of the `models` it was given (held or failed).
   */
  profiled(id: string, models: readonly string[], sinceMs = 0): boolean {
    const p = this.profiles.get(id);
    const s = this.devices.get(id);
    if (!p || !s || p.measuredAtMs < sinceMs) return false;
    if (s.modelRefs.length + s.modelProblems.length < new Set(models).size) return false;
    return s.modelRefs.every((r) => p.models.some((x) => x.model?.sha256 === r.sha256 && x.fused));
  }

  plannerOnline(): boolean {
    return [...this.planners.values()].some((p) => p.state === PlannerState.PLANNER_STATE_ONLINE);
  }

  /** Resolves when `predicate` holds; rejects after `timeoutMs`, or with the reason when `signal` aborts. */
  waitFor(predicate: () => boolean, what: string, timeoutMs = 120_000, signal?: AbortSignal): Promise<void> {
    if (predicate()) return Promise.resolve();
    if (signal?.aborted === true) return Promise.reject(signal.reason as Error);
    return new Promise((resolve, reject) => {
      const done = (): void => {
        this.waiters.delete(check);
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const check = (): void => {
        if (!predicate()) return;
        done();
        resolve();
      };
      const onAbort = (): void => {
        done();
        reject(signal!.reason as Error);
      };
      const timer = setTimeout(() => {
        done();
        reject(new EdgeweaveError('E_TIMEOUT', `${what}: not ready within ${Math.round(timeoutMs / 1000)} s (see the logs in the data directory)`));
      }, timeoutMs);
      this.waiters.add(check);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  async close(): Promise<void> {
    await this.transport.close();
  }
}
