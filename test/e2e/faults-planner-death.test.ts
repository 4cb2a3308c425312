import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, testLog, type Cluster } from '../support/cluster.ts';
import { connectClient, subscribe, withTimeout, type TestClient } from '../support/mqtt.ts';
import { resultCensus } from '../support/results.ts';
import { closeInOrder, closeTogether, SETUP_TIMEOUT_MS, TEARDOWN_TIMEOUT_MS } from '../support/wait.ts';
import { getTaskGraph } from '../../models/task-graph.ts';
import { buildJobInputs } from '../../node-runtime/job-inputs.ts';
import { PlannerService } from '../../planner/service.ts';
import { JobRequest, JobStatus, type JobInputInit } from '../../schemas/generated/edgeweave.ts';
import { filters, topics } from '../../schemas/topics.ts';

describe('faults — the planner dies', () => {
  let cluster: Cluster | undefined;
  let watcher: TestClient | undefined;
  let inputs: JobInputInit[];
  const extra: PlannerService[] = [];

  /** The superseded results among what the watcher received since `from` (a message index). */
  const supersededSince = (from: number): number => resultCensus(watcher!.inbox.messages.slice(from)).superseded;

  before(async () => {
    cluster = await startCluster({ planners: 2, devices: [{ id: 'car1', role: 'iot', models: ['chain'] }, { id: 'edge1', role: 'edge', models: ['chain'] }] });
    await cluster.ready();
    inputs = await buildJobInputs(await getTaskGraph('chain', { fused: true }), ['random:1']);
    // The car's submissions and results, as they reach the broker.
    watcher = await connectClient(cluster.brokerUrl, { clientId: 'planner-death-watcher' });
    await subscribe(watcher.client, [filters.jobResults('car1'), topics.jobSubmit('car1')], 1);
  }, { timeout: SETUP_TIMEOUT_MS });

  after(async () => {
    await closeInOrder('faults-planner-death', [
      ['the watcher', watcher && (() => watcher!.client.endAsync(true))],
      ['the returned planners', () => closeTogether('faults-planner-death', extra.map((p, i) => [`returned planner ${i}`, () => p.stop(), 10_000] as const)), 20_000],
      ['the cluster', cluster && (() => cluster!.close()), 70_000],
    ]);
  }, { timeout: TEARDOWN_TIMEOUT_MS });

  test('faults — when one planner crashes, the other takes new jobs at once', async (t) => {
    const c = cluster!;
    const from = watcher!.inbox.messages.length;
    const [p1, p2] = c.planners as [PlannerService, PlannerService];
    await p1.kill();
    const before = p2.planned;
    const client = await c.client('car1');
    const started = Date.now();
    const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) => client.submit({ jobId: `one-left-${i}`, model: { name: 'chain' }, inputs, fused: true, timeoutMs: 30_000 })));
    assert.deepEqual(outcomes.filter((o) => o.result.status !== JobStatus.JOB_STATUS_OK).map((o) => `${o.result.jobId}: ${o.result.error?.message}`), [], 'every job completed');
    assert.equal(p2.planned - before, 20, 'the surviving planner planned them all');
    assert.ok(Date.now() - started < 10_000, 'without waiting for a timeout');
    t.diagnostic(`superseded results: ${supersededSince(from)}`);
  });

  test('faults — jobs submitted while no planner runs wait, and are planned when one returns', async (t) => {
    const c = cluster!;
    const from = watcher!.inbox.messages.length;
    const p2 = c.planners[1]!;
    await p2.kill();
    const client = await c.client('car1');
    const pending = Array.from({ length: 5 }, (_, i) => client.submit({ jobId: `waiting-${i}`, model: { name: 'chain' }, inputs, fused: true, timeoutMs: 60_000 }));
    // The five submissions reached the broker while no planner runs: they wait in p2's session.
    await watcher!.inbox.waitUntil((ms) => {
      const ids = ms.slice(from).filter((m) => m.topic === topics.jobSubmit('car1')).map((m) => JobRequest.decode(m.payload).jobId);
      return new Set(ids.filter((id) => id.startsWith('waiting-'))).size === 5;
    }, 'the five waiting-* submissions at the broker', 10_000);
    // The planner comes back under its own id: its persistent session holds what was queued.
    const back = new PlannerService({ id: 'p2', brokerUrl: c.brokerUrl, algorithm: 'auto', log: testLog() });
    extra.push(back);
    await withTimeout(back.start(), 30_000, 'the returning planner p2 starting');
    const outcomes = await Promise.all(pending);
    assert.deepEqual(outcomes.map((o) => o.result.status), Array(5).fill(JobStatus.JOB_STATUS_OK));
    assert.ok(back.planned >= 5, `the returning planner planned the waiting jobs (${back.planned})`);
    t.diagnostic(`superseded results: ${supersededSince(from)}`);
  });

  test('faults — with no planner at all, a job gives up at its deadline: a timeout, or a local run where allowed', async (t) => {
    const c = cluster!;
    const from = watcher!.inbox.messages.length;
    for (const p of extra) await p.kill();
    const client = await c.client('car1', { retryAfterMs: 400 });
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
    t.diagnostic(`superseded results: ${supersededSince(from)}`);
  });
});
