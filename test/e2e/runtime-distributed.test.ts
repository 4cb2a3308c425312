import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { startCluster, type Cluster } from '../support/cluster.ts';
import { closeInOrder, SETUP_TIMEOUT_MS, TEARDOWN_TIMEOUT_MS } from '../support/wait.ts';
import { getTaskGraph } from '../../models/task-graph.ts';
import { resolveModel, predictNamed } from '../../models/index.ts';
import { buildJobInputs } from '../../node-runtime/job-inputs.ts';
import { decodeTensor, maxDeviation, type TensorData } from '../../schemas/tensor-codec.ts';
import { JobStatus, StageStatus, type JobInputInit, type TaskSpecInit } from '../../schemas/generated/edgeweave.ts';
import type { TaskGraph } from '../../schemas/graph.ts';
import type { JobOutcome } from '../../node-runtime/client.ts';

const DEVICES = ['car1', 'edge1', 'cloud1'];

/** The job DAG with chosen tasks pinned to devices. */
function pinnedTasks(graph: TaskGraph, pin: (taskId: string, index: number) => string | undefined): TaskSpecInit[] {
  return graph.tasks.map((t, i) => ({
    id: t.id, kind: t.kind, preds: t.preds, succs: t.succs, outputShape: t.outputShape, outputBytes: t.outputBytes, flops: t.flops,
    paramBytes: t.paramBytes, activationBytes: t.activationBytes, layers: t.layers, pinnedDevice: pin(t.id, i) ?? '',
  }));
}

/** What `predict` gives on the same inputs the job carried (inline tensors; device data given by the caller). */
async function localPredict(model: string, inputs: JobInputInit[], extra: Record<string, TensorData> = {}): Promise<Float32Array> {
  const m = await resolveModel(model);
  const feed: Record<string, tf.Tensor> = {};
  for (const input of inputs) {
    const data = input.tensor ? decodeTensor(input.tensor as Parameters<typeof decodeTensor>[0]) : extra[input.taskId!]!;
    feed[input.taskId!] = tf.tensor(data.values, data.shape, 'float32');
  }
  const out = predictNamed(m, feed);
  const values = Object.values(out)[0]!.dataSync() as Float32Array;
  tf.dispose([...Object.values(feed), ...Object.values(out)]);
  return values;
}

function outputOf(outcome: JobOutcome): Float32Array {
  assert.equal(outcome.result.status, JobStatus.JOB_STATUS_OK, `job failed: ${outcome.result.error?.code} ${outcome.result.error?.message}`);
  return decodeTensor(outcome.result.outputs[0]!).values as Float32Array;
}

describe('runtime — distributed execution over three devices', () => {
  let cluster: Cluster;

  before(async () => {
    cluster = await startCluster({
      devices: [
        { id: 'car1', role: 'iot', models: ['chain', 'inception', 'fusion'] },
        { id: 'edge1', role: 'edge', models: ['chain', 'inception', 'fusion'], data: { radar: { kind: 'random', seed: 7 } } },
        { id: 'cloud1', role: 'cloud', models: ['chain', 'inception', 'fusion'] },
      ],
    });
    await cluster.ready();
  }, { timeout: SETUP_TIMEOUT_MS });

  after(async () => {
    await closeInOrder('runtime-distributed', [['the cluster', cluster && (() => cluster.close()), 70_000]]);
  }, { timeout: TEARDOWN_TIMEOUT_MS });

  test('runtime — a chain split over three devices equals local predict', async () => {
    const graph = await getTaskGraph('chain', { fused: false });
    const third = Math.ceil(graph.tasks.length / 3);
    const inputs = await buildJobInputs(graph, ['random:11']);
    const client = await cluster.client('car1');
    const outcome = await client.submit({ model: { name: 'chain' }, inputs, tasks: pinnedTasks(graph, (_, i) => DEVICES[Math.floor(i / third)]), timeoutMs: 30_000 });
    const got = outputOf(outcome);
    assert.deepEqual(new Set(outcome.result.trace.map((t) => t.deviceId)), new Set(DEVICES), 'every device ran a stage');
    const { maxAbs } = maxDeviation(await localPredict('chain', inputs), got);
    assert.ok(maxAbs <= 1e-4, `max abs difference ${maxAbs}`);
  });

  test('runtime — an Inception module with its branches on three devices joins once, with every path timed', async () => {
    const graph = await getTaskGraph('inception', { fused: false });
    const branch = (id: string): string | undefined => {
      if (/^mixed0_b1_/.test(id)) return 'car1';
      if (/^mixed0_b[24]/.test(id)) return 'edge1';
      if (/^mixed0_b3/.test(id)) return 'cloud1';
      if (id === 'mixed0') return 'edge1';
      return undefined;
    };
    const inputs = await buildJobInputs(graph, ['random:5']);
    const client = await cluster.client('car1');
    const outcome = await client.submit({ model: { name: 'inception' }, inputs, tasks: pinnedTasks(graph, branch), algorithm: 'heft', timeoutMs: 60_000 });
    const got = outputOf(outcome);
    const { maxAbs } = maxDeviation(await localPredict('inception', inputs), got);
    assert.ok(maxAbs <= 1e-4, `max abs difference ${maxAbs}`);

    const plan = outcome.plan!;
    const join = plan.stages.find((s) => s.taskIds.includes('mixed0'))!;
    const producers = new Set(join.inputs.map((i) => i.fromStage));
    assert.ok(producers.size >= 2, 'the concatenation joins inputs from several stages');
    assert.ok(new Set(join.inputs.map((i) => i.fromDevice)).size >= 2, 'from several devices');
    assert.notEqual(join.worker, '', 'a join is pinned to one executor');
    // It ran exactly once.
    const reports = await client.waitForReports(plan.jobId, (rs) => plan.stages.every((s) => rs.some((r) => r.stageId === s.stageId)));
    const runs = reports.filter((r) => r.stageId === join.stageId);
    assert.deepEqual(runs.map((r) => r.status), [StageStatus.STAGE_STATUS_OK]);
    // Its ready time is the latest arrival, and every predecessor path is in the trace.
    const trace = new Map(outcome.result.trace.map((t) => [t.stageId, t]));
    const joinTiming = trace.get(join.stageId)!;
    for (const p of producers) {
      const pt = trace.get(p);
      assert.ok(pt, `predecessor ${p} is in the trace`);
      // Two devices' timestamps agree only within the sum of their clock bounds.
      assert.ok(joinTiming.clockUncertaintyMs >= 0 && pt.clockUncertaintyMs >= 0, 'both devices synchronised their clocks');
      const slack = joinTiming.clockUncertaintyMs + pt.clockUncertaintyMs;
      assert.ok(joinTiming.readyAtMs >= pt.endAtMs - slack, `join ready (${joinTiming.readyAtMs}) after ${p} ended (${pt.endAtMs}, clocks ±${slack} ms)`);
    }
    assert.ok(joinTiming.readyAtMs >= joinTiming.firstInputAtMs);
    assert.deepEqual(new Set(outcome.result.trace.map((t) => t.deviceId)), new Set(DEVICES));
  });

  test('runtime — a two-input model takes each input from the device that holds it', async () => {
    const graph = await getTaskGraph('fusion', { fused: true });
    const inputs = await buildJobInputs(graph, ['camera=random:3', 'sensor=@edge1:radar']);
    const client = await cluster.client('car1');
    const outcome = await client.submit({ model: { name: 'fusion' }, inputs, fused: true, timeoutMs: 30_000 });
    const got = outputOf(outcome);
    assert.equal(outcome.result.placement['sensor'], 'edge1', 'the sensor input task ran on the device holding the data');
    assert.equal(outcome.result.placement['camera'], 'car1', 'the camera input task ran on the origin');
    const sensorShape = graph.tasks.find((t) => t.id === 'sensor')!.outputShape;
    const { loadLocalInput } = await import('../../node-runtime/data-sources.ts');
    const radar = loadLocalInput(new Map([['radar', { kind: 'random', seed: 7 }]]), 'radar', 'sensor', sensorShape);
    const { maxAbs } = maxDeviation(await localPredict('fusion', inputs, { sensor: radar }), got);
    assert.ok(maxAbs <= 1e-4, `max abs difference ${maxAbs}`);
  });

  test('runtime — a job for a model no device holds is rejected at once with a reason', async () => {
    const client = await cluster.client('car1');
    const graph = await getTaskGraph('chain', { fused: true });
    const inputs = await buildJobInputs(graph, ['random']);
    const started = Date.now();
    const outcome = await client.submit({ model: { name: 'resnet50' }, inputs, timeoutMs: 10_000 });
    assert.equal(outcome.result.status, JobStatus.JOB_STATUS_REJECTED);
    assert.ok(outcome.result.error?.code, 'a typed reason');
    assert.ok(Date.now() - started < 5_000, 'at once, not after the timeout');
  });
});
