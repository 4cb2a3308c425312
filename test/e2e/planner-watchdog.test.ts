import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, testLog, type Cluster } from '../support/cluster.ts';
import { connectClient, subscribe, withTimeout, type TestClient } from '../support/mqtt.ts';
import { resultCensus } from '../support/results.ts';
import { TEARDOWN_TIMEOUT_MS, closeInOrder } from '../support/wait.ts';
import { PlannerService } from '../../planner/service.ts';
import { getTaskGraph } from '../../models/task-graph.ts';
import { buildJobInputs } from '../../node-runtime/job-inputs.ts';
import { DeviceProfile, DeviceState, DeviceStatus, JobStatus, type JobInputInit } from '../../schemas/generated/edgeweave.ts';
import { filters, topics } from '../../schemas/topics.ts';

const JOBS = 24;

describe('planner — the no-progress watchdog', () => {
  let cluster: Cluster;
  let planner: PlannerService;
  let watcher: TestClient;
  let inputs: JobInputInit[];

  before(async () => {
    // No planner from the cluster: this one judges quiet jobs after 2 x prediction + 300 ms.
    cluster = await startCluster({
      planners: 0,
      devices: [{ id: 'car1', role: 'iot', models: ['mobilenetv2'] }, { id: 'edge1', role: 'edge', speed: 0.5, models: ['mobilenetv2'] }],
    });
    planner = new PlannerService({ id: 'wd1', brokerUrl: cluster.brokerUrl, algorithm: 'auto', overrunMs: 300, log: testLog() });
    await planner.start();
    await withTimeout((async () => {
      for (;;) {
        const ok = ['car1', 'edge1'].every((id) => {
          const rec = planner.registry.get(id);
          return rec !== undefined && planner.registry.isAlive(rec, Date.now()) && (rec.profile?.models.length ?? 0) > 0;
        });
        if (ok) return;
        await new Promise((r) => setTimeout(r, 50));
      }
    })(), 120_000, () => `planner wd1 seeing car1 and edge1 online with profiles (alive: ${planner.registry.aliveIds(Date.now()).join(', ') || 'none'})`);
    inputs = await buildJobInputs(await getTaskGraph('mobilenetv2', { fused: true }), ['pixels:5']);
    watcher = await connectClient(cluster.brokerUrl, { clientId: 'watchdog-watcher' });
    await subscribe(watcher.client, filters.jobResults('car1'), 1);
  }, { timeout: 180_000 });

  after(async () => {
    await closeInOrder('planner watchdog', [
      ['the watcher', watcher && (() => watcher.client.endAsync(true))], ['planner wd1', planner && (() => planner.stop()), 10_000], ['the cluster', cluster && (() => cluster.close()), 60_000],
    ]);
  }, { timeout: TEARDOWN_TIMEOUT_MS });

  test(`planner — ${JOBS} jobs queued on one executor, far past their prediction, are not planned again`, async (t) => {
    const client = await cluster.client('car1');
    const replansBefore = planner.replanned;
    // All at once onto edge1's single executor: the last waits about JOBS stages, many times 2 x its prediction + 300 ms.
    const outcomes = await Promise.all(Array.from({ length: JOBS }, (_, i) =>
      client.submit({ jobId: `q-${i}`, model: { name: 'mobilenetv2' }, inputs, fused: true, algorithm: 'edge', timeoutMs: 120_000 })));
    assert.deepEqual(outcomes.filter((o) => o.result.status !== JobStatus.JOB_STATUS_OK).map((o) => o.result.error?.message), [], 'every job completed');
    const slowest = Math.max(...outcomes.map((o) => o.latencyMs));
    const predicted = Math.min(...outcomes.map((o) => o.result.predictedLatencyMs));
    t.diagnostic(`slowest job ${slowest.toFixed(0)} ms against a prediction of ${predicted.toFixed(0)} ms (watchdog limit ${(2 * predicted + 300).toFixed(0)} ms)`);
    assert.ok(slowest > 2 * predicted + 300, 'the queue outlasted the watchdog limit, so the test shows something');
    assert.equal(planner.replanned - replansBefore, 0, 'no job was planned again');
    assert.equal(client.resubmitted, 0, 'and the origin submitted none again');
    await watcher.inbox.waitUntil((ms) => resultCensus(ms).jobs === JOBS, 'a result of every job on the wire', 10_000);
    const census = resultCensus(watcher.inbox.messages);
    t.diagnostic(`superseded results: ${census.superseded}`);
    assert.deepEqual(census.duplicated, []);
  });

  test('planner — a job stuck on a device that never runs it is planned again, elsewhere', async (t) => {
    // ghost1 speaks the protocol as far as statuses and profiles go, claims to be ten times
    // faster than edge1, and never runs anything: a hung device, as the planner sees it.
    const edge = planner.registry.get('edge1')!;
    const ghost = await connectClient(cluster.brokerUrl, { clientId: 'ghost1' });
    // Its heartbeat goes on (a device whose executors hang still says it is ONLINE, holding nothing).
    let seq = 0;
    const status = (): Buffer => Buffer.from(DeviceStatus.encode({ ...edge.status, deviceId: 'ghost1', incarnation: 'ghost', speed: 5, sentAtMs: Date.now(), heartbeatMs: 500, seq: seq++, queuedStages: 0, load: 0 }));
    const heartbeat = setInterval(() => { void ghost.client.publishAsync(topics.deviceStatus('ghost1'), status(), { qos: 1, retain: true }).catch(() => undefined); }, 250);
    try {
      const profile = DeviceProfile.encode({
        ...edge.profile!, deviceId: 'ghost1',
        models: edge.profile!.models.map((m) => ({ ...m, tasks: m.tasks.map((x) => ({ ...x, latencyMs: x.latencyMs / 10 })) })),
      });
      await ghost.client.publishAsync(topics.deviceProfile('ghost1'), Buffer.from(profile), { qos: 1, retain: true });
      await ghost.client.publishAsync(topics.deviceStatus('ghost1'), status(), { qos: 1, retain: true });
      await withTimeout((async () => { while (!planner.registry.aliveIds(Date.now()).includes('ghost1')) await new Promise((r) => setTimeout(r, 20)); })(), 5_000, 'the planner seeing ghost1');
      const client = await cluster.client('car1');
      const replansBefore = planner.replanned;
      // 'edge' without edge1: ghost1 is the only edge there is, so the first attempt goes there.
      const outcome = await client.submit({ jobId: 'stuck-1', model: { name: 'mobilenetv2' }, inputs, fused: true, algorithm: 'edge', excludeDevices: ['edge1'], timeoutMs: 60_000 });
      t.diagnostic(`re-plans: ${planner.replanned - replansBefore}; ran on ${[...new Set(Object.values(outcome.result.placement))].join(', ')}`);
      assert.equal(outcome.result.status, JobStatus.JOB_STATUS_OK, outcome.result.error?.message);
      assert.ok(planner.replanned - replansBefore >= 1, 'the job was planned again');
      assert.ok(outcome.result.attempt > 1, 'the result is of a later attempt');
      assert.ok(!Object.values(outcome.result.placement).includes('ghost1'), 'and not on the device that hung');
      assert.ok(outcome.reports.some((r) => r.attempt === 1 && r.deviceId === 'car1'), 'the first attempt did start (on the car) and went no further');
    } finally {
      clearInterval(heartbeat);
      await ghost.client.publishAsync(topics.deviceStatus('ghost1'), Buffer.from(DeviceStatus.encode({ deviceId: 'ghost1', state: DeviceState.DEVICE_STATE_OFFLINE, incarnation: 'ghost' })), { qos: 1, retain: true }).catch(() => undefined);
      await ghost.client.publishAsync(topics.deviceStatus('ghost1'), Buffer.alloc(0), { qos: 1, retain: true }).catch(() => undefined);
      await ghost.client.publishAsync(topics.deviceProfile('ghost1'), Buffer.alloc(0), { qos: 1, retain: true }).catch(() => undefined);
      await ghost.client.endAsync(true);
    }
  });
});
