import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, testLog, type Cluster } from '../support/cluster.ts';
import { closeClients, connectClient, subscribe, withTimeout } from '../support/mqtt.ts';
import { closeInOrder, TEARDOWN_TIMEOUT_MS } from '../support/wait.ts';
import { PlannerService } from '../../planner/service.ts';
import { getTaskGraph } from '../../models/task-graph.ts';
import { buildJobInputs } from '../../node-runtime/job-inputs.ts';
import { JobStatus } from '../../schemas/generated/edgeweave.ts';

let cluster: Cluster | undefined;
after(async () => {
  await closeInOrder('debug-json', [['the cluster', cluster && (() => cluster!.close()), 70_000]]);
}, { timeout: TEARDOWN_TIMEOUT_MS });

test('debug mirror — --debug-json publishes each message as readable JSON under edgeweave/v1/debug/', async (t) => {
  cluster = await startCluster({ planners: 0, devices: [{ id: 'car1', role: 'iot', models: ['chain'] }] });
  const planner = new PlannerService({ id: 'p-debug', brokerUrl: cluster.brokerUrl, algorithm: 'local', debugJson: true, log: testLog() });
  cluster.planners.push(planner);
  await withTimeout(planner.start(), 30_000, 'starting planner p-debug');
  await cluster.ready();
  const reader = await connectClient(cluster.brokerUrl, { clientId: 'debug-reader' });
  t.after(() => closeClients(reader.client));
  await subscribe(reader.client, 'edgeweave/v1/debug/#', 0);
  const client = await cluster.client('car1', { debugJson: true });
  const inputs = await buildJobInputs(await getTaskGraph('chain', { fused: true }), ['random:1']);
  const outcome = await client.submit({ jobId: 'readable', model: { name: 'chain' }, inputs, fused: true, timeoutMs: 20_000 });
  assert.equal(outcome.result.status, JobStatus.JOB_STATUS_OK);
  const plan = await reader.inbox.waitUntil((ms) => ms.some((m) => m.topic === 'edgeweave/v1/debug/jobs/car1/readable/plan'), 'the plan mirrored');
  const json = JSON.parse(plan.find((m) => m.topic === 'edgeweave/v1/debug/jobs/car1/readable/plan')!.payload.toString('utf8')) as Record<string, unknown>;
  assert.equal(json['jobId'], 'readable');
  assert.ok(Array.isArray(json['stages']));
  const submit = reader.inbox.messages.find((m) => m.topic === 'edgeweave/v1/debug/jobs/car1/submit');
  assert.ok(submit, 'the job client mirrored its request');
  // The request describes its data (held by car1's device), readable, with no bytes of it.
  const request = JSON.parse(submit.payload.toString('utf8')) as { inputs: Array<{ tensor?: unknown; held: { shape: number[]; data?: string } }> };
  assert.equal(request.inputs[0]!.tensor, undefined);
  assert.deepEqual(request.inputs[0]!.held.shape, [1, ...inputs[0]!.tensor!.shape!.slice(1)]);
  assert.ok(request.inputs[0]!.held.data === undefined || /^(<0 bytes>)?$/.test(request.inputs[0]!.held.data), `data: ${request.inputs[0]!.held.data}`);
});
