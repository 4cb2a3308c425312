import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { startCluster, type Cluster } from '../support/cluster.ts';
import { closeClients, connectClient, connectRefused, subscribe, type TestClient } from '../support/mqtt.ts';
import { censusSummary, resultCensus } from '../support/results.ts';
import { closeInOrder, SETUP_TIMEOUT_MS, TEARDOWN_TIMEOUT_MS } from '../support/wait.ts';
import { getTaskGraph } from '../../models/task-graph.ts';
import { buildJobInputs } from '../../node-runtime/job-inputs.ts';
import { Assignment, JobResult, JobStatus, StageInput, StageReport, StageStatus, Tensor } from '../../schemas/generated/edgeweave.ts';
import { topics, filters } from '../../schemas/topics.ts';
import { encodeTensor } from '../../schemas/tensor-codec.ts';

/** A logger that keeps every record, to find the refusals in. */
function capture(): { log: pino.Logger; records: Array<Record<string, unknown>> } {
  const records: Array<Record<string, unknown>> = [];
  const stream = { write: (line: string) => { records.push(JSON.parse(line) as Record<string, unknown>); } };
  return { log: pino({ level: 'info' }, stream), records };
}

function hasRefusal(records: Array<Record<string, unknown>>, code: string): boolean {
  return records.some((r) => r['code'] === code || (r['err'] as { code?: string } | undefined)?.code === code);
}

describe('security — a hostile device on a broker with --auth', () => {
  let cluster: Cluster;
  let mallory: TestClient;
  /** The admin's view of car1's results, to count them on the wire. */
  let results: TestClient;
  const logs = capture();

  before(async () => {
    cluster = await startCluster({
      log: logs.log,
      auth: { extraUsers: ['mallory', 'root'], roles: { root: 'admin' } },
      devices: [
        { id: 'car1', role: 'iot', models: ['chain'] },
        { id: 'edge1', role: 'edge', models: ['chain'] },
      ],
    });
    await cluster.ready();
    mallory = await connectClient(cluster.brokerUrl, { clientId: 'mallory', ...cluster.login('mallory') });
    results = await connectClient(cluster.brokerUrl, { clientId: 'root.results', ...cluster.login('root') });
    await subscribe(results.client, filters.jobResults('car1'), 1);
  }, { timeout: SETUP_TIMEOUT_MS });

  after(async () => {
    await closeInOrder('faults-hostile', [
      ['mallory', mallory && (() => mallory.client.endAsync(true))],
      ['the results watcher', results && (() => results.client.endAsync(true))],
      ['the cluster', cluster && (() => cluster.close()), 70_000],
    ]);
  }, { timeout: TEARDOWN_TIMEOUT_MS });

  test('security — an unauthenticated client is refused', async () => {
    assert.equal((await connectRefused(cluster.brokerUrl, { clientId: 'anon' })).code, 4);
    assert.equal((await connectRefused(cluster.brokerUrl, { clientId: 'car1.x', username: 'car1', password: 'guess' })).code, 4);
  });

  test('security — a device cannot read another device\'s inbox or assignments, nor others\' results', async () => {
    for (const filter of [topics.deviceInbox('edge1'), filters.sharedDeviceInbox('edge1'), topics.deviceAssign('car1'), topics.workerInbox('edge1', 'w0'), filters.jobResults('car1')]) {
      assert.deepEqual(await subscribe(mallory.client, filter, 1), [128], `refused: ${filter}`);
    }
  });

  test('security — a device cannot publish assignments or a planner\'s status', async (t) => {
    const watcher = await connectClient(cluster.brokerUrl, { clientId: 'root.watch', ...cluster.login('root') });
    t.after(() => closeClients(watcher.client));
    await subscribe(watcher.client, [topics.deviceAssign('edge1').replace('edge1', '+'), 'edgeweave/v1/planners/+/status'], 1);
    const before = watcher.inbox.messages.length;
    await mallory.client.publishAsync(topics.deviceAssign('edge1'), Buffer.from(Assignment.encode({ jobId: 'x', attempt: 1, deviceId: 'edge1', cancel: true })), { qos: 1 });
    await mallory.client.publishAsync(topics.plannerStatus('p1'), Buffer.from('evil'), { qos: 1 });
    // A marker the watcher may see proves the broker processed mallory's publishes in order.
    await watcher.client.publishAsync(topics.deviceAssign('car1'), Buffer.from(Assignment.encode({ jobId: 'marker', attempt: 1 })), { qos: 1 });
    await watcher.inbox.waitUntil((ms) => ms.slice(before).some((m) => m.topic === topics.deviceAssign('car1')), 'the marker');
    const seen = watcher.inbox.messages.slice(before);
    assert.ok(!seen.some((m) => m.topic === topics.plannerStatus('p1') && m.payload.toString() === 'evil'), 'mallory\'s planner status was dropped');
    assert.ok(!seen.some((m) => m.topic === topics.deviceAssign('edge1') && Assignment.decode(m.payload).jobId === 'x'), 'mallory\'s assignment was dropped');
    assert.ok(hasRefusal(logs.records, 'E_ACL'), 'the refusals are logged');
  });

  test('security — an injected stage input without the job\'s capability is refused; a forged result is ignored', async (t) => {
    const graph = await getTaskGraph('chain', { fused: true });
    const inputs = await buildJobInputs(graph, ['random:1']);
    const client = await cluster.client('car1');
    // A real job: its plan names the stages.
    const outcome = await client.submit({ jobId: 'real-1', model: { name: 'chain' }, inputs, fused: true, algorithm: 'edge', timeoutMs: 20_000 });
    assert.equal(outcome.result.status, JobStatus.JOB_STATUS_OK);
    const plan = outcome.plan!;
    const edgeStage = plan.stages.find((s) => s.deviceId === 'edge1')!;
    // Mallory replays the plan with its own tensor and no (or a made-up) capability.
    const bogus = Tensor.create(encodeTensor({ dtype: 'float32', shape: [1, 1], values: new Float32Array([1]) }, { name: edgeStage.inputs[0]!.tensor }));
    const reportWatcher = await connectClient(cluster.brokerUrl, { clientId: 'car1.reports', ...cluster.login('car1') });
    t.after(() => closeClients(reportWatcher.client));
    await subscribe(reportWatcher.client, filters.jobReports('car1'), 1);
    for (const capability of [new Uint8Array(0), new Uint8Array(64).fill(7)]) {
      const payload = StageInput.encode({ jobId: 'real-1', attempt: plan.attempt, stageId: edgeStage.stageId, plan, tensors: [bogus], fromDevice: 'car1', fromStage: edgeStage.inputs[0]!.fromStage, capability });
      await mallory.client.publishAsync(topics.deviceInbox('edge1'), Buffer.from(payload), { qos: 1 });
    }
    await reportWatcher.inbox.waitUntil((ms) => ms.filter((m) => StageReport.decode(m.payload).status === StageStatus.STAGE_STATUS_REJECTED).length >= 2, 'two rejections');
    const rejections = reportWatcher.inbox.messages.map((m) => StageReport.decode(m.payload)).filter((r) => r.status === StageStatus.STAGE_STATUS_REJECTED);
    assert.ok(rejections.every((r) => r.error?.code === 'E_CAPABILITY'));
    assert.ok(hasRefusal(logs.records, 'E_CAPABILITY'), 'the refusal is logged');

    // A forged result for a job car1 is waiting for: the origin refuses it and takes the real one.
    const pending = client.submit({ jobId: 'real-2', model: { name: 'chain' }, inputs, fused: true, algorithm: 'edge', timeoutMs: 20_000 });
    const forged = JobResult.encode({ jobId: 'real-2', attempt: 1, status: JobStatus.JOB_STATUS_FAILED, error: { code: 'E_EXECUTION', message: 'forged' }, capability: new Uint8Array(64) });
    await mallory.client.publishAsync(topics.jobResult('car1', 'real-2'), Buffer.from(forged), { qos: 1 });
    const real = await pending;
    assert.equal(real.result.status, JobStatus.JOB_STATUS_OK, 'the forged failure did not win');
    // Both real jobs' OK results on the wire (the forged one is a failure, not counted).
    await results.inbox.waitUntil((ms) => resultCensus(ms).jobs === 2, () => `OK results of real-1 and real-2 at the watcher (${censusSummary(resultCensus(results.inbox.messages))})`, 10_000);
    t.diagnostic(`superseded results: ${resultCensus(results.inbox.messages).superseded}`);
  });
});
