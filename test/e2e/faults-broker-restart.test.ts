import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, testLog, type Cluster } from '../support/cluster.ts';
import { connectClient, subscribe } from '../support/mqtt.ts';
import { redisMissing, startRedis, type RedisHandle } from '../support/redis.ts';
import { freePort } from '../support/ports.ts';
import { startBroker, type BrokerHandle } from '../../broker/index.ts';
import { getTaskGraph } from '../../models/task-graph.ts';
import { buildJobInputs } from '../../node-runtime/job-inputs.ts';
import { DeviceStatus, DeviceState, JobStatus } from '../../schemas/generated/edgeweave.ts';
import { topics } from '../../schemas/topics.ts';

const JOBS = 50;
const missing = redisMissing();

describe('faults — the broker restarts (sessions in Redis)', { skip: missing ?? false }, () => {
  let redis: RedisHandle;
  let broker: BrokerHandle;
  let cluster: Cluster;
  let port: number;
  const log = testLog();
  const start = async (): Promise<BrokerHandle> => startBroker({ port, wsPort: null, log, persistence: { kind: 'redis', url: redis.url } });

  before(async () => {
    redis = await startRedis();
    port = await freePort();
    broker = await start();
    cluster = await startCluster({
      brokerUrl: broker.url,
      devices: [{ id: 'car1', role: 'iot', models: ['chain', 'mobilenetv2'] }, { id: 'edge1', role: 'edge', models: ['chain', 'mobilenetv2'] }],
    });
    await cluster.ready();
  });

  after(async () => {
    await cluster?.close();
    await broker?.close();
    await redis?.stop();
  });

  test('faults — retained statuses and queued QoS 1 messages survive a restart', async () => {
    // A persistent subscriber goes away; three messages are queued for it; the broker restarts.
    const sub = await connectClient(broker.url, { clientId: 'admin-sub', clean: false });
    await subscribe(sub.client, 'edgeweave/v1/debug/queued', 1);
    await sub.client.endAsync();
    const pub = await connectClient(broker.url, { clientId: 'admin-pub' });
    for (let i = 0; i < 3; i++) await pub.client.publishAsync('edgeweave/v1/debug/queued', `m${i}`, { qos: 1 });
    await pub.client.endAsync();
    await broker.close();
    broker = await start();
    const back = await connectClient(broker.url, { clientId: 'admin-sub', clean: false });
    await back.inbox.waitForCount(3, 10_000);
    assert.deepEqual(back.inbox.texts(), ['m0', 'm1', 'm2']);
    await back.client.endAsync();
    // A fresh subscriber finds the devices' retained statuses.
    const fresh = await connectClient(broker.url, { clientId: 'admin-fresh' });
    await subscribe(fresh.client, topics.deviceStatus('edge1'), 1);
    await fresh.inbox.waitUntil((ms) => ms.some((m) => DeviceStatus.decode(m.payload).state === DeviceState.DEVICE_STATE_ONLINE), 'a retained ONLINE status', 10_000);
    await fresh.client.endAsync();
  });

  test(`faults — ${JOBS} jobs across a broker restart: 0 lost`, async () => {
    const graph = await getTaskGraph('mobilenetv2', { fused: true });
    const inputs = await buildJobInputs(graph, ['pixels:2']);
    await cluster.ready(); // after the first test's restart
    const client = await cluster.client('car1', { retryAfterMs: 2000 });
    let done = 0;
    const outcomes = Array.from({ length: JOBS }, (_, i) => client.submit({ jobId: `r-${i}`, model: { name: 'mobilenetv2' }, inputs, fused: true, algorithm: i % 2 ? 'edge' : 'auto', timeoutMs: 90_000 })
      .then((o) => { done++; return o; }));
    while (done < 10) await new Promise((r) => setTimeout(r, 20));
    await broker.close();
    await new Promise((r) => setTimeout(r, 500));
    broker = await start();
    const results = await Promise.all(outcomes);
    const lost = results.filter((o) => o.result.status !== JobStatus.JOB_STATUS_OK).map((o) => `${o.result.jobId}: ${o.result.error?.code} ${o.result.error?.message}`);
    assert.deepEqual(lost, [], 'every job completed');
    assert.ok(done === JOBS);
  });
});
