import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, type Cluster } from '../support/cluster.ts';
import { startProxy, type LinkProxy } from '../support/proxy.ts';
import { startBroker, type BrokerHandle } from '../../broker/index.ts';
import { testLog } from '../support/cluster.ts';
import { getTaskGraph } from '../../models/task-graph.ts';
import { buildJobInputs } from '../../node-runtime/job-inputs.ts';
import { JobStatus, type JobInputInit } from '../../schemas/generated/edgeweave.ts';

const OUTAGE_MS = 10_000;

describe('faults — the car\'s link drops for 10 s', () => {
  let broker: BrokerHandle;
  let proxy: LinkProxy;
  let cluster: Cluster;
  let inputs: JobInputInit[];

  before(async () => {
    broker = await startBroker({ port: 0, wsPort: null, log: testLog() });
    proxy = await startProxy(broker.url);
    cluster = await startCluster({
      brokerUrl: broker.url,
      // The car reaches the broker only through the proxy; the others directly.
      deviceBrokerUrl: (id) => (id === 'car1' ? proxy.url : undefined),
      devices: [
        { id: 'car1', role: 'iot', speed: 0.5, models: ['chain'] },
        { id: 'edge1', role: 'edge', models: ['chain'] },
      ],
    });
    await cluster.ready();
    inputs = await buildJobInputs(await getTaskGraph('chain', { fused: true }), ['random:3']);
  });

  after(async () => {
    await cluster?.close();
    await proxy?.close();
    await broker?.close();
  });

  test('faults — work queued during the outage is delivered after it; fallback jobs run locally; the car is offline and back', async () => {
    const client = await cluster.client('car1', { brokerUrl: proxy.url, retryAfterMs: 3000 });
    const planner = cluster.planners[0]!;
    const warm = await client.submit({ model: { name: 'chain' }, inputs, fused: true, algorithm: 'edge', timeoutMs: 20_000 });
    assert.equal(warm.result.status, JobStatus.JOB_STATUS_OK);

    const inFlight = client.submit({ jobId: 'in-flight', model: { name: 'chain' }, inputs, fused: true, algorithm: 'edge', timeoutMs: 60_000 });
    const outage = proxy.cut(OUTAGE_MS);
    // The planner sees the car go offline (its last will) while the link is down.
    const offlineSeen = (async () => {
      while (planner.registry.aliveIds(Date.now()).includes('car1')) await new Promise((r) => setTimeout(r, 50));
      return Date.now();
    })();
    await new Promise((r) => setTimeout(r, 200));
    const queued = client.submit({ jobId: 'queued', model: { name: 'chain' }, inputs, fused: true, algorithm: 'edge', timeoutMs: 60_000 });
    const local = await client.submit({ jobId: 'local', model: { name: 'chain' }, inputs, fused: true, algorithm: 'edge', fallbackLocal: true, timeoutMs: 60_000 });
    assert.equal(local.result.status, JobStatus.JOB_STATUS_OK, 'a job that may run locally does so at once');
    assert.equal(local.result.ranLocally, true);
    const wentOffline = await offlineSeen;
    await outage;
    assert.ok(wentOffline < Date.now(), 'the car was seen offline during the outage');
    // Back online, and everything queued comes through.
    const [a, b] = await Promise.all([inFlight, queued]);
    assert.equal(a.result.status, JobStatus.JOB_STATUS_OK, `in flight: ${a.result.error?.message}`);
    assert.equal(b.result.status, JobStatus.JOB_STATUS_OK, `queued: ${b.result.error?.message}`);
    while (!planner.registry.aliveIds(Date.now()).includes('car1')) await new Promise((r) => setTimeout(r, 50));
    const after = await client.submit({ model: { name: 'chain' }, inputs, fused: true, algorithm: 'edge', timeoutMs: 20_000 });
    assert.equal(after.result.status, JobStatus.JOB_STATUS_OK);
    assert.ok(Object.values(after.result.placement).includes('car1'), 'the car is used again');
  });
});
