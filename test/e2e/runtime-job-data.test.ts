/**
 * Job data crosses the network once: from the origin's device straight to the stage that takes
 * it, never through a planner, never up and back down the origin's own link. A program on the
 * device's host hands the data over the device's local socket; from another host (or a device
 * with no socket) it goes on devices/{origin}/hold; an origin that does not hold the model sends
 * its data on to the stage that takes it. Every message is watched at the broker.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { startCluster, type Cluster } from '../support/cluster.ts';
import { connectClient, subscribe, type TestClient } from '../support/mqtt.ts';
import { closeInOrder, SETUP_TIMEOUT_MS, TEARDOWN_TIMEOUT_MS } from '../support/wait.ts';
import { getTaskGraph } from '../../models/task-graph.ts';
import { resolveModel, predictNamed } from '../../models/index.ts';
import { seededUniform } from '../../node-runtime/data-sources.ts';
import { decodeTensor, encodeTensor, maxDeviation } from '../../schemas/tensor-codec.ts';
import { HeldInputs, JobRequest, JobStatus, StageInput, type JobInputInit, type TaskSpecInit } from '../../schemas/generated/edgeweave.ts';
import { parseTopic, TOPIC_ROOT } from '../../schemas/topics.ts';
import type { TaskGraph } from '../../schemas/graph.ts';
import type { JobOutcome } from '../../node-runtime/client.ts';

/** A batch of four 32x32x3 images: 48 KiB of float32, more than a job's metadata. */
const SHAPE = [4, 32, 32, 3];
const INPUT_BYTES = SHAPE.reduce((a, b) => a * b, 1) * 4;

/** The chain's input task. */
let INPUT = '';

function inputs(seed: number): JobInputInit[] {
  const values = seededUniform(INPUT_BYTES / 4, seed);
  return [{ taskId: INPUT, tensor: encodeTensor({ dtype: 'float32', shape: SHAPE, values }, { name: INPUT }) }];
}

/** The chain with every task but its input pinned to `device`. */
function pinnedTo(graph: TaskGraph, device: string): TaskSpecInit[] {
  return graph.tasks.map((t) => ({
    id: t.id, kind: t.kind, preds: t.preds, succs: t.succs, outputShape: t.outputShape, outputBytes: t.outputBytes, flops: t.flops,
    paramBytes: t.paramBytes, activationBytes: t.activationBytes, layers: t.layers, pinnedDevice: graph.inputs.includes(t.id) ? '' : device,
  }));
}

async function expected(job: JobInputInit[]): Promise<Float32Array> {
  const m = await resolveModel('chain');
  const data = decodeTensor(job[0]!.tensor as Parameters<typeof decodeTensor>[0]);
  const feed = { [INPUT]: tf.tensor(data.values, data.shape, 'float32') };
  const out = predictNamed(m, feed);
  const values = Object.values(out)[0]!.dataSync() as Float32Array;
  tf.dispose([...Object.values(feed), ...Object.values(out)]);
  return values;
}

function assertMatches(outcome: JobOutcome, want: Float32Array): void {
  assert.equal(outcome.result.status, JobStatus.JOB_STATUS_OK, `job failed: ${outcome.result.error?.code} ${outcome.result.error?.message}`);
  const { maxAbs } = maxDeviation(want, decodeTensor(outcome.result.outputs[0]!).values as Float32Array);
  assert.ok(maxAbs <= 1e-4, `max abs difference ${maxAbs}`);
}

interface Seen {
  topic: string;
  bytes: number;
  payload: Buffer;
}

describe('runtime — job data crosses the network once', () => {
  let cluster: Cluster;
  let watcher: TestClient;
  const seen: Seen[] = [];

  before(async () => {
    cluster = await startCluster({
      devices: [
        { id: 'car1', role: 'iot', models: ['chain'] },
        { id: 'car2', role: 'iot', models: ['chain'], localSocket: false },
        { id: 'car3', role: 'iot', models: ['fusion'] },
        { id: 'edge1', role: 'edge', models: ['chain'] },
      ],
    });
    await cluster.ready();
    INPUT = (await getTaskGraph('chain', { fused: false })).inputs[0]!;
    watcher = await connectClient(cluster.brokerUrl, { clientId: 'job-data-watcher' });
    watcher.client.on('message', (topic, payload) => seen.push({ topic, bytes: payload.length, payload }));
    await subscribe(watcher.client, `${TOPIC_ROOT}/#`, 1);
  }, { timeout: SETUP_TIMEOUT_MS });

  after(async () => {
    await closeInOrder('runtime-job-data', [
      ['the watcher', watcher && (() => watcher.client.endAsync()), 5_000],
      ['the cluster', cluster && (() => cluster.close()), 70_000],
    ]);
  }, { timeout: TEARDOWN_TIMEOUT_MS });

  /** Messages of the job seen so far: stage inputs decoded, with who sent them and how much data they carried. */
  function stageInputsOf(jobId: string): Array<{ to: string; from: string; dataBytes: number }> {
    return seen.flatMap((m) => {
      const kind = parseTopic(m.topic);
      if (kind?.kind !== 'deviceInbox' && kind?.kind !== 'workerInbox') return [];
      const input = StageInput.decode(m.payload);
      if (input.jobId !== jobId) return [];
      return [{ to: kind.deviceId, from: input.fromDevice, dataBytes: input.tensors.reduce((s, t) => s + t.data.byteLength, 0) }];
    });
  }

  test('from a program on the device\'s host: over the local socket, then once from the origin to the stage that takes it; the planner sees metadata only', async () => {
    const graph = await getTaskGraph('chain', { fused: false });
    const client = await cluster.client('car1');
    const planner = cluster.planners[0]!;
    const before = planner.bytes;
    const jobs = [inputs(1), inputs(2), inputs(3)];
    const outcomes: JobOutcome[] = [];
    for (const [k, job] of jobs.entries()) {
      outcomes.push(await client.submit({ jobId: `local-${k}`, model: { name: 'chain' }, inputs: job, tasks: pinnedTo(graph, 'edge1'), timeoutMs: 30_000 }));
      assertMatches(outcomes[k]!, await expected(job));
    }
    assert.ok(client.handsOverLocally, 'the client used the device\'s local socket');
    const after = planner.bytes;
    const perJob = (after.in + after.out - before.in - before.out) / jobs.length;
    assert.ok(perJob < 16 * 1024, `the planner moved ${perJob.toFixed(0)} bytes per job`);
    assert.ok(perJob < INPUT_BYTES, 'less than one job\'s input');
    for (const k of jobs.keys()) {
      const jobId = `local-${k}`;
      // The submission describes the data and carries none of it.
      const submits = seen.filter((m) => parseTopic(m.topic)?.kind === 'jobSubmit' && JobRequest.decode(m.payload).jobId === jobId);
      assert.equal(submits.length, 1);
      const request = JobRequest.decode(submits[0]!.payload);
      assert.equal(request.inputs[0]!.source, 'held');
      assert.equal(request.inputs[0]!.held!.data.byteLength, 0);
      assert.ok(submits[0]!.bytes < 1024, `submission of ${submits[0]!.bytes} bytes`);
      // When it was submitted, on the reference clock too (the client measured its offset): a deadline counts from then.
      const o = outcomes[k]!;
      assert.ok(request.submittedAtRefMs > 0 && Math.abs(request.submittedAtRefMs - (o.submittedAtMs + o.clockOffsetMs)) < 5, `${request.submittedAtRefMs} against ${o.submittedAtMs + o.clockOffsetMs}`);
      assert.ok(request.submittedAtRefMs <= o.plan!.submittedAtMs + 50, 'submitted before its planner received it');
      // Nothing went to the broker for car1 to read its own data back.
      assert.equal(seen.filter((m) => m.topic.endsWith('/devices/car1/hold')).length, 0, 'no hold over MQTT');
      const moves = stageInputsOf(jobId);
      assert.ok(moves.filter((m) => m.to === 'car1').every((m) => m.dataBytes === 0), 'car1 got no data through the broker');
      // The data crossed once: car1 -> edge1.
      const carrying = moves.filter((m) => m.dataBytes >= INPUT_BYTES / 4);
      assert.deepEqual(carrying.map((m) => `${m.from}->${m.to}`), ['car1->edge1']);
    }
  });

  test('from a device with no local socket: the data goes on devices/{origin}/hold, and only there before its stage runs', async () => {
    const client = await cluster.client('car2');
    assert.equal(client.handsOverLocally, false);
    const job = inputs(4);
    const outcome = await client.submit({ jobId: 'hold-0', model: { name: 'chain' }, inputs: job, timeoutMs: 30_000 });
    assertMatches(outcome, await expected(job));
    const holds = seen.filter((m) => m.topic.endsWith('/devices/car2/hold')).map((m) => HeldInputs.decode(m.payload));
    assert.deepEqual(holds.map((h) => h.jobId), ['hold-0']);
    assert.equal(holds[0]!.tensors[0]!.data.byteLength, INPUT_BYTES);
    assert.ok(stageInputsOf('hold-0').every((m) => m.from !== 'car2' || m.to !== 'car2' || m.dataBytes === 0), 'no data from car2 to itself');
  });

  test('from an origin that does not hold the model: it sends its data straight to the stage that takes it', async () => {
    const client = await cluster.client('car3');
    const job = inputs(5);
    const outcome = await client.submit({ jobId: 'send-0', model: { name: 'chain' }, inputs: job, timeoutMs: 30_000 });
    assertMatches(outcome, await expected(job));
    assert.ok(!Object.values(outcome.result.placement).includes('car3'), 'car3 runs no stage of a model it does not hold');
    const carrying = stageInputsOf('send-0').filter((m) => m.dataBytes >= INPUT_BYTES / 4 && m.from === 'car3');
    assert.equal(carrying.length, 1, 'one message carried car3\'s data');
    assert.ok(['car1', 'car2', 'edge1'].includes(carrying[0]!.to));
  });

  test('data the origin\'s device refuses (NaN) fails the job at once, with the reason', async () => {
    const client = await cluster.client('car1');
    const values = seededUniform(INPUT_BYTES / 4, 6);
    values[7] = Number.NaN;
    const job = [{ taskId: INPUT, tensor: encodeTensor({ dtype: 'float32', shape: SHAPE, values }, { name: INPUT }) }];
    const started = Date.now();
    const outcome = await client.submit({ jobId: 'nan-0', model: { name: 'chain' }, inputs: job, timeoutMs: 30_000 });
    assert.equal(outcome.result.status, JobStatus.JOB_STATUS_REJECTED);
    assert.match(outcome.result.error?.message ?? '', /NaN/);
    assert.ok(Date.now() - started < 5_000, 'at once');
  });
});
