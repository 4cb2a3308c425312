import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, testLog, type Cluster } from '../support/cluster.ts';
import { getTaskGraph } from '../../models/task-graph.ts';
import { buildJobInputs } from '../../node-runtime/job-inputs.ts';
import { PlannerService } from '../../planner/service.ts';
import { JobStatus, type JobInputInit } from '../../schemas/generated/edgeweave.ts';

describe('faults — the planner dies', () => {
  let cluster: Cluster;
  let inputs: JobInputInit[];
  const extra: PlannerService[] = [];

  before(async () => {
    cluster = await startCluster({ planners: 2, devices: [{ id: 'car1', role: 'iot', models: ['chain'] }, { id: 'edge1', role: 'edge', models: ['chain'] }] });
    await cluster.ready();
    inputs = await buildJobInputs(await getTaskGraph('chain', { fused: true }), ['random:1']);
  });

  after(async () => {
    await Promise.allSettled(extra.map((p) => p.stop()));
    await cluster?.close();
  });

  test('faults — when one planner crashes, the other takes new jobs at once', async () => {
    const [p1, p2] = cluster.planners as [PlannerService, PlannerService];
    await p1.kill();
    const before = p2.planned;
    const client = await cluster.client('car1');
    const started = Date.now();
    const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) => client.submit({ jobId: `one-left-${i}`, model: { name: 'chain' }, inputs, fused: true, timeoutMs: 30_000 })));
    assert.ok(outcomes.every((o) => o.result.status === JobStatus.JOB_STATUS_OK));
    assert.equal(p2.planned - before, 20, 'the surviving planner planned them all');
    assert.ok(Date.now() - started < 10_000, 'without waiting for a timeout');
  });

  test('faults — jobs submitted while no planner runs wait, and are planned when one returns', async () => {
    const p2 = cluster.planners[1]!;
    await p2.kill();
    const client = await cluster.client('car1');
    const pending = Array.from({ length: 5 }, (_, i) => client.submit({ jobId: `waiting-${i}`, model: { name: 'chain' }, inputs, fused: true, timeoutMs: 60_000 }));
    await new Promise((r) => setTimeout(r, 1500));
    // The planner comes back under its own id: its persistent session holds what was queued.
    const back = new PlannerService({ id: 'p2', brokerUrl: cluster.brokerUrl, algorithm: 'auto', log: testLog() });
    extra.push(back);
    await back.start();
    const outcomes = await Promise.all(pending);
    assert.deepEqual(outcomes.map((o) => o.result.status), Array(5).fill(JobStatus.JOB_STATUS_OK));
    assert.ok(back.planned >= 5, `the returning planner planned the waiting jobs (${back.planned})`);
  });

  test('faults — with no planner at all, a job gives up at its deadline: a timeout, or a local run where allowed', async () => {
    for (const p of extra) await p.kill();
    const client = await cluster.client('car1', { retryAfterMs: 400 });
    const started = Date.now();
    const [timedOut, local] = await Promise.all([
      client.submit({ jobId: 'no-planner-1', model: { name: 'chain' }, inputs, fused: true, timeoutMs: 2000 }),
      client.submit({ jobId: 'no-planner-2', model: { name: 'chain' }, inputs, fused: true, timeoutMs: 2000, fallbackLocal: true }),
    ]);
    assert.equal(timedOut.result.status, JobStatus.JOB_STATUS_TIMEOUT);
    assert.equal(timedOut.result.error?.code, 'E_TIMEOUT');
    assert.equal(local.result.status, JobStatus.JOB_STATUS_OK);
    assert.equal(local.result.ranLocally, true);
    assert.equal(local.result.outputs.length, 1);
    assert.ok(Date.now() - started < 8000, 'never waits forever');
  });
});
