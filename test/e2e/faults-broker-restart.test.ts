import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, testLog, type Cluster } from '../support/cluster.ts';
import { closeClients, connectClient, subscribe, withTimeout, type ReceivedMessage, type TestClient } from '../support/mqtt.ts';
import { redisMissing, startRedis, type RedisHandle } from '../support/redis.ts';
import { freePort } from '../support/ports.ts';
import { censusSummary, resultCensus } from '../support/results.ts';
import { closeInOrder, SETUP_TIMEOUT_MS, TEARDOWN_TIMEOUT_MS } from '../support/wait.ts';
import { startBroker, type BrokerHandle } from '../../broker/index.ts';
import { getTaskGraph } from '../../models/task-graph.ts';
import { buildJobInputs } from '../../node-runtime/job-inputs.ts';
import type { JobOutcome } from '../../node-runtime/client.ts';
import type { PlannerService } from '../../planner/service.ts';
import { DeviceStatus, DeviceState, JobPlan, JobResult, JobStatus, StageReport, StageStatus } from '../../schemas/generated/edgeweave.ts';
import { filters, parseTopic, topics } from '../../schemas/topics.ts';

const JOBS = 50;
/** How long the broker stays down: an emulated restart takes this long (not a wait for an event). */
const DOWNTIME_MS = 500;
const missing = redisMissing();

const nameOf = (values: Record<string, number>, value: number, prefix: string): string =>
  Object.entries(values).find(([, v]) => v === value)?.[0].replace(prefix, '') ?? String(value);

/** What the watcher saw of one job: its plans (attempts), stage reports and results. */
function trafficOf(messages: readonly ReceivedMessage[], jobId: string): string {
  const plans: number[] = [];
  const reports: string[] = [];
  const results: string[] = [];
  for (const m of messages) {
    const t = parseTopic(m.topic);
    if (!t || !('jobId' in t) || t.jobId !== jobId) continue;
    try {
      if (t.kind === 'jobPlan') plans.push(JobPlan.decode(m.payload).attempt);
      else if (t.kind === 'jobReport') {
        const r = StageReport.decode(m.payload);
        reports.push(`${r.stageId}@${r.deviceId} ${nameOf(StageStatus, r.status, 'STAGE_STATUS_')} (attempt ${r.attempt})`);
      } else if (t.kind === 'jobResult') {
        const r = JobResult.decode(m.payload);
        results.push(`${nameOf(JobStatus, r.status, 'JOB_STATUS_')} (attempt ${r.attempt})`);
      }
    } catch {
      results.push('an undecodable payload');
    }
  }
  return `${jobId}: plans of attempts [${plans.join(', ')}], reports [${reports.join(', ')}], results [${results.join(', ')}]`;
}

/** What planner p1 knew of the devices and its jobs. */
function plannerKnowledge(planner: PlannerService, now = Date.now()): string {
  const devices = planner.registry.ids().map((id) => {
    const rec = planner.registry.get(id)!;
    return `${id} ${nameOf(DeviceState, rec.status.state, 'DEVICE_STATE_')}, last status ${((now - rec.seenAtMs) / 1000).toFixed(1)} s ago`;
  });
  return `alive [${planner.registry.aliveIds(now).join(', ')}], planned ${planner.planned}, re-planned ${planner.replanned}; devices: ${devices.join('; ')}`;
}

describe('faults — the broker restarts (sessions in Redis)', { skip: missing ?? false }, () => {
  let redis: RedisHandle | undefined;
  let broker: BrokerHandle | undefined;
  let cluster: Cluster | undefined;
  let watcher: TestClient | undefined;
  let port: number;
  const log = testLog();
  const start = async (): Promise<BrokerHandle> => withTimeout(
    startBroker({ port, wsPort: null, log, persistence: { kind: 'redis', url: redis!.url } }),
    30_000, `starting the embedded broker on port ${port} with its sessions in Redis at ${redis!.url}`);

  before(async () => {
    redis = await startRedis();
    port = await freePort();
    broker = await start();
    cluster = await startCluster({
      brokerUrl: broker.url,
      devices: [{ id: 'car1', role: 'iot', models: ['chain', 'mobilenetv2'] }, { id: 'edge1', role: 'edge', models: ['chain', 'mobilenetv2'] }],
    });
    await cluster.ready();
    // A raw watcher of the car's job topics with a persistent session that follows every restart.
    watcher = await connectClient(broker.url, { clientId: 'restart-watcher', clean: false, reconnectPeriod: 200 });
    watcher.client.on('error', () => undefined); // refused reconnects while the broker is down
    await subscribe(watcher.client, [filters.jobResults('car1'), filters.jobReports('car1'), filters.jobPlans('car1')], 1);
  }, { timeout: SETUP_TIMEOUT_MS });

  after(async () => {
    await closeInOrder('faults-broker-restart', [
      ['the watcher', watcher && (() => watcher!.client.endAsync(true))],
      ['the cluster', cluster && (() => cluster!.close()), 70_000],
      ['the broker', broker && (() => broker!.close())],
      ['redis-server', redis && (() => redis!.stop())],
    ]);
  }, { timeout: TEARDOWN_TIMEOUT_MS });

  test('faults — retained statuses and queued QoS 1 messages survive a restart', async (t) => {
    // A persistent subscriber goes away; three messages are queued for it; the broker restarts.
    const sub = await connectClient(broker!.url, { clientId: 'admin-sub', clean: false });
    t.after(() => closeClients(sub.client));
    await subscribe(sub.client, 'edgeweave/v1/debug/queued', 1);
    await sub.client.endAsync();
    const pub = await connectClient(broker!.url, { clientId: 'admin-pub' });
    t.after(() => closeClients(pub.client));
    for (let i = 0; i < 3; i++) await pub.client.publishAsync('edgeweave/v1/debug/queued', `m${i}`, { qos: 1 });
    await pub.client.endAsync();
    await withTimeout(broker!.close(), 10_000, 'closing the broker');
    broker = await start();
    const back = await connectClient(broker.url, { clientId: 'admin-sub', clean: false });
    t.after(() => closeClients(back.client));
    await back.inbox.waitForCount(3, 10_000);
    assert.deepEqual(back.inbox.texts(), ['m0', 'm1', 'm2']);
    // A fresh subscriber finds the devices' retained statuses.
    const fresh = await connectClient(broker.url, { clientId: 'admin-fresh' });
    t.after(() => closeClients(fresh.client));
    await subscribe(fresh.client, topics.deviceStatus('edge1'), 1);
    await fresh.inbox.waitUntil((ms) => ms.some((m) => DeviceStatus.decode(m.payload).state === DeviceState.DEVICE_STATE_ONLINE), 'a retained ONLINE status', 10_000);
  });

  test(`faults — ${JOBS} jobs across a broker restart: 0 lost`, { timeout: 360_000 }, async (t) => {
    const c = cluster!;
    const w = watcher!;
    const planner = c.planners[0]!;
    const graph = await getTaskGraph('mobilenetv2', { fused: true });
    const inputs = await buildJobInputs(graph, ['pixels:2']);
    await c.ready(); // after the first test's restart
    const client = await c.client('car1', { retryAfterMs: 2000 });
    let restartedAt = 0;
    let atRestart = 0;
    /** Snapshots taken a few seconds after the restart (by the time a job times out, things may look fine again). */
    const timeline: string[] = [];
    /** Everything the next failure needs: what the planner knew, the broker's $share groups, what reached the origin. */
    const diagnosis = (lostIds: readonly string[] = []): string => {
      const messages = w.inbox.messages;
      return [
        ...timeline,
        'at the end:',
        ...snapshot(),
        ...lostIds.slice(0, 12).map((id) => `  ${trafficOf(messages, id)}`),
        ...(lostIds.length > 12 ? [`  ... and ${lostIds.length - 12} more`] : []),
      ].join('\n');
    };
    const snapshot = (): string[] => {
      const messages = w.inbox.messages;
      const groups = broker!.sharedGroups().map((g) => `${g.group} (${g.filter}): ${g.members} members, ${g.connectedMembers} connected, ${g.queued} queued, ${g.inflight} in flight`);
      return [
        `planner p1: ${plannerKnowledge(planner)}`,
        `job client: ${client.resubmitted} resubmissions`,
        `broker $share groups: ${groups.join('; ') || 'none'}`,
        `watcher (${w.client.connected ? 'connected' : 'not connected'}): ${censusSummary(resultCensus(messages))}` +
          (restartedAt > 0 ? `; ${messages.length - atRestart} of its ${messages.length} messages came after the restart (${((Date.now() - restartedAt) / 1000).toFixed(1)} s ago)` : ''),
      ].map((line) => `  ${line}`);
    };
    let done = 0;
    let tenDone: () => void = () => undefined;
    const firstTen = new Promise<void>((resolve) => { tenDone = resolve; });
    const outcomes: Array<Promise<JobOutcome>> = Array.from({ length: JOBS }, (_, i) => client.submit({ jobId: `r-${i}`, model: { name: 'mobilenetv2' }, inputs, fused: true, algorithm: i % 2 ? 'edge' : 'auto', timeoutMs: 90_000 })
      .then((o) => { if (++done === 10) tenDone(); return o; }));
    await withTimeout(firstTen, 120_000, () => `10 of the ${JOBS} jobs completing before the restart (${done} done)\n${diagnosis()}`);
    const watcherDropped = new Promise<void>((resolve) => w.client.once('close', () => resolve()));
    await withTimeout(broker!.close(), 10_000, 'closing the broker');
    await withTimeout(watcherDropped, 5_000, 'the watcher seeing the broker go');
    await new Promise((r) => setTimeout(r, DOWNTIME_MS));
    broker = await start();
    restartedAt = Date.now();
    atRestart = w.inbox.messages.length;
    const snapshots = [5_000, 30_000].map((ms) => setTimeout(() => timeline.push(`${ms / 1000} s after the restart:`, ...snapshot()), ms));
    t.after(() => snapshots.forEach(clearTimeout));
    const results = await Promise.all(outcomes);
    const census = resultCensus(w.inbox.messages);
    t.diagnostic(`superseded results: ${census.superseded}`);
    const lost = results.filter((o) => o.result.status !== JobStatus.JOB_STATUS_OK);
    const lostIds = lost.map((o) => o.result.jobId);
    assert.deepEqual(lostIds, [], `every job completed; lost ${lost.length} of ${JOBS}: ` +
      `${lost.slice(0, 12).map((o) => `${o.result.jobId} ${o.result.error?.code} ${o.result.error?.message}`).join('; ')}\n${diagnosis(lostIds)}`);
    // And on the wire: an independent persistent session across the same restart saw every job's result.
    await w.inbox.waitUntil((ms) => resultCensus(ms).jobs === JOBS, () => `an OK result of each of the ${JOBS} jobs at the watcher\n${diagnosis()}`, 20_000);
  });
});
