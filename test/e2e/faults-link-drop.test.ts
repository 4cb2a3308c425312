import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, testLog, type Cluster } from '../support/cluster.ts';
import { connectClient, subscribe, withTimeout, type TestClient } from '../support/mqtt.ts';
import { startProxy, type LinkProxy } from '../support/proxy.ts';
import { resultCensus } from '../support/results.ts';
import { closeInOrder, pollUntil, SETUP_TIMEOUT_MS, TEARDOWN_TIMEOUT_MS } from '../support/wait.ts';
import { startBroker, type BrokerHandle } from '../../broker/index.ts';
import { getTaskGraph } from '../../models/task-graph.ts';
import { buildJobInputs } from '../../node-runtime/job-inputs.ts';
import { JobStatus, type JobInputInit } from '../../schemas/generated/edgeweave.ts';
import { filters } from '../../schemas/topics.ts';

const OUTAGE_MS = 10_000;

describe('faults — the car\'s link drops for 10 s', () => {
  let broker: BrokerHandle | undefined;
  let proxy: LinkProxy | undefined;
  let cluster: Cluster | undefined;
  let watcher: TestClient | undefined;
  let inputs: JobInputInit[];

  before(async () => {
    broker = await withTimeout(startBroker({ port: 0, wsPort: null, log: testLog() }), 30_000, 'starting the embedded broker');
    proxy = await withTimeout(startProxy(broker.url), 10_000, `starting the link proxy in front of ${broker.url}`);
    const proxyUrl = proxy.url;
    cluster = await startCluster({
      brokerUrl: broker.url,
      // The car reaches the broker only through the proxy; the others directly.
      deviceBrokerUrl: (id) => (id === 'car1' ? proxyUrl : undefined),
      devices: [
        { id: 'car1', role: 'iot', speed: 0.5, models: ['chain'] },
        { id: 'edge1', role: 'edge', models: ['chain'] },
      ],
    });
    await cluster.ready();
    inputs = await buildJobInputs(await getTaskGraph('chain', { fused: true }), ['random:3']);
    // What reaches the car's result topics, seen from the broker's side of the link.
    watcher = await connectClient(broker.url, { clientId: 'link-watcher' });
    await subscribe(watcher.client, filters.jobResults('car1'), 1);
  }, { timeout: SETUP_TIMEOUT_MS });

  after(async () => {
    await closeInOrder('faults-link-drop', [
      ['the watcher', watcher && (() => watcher!.client.endAsync(true))],
      ['the cluster', cluster && (() => cluster!.close()), 70_000],
      ['the link proxy', proxy && (() => proxy!.close())],
      ['the broker', broker && (() => broker!.close())],
    ]);
  }, { timeout: TEARDOWN_TIMEOUT_MS });

  test('faults — work queued during the outage is delivered after it; fallback jobs run locally; the car is offline and back', async (t) => {
    const c = cluster!;
    const client = await c.client('car1', { brokerUrl: proxy!.url, retryAfterMs: 3000 });
    const planner = c.planners[0]!;
    const warm = await client.submit({ model: { name: 'chain' }, inputs, fused: true, algorithm: 'edge', timeoutMs: 20_000 });
    assert.equal(warm.result.status, JobStatus.JOB_STATUS_OK);

    const inFlight = client.submit({ jobId: 'in-flight', model: { name: 'chain' }, inputs, fused: true, algorithm: 'edge', timeoutMs: 60_000 });
    const cutAt = Date.now();
    // Resolves with the time the link is back.
    const outage = proxy!.cut(OUTAGE_MS).then(() => Date.now());
    // The planner sees the car go offline (its last will) while the link is down; the cut dropped
    // the job client's connection at the same moment, so what it submits from now on is queued.
    await pollUntil(() => !planner.registry.aliveIds(Date.now()).includes('car1'), 'planner p1 seeing car1 go offline once its link was cut', OUTAGE_MS + 5_000);
    const wentOffline = Date.now();
    const queued = client.submit({ jobId: 'queued', model: { name: 'chain' }, inputs, fused: true, algorithm: 'edge', timeoutMs: 60_000 });
    const local = await client.submit({ jobId: 'local', model: { name: 'chain' }, inputs, fused: true, algorithm: 'edge', fallbackLocal: true, timeoutMs: 60_000 });
    assert.equal(local.result.status, JobStatus.JOB_STATUS_OK, 'a job that may run locally does so at once');
    assert.equal(local.result.ranLocally, true);
    const backAt = await outage;
    t.diagnostic(`car1 seen offline ${wentOffline - cutAt} ms after the cut`);
    assert.ok(wentOffline < backAt, `the car was seen offline during the outage (${wentOffline - cutAt} ms after the cut, the link back after ${backAt - cutAt} ms)`);
    // Back online, and everything queued comes through.
    const [a, b] = await Promise.all([inFlight, queued]);
    assert.equal(a.result.status, JobStatus.JOB_STATUS_OK, `in flight: ${a.result.error?.message}`);
    assert.equal(b.result.status, JobStatus.JOB_STATUS_OK, `queued: ${b.result.error?.message}`);
    await pollUntil(() => planner.registry.aliveIds(Date.now()).includes('car1'), 'planner p1 seeing car1 online again after the outage', 30_000);
    const after = await client.submit({ model: { name: 'chain' }, inputs, fused: true, algorithm: 'edge', timeoutMs: 20_000 });
    assert.equal(after.result.status, JobStatus.JOB_STATUS_OK);
    assert.ok(Object.values(after.result.placement).includes('car1'), 'the car is used again');
    // The results of the four jobs that ran on the network (not the local one) reached the car's topics.
    const network = [warm, a, b, after].map((o) => o.result.jobId);
    await watcher!.inbox.waitUntil((ms) => resultCensus(ms).jobs >= network.length, `OK results of ${network.join(', ')} at the watcher`, 10_000);
    t.diagnostic(`superseded results: ${resultCensus(watcher!.inbox.messages).superseded}`);
  });
});
