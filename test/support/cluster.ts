/**
 * A whole edgeweave system in one test process: the embedded broker on port 0 (or a given
 * broker URL), planners, and devices (each with its real executors and MQTT clients). Devices
 * with `workers > 1` fork real worker processes. Every start, wait and close is bounded; a
 * failing one says which part (which planner, which device, and why).
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
import { DeviceState } from '../../schemas/generated/edgeweave.ts';
import { withTimeout } from './mqtt.ts';
import { closeTogether, pollUntil } from './wait.ts';

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
  /** false: the device offers no local socket (programs hand it job data over MQTT). */
  localSocket?: false;
  compute?: 'real' | 'virtual';
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
  /** Planners send each plan with the job's task DAG (PlannerServiceOptions.planDag). */
  planDag?: boolean;
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
  /**
   * Resolves when every planner sees every device alive (with a profile of each of its models,
   * when profiled); on timeout says which planner lacks which device, and why.
   */
  ready(timeoutMs?: number): Promise<void>;
  /** Closes clients, devices, planners and the broker, each bounded; logs what did not close. Idempotent. */
  close(): Promise<void>;
}

export const TEST_DATA_DIR = process.env['EDGEWEAVE_TEST_DATA_DIR'] ?? join(process.cwd(), '.edgeweave');

export function testLog(): Logger {
  return pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' }, pino.destination(2));
}

/** A device a planner must see: alive, and with a profile of each of `models` (none: no profile needed). */
export interface DeviceWant {
  id: string;
  models: readonly string[];
}

/** What a planner knows of the devices (its registry), under a name for messages. */
export interface PlannerView {
  name: string;
  registry: PlannerService['registry'];
}

const STATE_NAMES = new Map<number, string>(Object.entries(DeviceState).map(([name, value]) => [value, name.replace('DEVICE_STATE_', '')]));

/** Why `want` is not ready in `registry` at `nowMs`, or undefined when it is. */
export function deviceNotReady(registry: PlannerService['registry'], want: DeviceWant, nowMs: number): string | undefined {
  const rec = registry.get(want.id);
  if (!rec) return `${want.id} not seen (no status received)`;
  if (!registry.isAlive(rec, nowMs)) {
    const state = STATE_NAMES.get(rec.status.state) ?? String(rec.status.state);
    return `${want.id} not alive (state ${state}, last status ${((nowMs - rec.seenAtMs) / 1000).toFixed(1)} s ago, heartbeat ${rec.status.heartbeatMs} ms)`;
  }
  if (want.models.length === 0) return undefined;
  if (!rec.profile) return `${want.id} has no profile yet (wants ${want.models.join(', ')})`;
  const have = rec.profile.models.map((m) => m.model?.name ?? '?');
  // Models given by path are known by the id and hash the device announces for them.
  const held = rec.status.modelRefs;
  if (held.length < want.models.length - rec.status.modelProblems.length) return `${want.id} announces ${held.length} of its ${want.models.length} models`;
  const missing = held.filter((r) => !rec.profile!.models.some((m) => m.model?.sha256 === r.sha256)).map((r) => r.name);
  return missing.length > 0 ? `${want.id}'s profile lacks ${missing.join(', ')} (has ${have.join(', ') || 'no model'})` : undefined;
}

/** Every planner's view of every wanted device that is not ready, one line per planner. */
export function devicesNotReady(planners: readonly PlannerView[], wants: readonly DeviceWant[], nowMs = Date.now()): string[] {
  return planners.flatMap((p) => {
    const problems = wants.map((w) => deviceNotReady(p.registry, w, nowMs)).filter((x): x is string => x !== undefined);
    return problems.length > 0 ? [`planner ${p.name}: ${problems.join('; ')}`] : [];
  });
}

/**
 * Resolves when every planner sees every wanted device ready. The registry has no event to
 * await, so this polls it (every 50 ms), bounded by `timeoutMs`.
 */
export async function waitForDevices(planners: readonly PlannerView[], wants: readonly DeviceWant[], timeoutMs: number): Promise<void> {
  await pollUntil(
    () => devicesNotReady(planners, wants).length === 0,
    () => `waiting for the devices to be ready:\n  ${devicesNotReady(planners, wants).join('\n  ')}`,
    timeoutMs,
  );
}

/** Bounds on starting the parts of a cluster (a device loads and profiles its models while starting). */
const BROKER_START_TIMEOUT_MS = 30_000;
const PLANNER_START_TIMEOUT_MS = 30_000;
const DEVICE_START_TIMEOUT_MS = 120_000;

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
  const broker = options.brokerUrl ? undefined : await withTimeout(
    startBroker({ port: 0, wsPort: options.wsPort ?? null, log, auth, ...(options.maxPayloadBytes ? { maxPayloadBytes: options.maxPayloadBytes } : {}) }),
    BROKER_START_TIMEOUT_MS, 'starting the embedded broker');
  const brokerUrl = options.brokerUrl ?? broker!.url;
  const dataDir = mkdtempSync(join(tmpdir(), 'edgeweave-test-'));
  const planners: PlannerService[] = [];
  const clients: JobClient[] = [];
  const devices = new Map<string, Device>();
  const plannerNames = new WeakMap<PlannerService, string>();
  const views = (): PlannerView[] => planners.map((p, i) => ({ name: plannerNames.get(p) ?? `planners[${i}]`, registry: p.registry }));
  let closing: Promise<void> | undefined;
  const cluster: Cluster = {
    brokerUrl, broker, planners, devices, dataDir,
    login,
    async client(origin, extra = {}) {
      const c = await JobClient.connect({ brokerUrl, origin, log, ...login(origin), ...extra });
      clients.push(c);
      return c;
    },
    async ready(timeoutMs = 120_000) {
      await waitForDevices(views(), options.devices.map((d) => ({ id: d.id, models: d.profile === false ? [] : (d.models ?? ['chain']) })), timeoutMs);
    },
    close() {
      closing ??= (async () => {
        // Clients first (they end their sessions), then devices (their executors finish and they say
        // OFFLINE while the broker is there), then planners, then the broker. Each part is bounded.
        await closeTogether('cluster', clients.map((c, i) => [`job client ${i} of ${c.origin}`, () => c.close(), 10_000] as const));
        await closeTogether('cluster', [...devices].map(([id, d]) => [`device ${id}`, () => d.stop(), 20_000] as const));
        await closeTogether('cluster', views().map((v, i) => [`planner ${v.name}`, () => planners[i]!.stop(), 10_000] as const));
        await closeTogether('cluster', [[`embedded broker ${brokerUrl}`, broker && (() => broker.close()), 10_000]]);
      })();
      return closing;
    },
  };
  try {
    for (let i = 0; i < (options.planners ?? 1); i++) {
      const id = `p${i + 1}`;
      const p = new PlannerService({ id, brokerUrl, algorithm: options.algorithm ?? 'auto', log, ...login(id), planDag: options.planDag ?? false, ...(options.plannerKeys ? { keys: options.plannerKeys } : {}) });
      plannerNames.set(p, id);
      planners.push(p); // before it starts, so a failed start is still closed
      await withTimeout(p.start(), PLANNER_START_TIMEOUT_MS, `starting planner ${id} (connecting to ${brokerUrl} and subscribing)`);
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
      if (d.localSocket === false) config.localSocket = false;
      if (d.compute) config.compute = d.compute;
      const device = new Device(config, log.child({ deviceId: d.id }));
      devices.set(d.id, device); // before it starts, so a failed start is still stopped
      await withTimeout(device.start(), DEVICE_START_TIMEOUT_MS,
        `starting device ${d.id} (connecting to ${config.brokerUrl}, starting ${config.workers} executor(s) with ${config.models.join(', ')})`);
    }
  } catch (err) {
    await cluster.close();
    throw err;
  }
  return cluster;
}
