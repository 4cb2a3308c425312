/**
 * A whole edgeweave system in one test process: the embedded broker on port 0 (or a given
 * broker URL), planners, and devices (each with its real executors and MQTT clients). Devices
 * with `workers > 1` fork real worker processes. Waits are on events, bounded by timeouts.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { startBroker, type AuthFile, type BrokerHandle } from '../../broker/index.ts';
import type { PlannerKeys } from '../../schemas/capability.ts';
import { PlannerService } from '../../planner/service.ts';
import { Device, type DeviceConfig } from '../../node-runtime/device.ts';
import { JobClient } from '../../node-runtime/client.ts';
import type { DataSourceSpec } from '../../node-runtime/data-sources.ts';
import type { LinkSpec } from '../../node-runtime/link.ts';
import { withTimeout } from './mqtt.ts';

export interface DeviceSetup {
  id: string;
  role: DeviceConfig['role'];
  speed?: number;
  link?: LinkSpec;
  tracePath?: string;
  workers?: number;
  models?: string[];
  data?: Record<string, DataSourceSpec>;
  memoryMiB?: number;
  profile?: boolean;
}

export interface ClusterOptions {
  devices: DeviceSetup[];
  planners?: number;
  /** Use this broker instead of starting the embedded one. */
  brokerUrl?: string;
  algorithm?: string;
  /** Also start the embedded broker's MQTT over WebSocket listener (0: a free port); default none. */
  wsPort?: number;
  /**
   * Turn on the embedded broker's --auth: every device, planner (p1, p2, ...) and these extra
   * users get a login (password `<user>-pw`); extra users are devices unless named in `roles`.
   */
  auth?: { extraUsers?: string[]; roles?: Record<string, 'device' | 'planner' | 'observer' | 'admin'> };
  /** The embedded broker's --max-payload. */
  maxPayloadBytes?: number;
  /** The broker URL a device uses, when it must differ (a proxy in front of the broker). */
  deviceBrokerUrl?: (deviceId: string) => string | undefined;
  /** Planners sign capabilities with these keys (tests that forge or check them). */
  plannerKeys?: PlannerKeys;
  log?: Logger;
}

export interface Cluster {
  brokerUrl: string;
  broker: BrokerHandle | undefined;
  planners: PlannerService[];
  devices: Map<string, Device>;
  dataDir: string;
  client(origin: string, options?: Partial<Parameters<typeof JobClient.connect>[0]>): Promise<JobClient>;
  /** The login of a user when the cluster has auth. */
  login(user: string): { username?: string; password?: string };
  /** Resolves when every planner sees every device online (with its profile, when profiled). */
  ready(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export const TEST_DATA_DIR = process.env['EDGEWEAVE_TEST_DATA_DIR'] ?? join(process.cwd(), '.edgeweave');

export function testLog(): Logger {
  return pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' }, pino.destination(2));
}

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const log = options.log ?? testLog();
  let auth: AuthFile | null = null;
  if (options.auth) {
    const { emptyAuthFile, withUser, hashPassword } = await import('../../broker/index.ts');
    const fast = { N: 1024, r: 8, p: 1 };
    auth = emptyAuthFile();
    const users: Array<[string, 'device' | 'planner' | 'observer' | 'admin']> = [
      ...options.devices.map((d): [string, 'device'] => [d.id, 'device']),
      ...Array.from({ length: options.planners ?? 1 }, (_, i): [string, 'planner'] => [`p${i + 1}`, 'planner']),
      ...(options.auth.extraUsers ?? []).map((u): [string, 'device' | 'planner' | 'observer' | 'admin'] => [u, options.auth?.roles?.[u] ?? 'device']),
    ];
    for (const [user, role] of users) auth = withUser(auth, user, role, await hashPassword(`${user}-pw`, fast));
  }
  const login = (user: string): { username?: string; password?: string } => (auth ? { username: user, password: `${user}-pw` } : {});
  const broker = options.brokerUrl ? undefined : await startBroker({ port: 0, wsPort: options.wsPort ?? null, log, auth, ...(options.maxPayloadBytes ? { maxPayloadBytes: options.maxPayloadBytes } : {}) });
  const brokerUrl = options.brokerUrl ?? broker!.url;
  const dataDir = mkdtempSync(join(tmpdir(), 'edgeweave-test-'));
  const planners: PlannerService[] = [];
  const clients: JobClient[] = [];
  const devices = new Map<string, Device>();
  const cluster: Cluster = {
    brokerUrl, broker, planners, devices, dataDir,
    login,
    async client(origin, extra = {}) {
      const c = await JobClient.connect({ brokerUrl, origin, log, ...login(origin), ...extra });
      clients.push(c);
      return c;
    },
    async ready(timeoutMs = 60_000) {
      const want = options.devices.map((d) => d.id);
      await withTimeout((async () => {
        for (;;) {
          const now = Date.now();
          const ok = planners.every((p) => want.every((id) => {
            const rec = p.registry.get(id);
            if (!rec || !p.registry.isAlive(rec, now)) return false;
            const setup = options.devices.find((d) => d.id === id)!;
            return setup.profile === false || (rec.profile?.models.length ?? 0) >= (setup.models ?? ['chain']).length;
          }));
          if (ok) return;
          await new Promise((r) => setTimeout(r, 50));
        }
      })(), timeoutMs, () => 'waiting for the devices to come online');
    },
    async close() {
      await Promise.allSettled(clients.map((c) => c.close()));
      await Promise.allSettled([...devices.values()].map((d) => d.stop()));
      await Promise.allSettled(planners.map((p) => p.stop()));
      await broker?.close();
    },
  };
  try {
    for (let i = 0; i < (options.planners ?? 1); i++) {
      const p = new PlannerService({ id: `p${i + 1}`, brokerUrl, algorithm: options.algorithm ?? 'auto', log, ...login(`p${i + 1}`), ...(options.plannerKeys ? { keys: options.plannerKeys } : {}) });
      await p.start();
      planners.push(p);
    }
    for (const d of options.devices) {
      const config: DeviceConfig = {
        ...login(d.id),
        id: d.id, role: d.role, brokerUrl: options.deviceBrokerUrl?.(d.id) ?? brokerUrl, speed: d.speed ?? 1, memoryBytes: (d.memoryMiB ?? 8192) * 2 ** 20, workers: d.workers ?? 1,
        models: d.models ?? ['chain'], dataSources: new Map(Object.entries(d.data ?? {})), dataDir: TEST_DATA_DIR,
        cacheDir: join(TEST_DATA_DIR, 'models'), heartbeatMs: 1000, profile: d.profile ?? true, profileLayers: false, profileRuns: 2, version: 'test',
      };
      if (d.link) config.link = d.link;
      if (d.tracePath) config.tracePath = d.tracePath;
      const device = new Device(config, log.child({ deviceId: d.id }));
      await device.start();
      devices.set(d.id, device);
    }
  } catch (err) {
    await cluster.close();
    throw err;
  }
  return cluster;
}
