import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCluster, TEST_DATA_DIR, type Cluster } from '../support/cluster.ts';
import { connectClient, subscribe, withTimeout, type TestClient } from '../support/mqtt.ts';
import { getTaskGraph } from '../../models/task-graph.ts';
import { buildJobInputs } from '../../node-runtime/job-inputs.ts';
import { JobResult, JobStatus } from '../../schemas/generated/edgeweave.ts';
import { filters } from '../../schemas/topics.ts';

const BIN = fileURLToPath(new URL('../../bin/edgeweave.js', import.meta.url));
const JOBS = 50;

describe('faults — a device dies mid-job', () => {
  let cluster: Cluster;
  let edge: ChildProcess;
  let watcher: TestClient;

  before(async () => {
    cluster = await startCluster({
      devices: [
        { id: 'car1', role: 'iot', speed: 0.2, link: { upBps: 50e6, downBps: 50e6, rttMs: 5 }, models: ['mobilenetv2'] },
        { id: 'cloud1', role: 'cloud', speed: 0.7, link: { upBps: 100e6, downBps: 100e6, rttMs: 10 }, models: ['mobilenetv2'] },
      ],
    });
    // The edge device runs as a process of its own, so it can be killed outright.
    edge = spawn(process.execPath, [BIN, 'node', '--id', 'edge1', '--role', 'edge', '--speed', '1', '--link', 'up=200,down=200,rtt=2',
      '--broker', cluster.brokerUrl, '--models', 'mobilenetv2', '--data-dir', TEST_DATA_DIR, '--heartbeat-ms', '1000'], {
      env: { ...process.env, EDGEWEAVE_CACHE_DIR: join(TEST_DATA_DIR, 'models'), EDGEWEAVE_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'ignore', 'inherit'],
    });
    await cluster.ready();
    const planner = cluster.planners[0]!;
    await withTimeout((async () => {
      while (!(planner.registry.get('edge1')?.profile && planner.registry.aliveIds(Date.now()).includes('edge1'))) await new Promise((r) => setTimeout(r, 50));
    })(), 90_000, 'edge1 online');
    watcher = await connectClient(cluster.brokerUrl, { clientId: 'death-watcher' });
    await subscribe(watcher.client, filters.jobResults('car1'), 1);
  });

  after(async () => {
    edge?.kill('SIGKILL');
    await watcher?.client.endAsync();
    await cluster?.close();
  });

  test(`faults — ${JOBS} jobs in flight, the edge device SIGKILLed: all complete, none twice`, async () => {
    const graph = await getTaskGraph('mobilenetv2', { fused: true });
    const inputs = await buildJobInputs(graph, ['pixels:9']);
    const client = await cluster.client('car1');
    const outcomes = Array.from({ length: JOBS }, (_, i) => client.submit({ jobId: `d-${i}`, model: { name: 'mobilenetv2' }, inputs, fused: true, algorithm: 'auto', timeoutMs: 120_000 }));
    // Kill the edge once it has work in hand and some jobs are done.
    await watcher.inbox.waitForCount(8, 60_000);
    const planned = cluster.planners[0]!.planned;
    edge.kill('SIGKILL');
    const results = await Promise.all(outcomes);
    const failed = results.filter((o) => o.result.status !== JobStatus.JOB_STATUS_OK).map((o) => `${o.result.jobId}: ${o.result.error?.message}`);
    assert.deepEqual(failed, [], 'every job completed');
    const replanned = cluster.planners[0]!.replanned;
    assert.ok(replanned > 0, `some jobs had work on edge1 and were planned again (planned ${planned} before the kill)`);
    assert.ok(results.some((o) => Object.values(o.result.placement).includes('edge1')), 'edge1 did take part before it died');
    // Exactly one result per job reached the origin.
    await new Promise((r) => setTimeout(r, 1500));
    const perJob = new Map<string, number>();
    for (const m of watcher.inbox.messages) {
      const r = JobResult.decode(m.payload);
      if (r.status === JobStatus.JOB_STATUS_OK) perJob.set(r.jobId, (perJob.get(r.jobId) ?? 0) + 1);
    }
    assert.equal(perJob.size, JOBS);
    const twice = [...perJob].filter(([, n]) => n > 1);
    assert.deepEqual(twice, [], 'no job had two results');
  });
});
