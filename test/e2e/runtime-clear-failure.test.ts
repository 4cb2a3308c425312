import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, type Cluster } from '../support/cluster.ts';
import { closeInOrder, SETUP_TIMEOUT_MS, TEARDOWN_TIMEOUT_MS } from '../support/wait.ts';
import { getTaskGraph } from '../../models/task-graph.ts';
import { buildJobInputs } from '../../node-runtime/job-inputs.ts';
import { JobStatus, ObjectiveKind, type JobInputInit } from '../../schemas/generated/edgeweave.ts';

describe('clear failure — a job that cannot be placed', () => {
  let cluster: Cluster;
  let inputs: JobInputInit[];

  before(async () => {
    // A device far too small for the model's weights (the chain holds ~0.5 MiB).
    cluster = await startCluster({ devices: [{ id: 'tiny', role: 'iot', models: ['chain'], memoryMiB: 0.1 }] });
    await cluster.ready();
    inputs = await buildJobInputs(await getTaskGraph('chain', { fused: true }), ['random:1']);
  }, { timeout: SETUP_TIMEOUT_MS });

  after(async () => {
    await closeInOrder('runtime-clear-failure', [['the cluster', cluster && (() => cluster.close()), 70_000]]);
  }, { timeout: TEARDOWN_TIMEOUT_MS });

  test('clear failure — the model fits no device: a REJECTED result with E_INFEASIBLE, at once', async () => {
    const client = await cluster.client('tiny');
    const started = Date.now();
    const outcome = await client.submit({ model: { name: 'chain' }, inputs, fused: true, timeoutMs: 30_000 });
    assert.equal(outcome.result.status, JobStatus.JOB_STATUS_REJECTED);
    assert.equal(outcome.result.error?.code, 'E_INFEASIBLE');
    assert.match(outcome.result.error?.message ?? '', /more than any device offers/);
    assert.ok(Date.now() - started < 3000, 'at once');
  });

  test('clear failure — a deadline no plan can meet: a REJECTED result with E_INFEASIBLE, at once', async () => {
    const roomy = await startCluster({ devices: [{ id: 'car1', role: 'iot', speed: 0.01, models: ['chain'] }] });
    try {
      await roomy.ready();
      const client = await roomy.client('car1');
      const started = Date.now();
      const outcome = await client.submit({ model: { name: 'chain' }, inputs, fused: true, objective: { kind: ObjectiveKind.OBJECTIVE_LATENCY, deadlineMs: 0.5 }, timeoutMs: 30_000 });
      assert.equal(outcome.result.status, JobStatus.JOB_STATUS_REJECTED);
      assert.equal(outcome.result.error?.code, 'E_INFEASIBLE');
      assert.match(outcome.result.error?.message ?? '', /deadline/i);
      assert.ok(Date.now() - started < 3000, 'at once');
    } finally {
      await roomy.close();
    }
  });
});
