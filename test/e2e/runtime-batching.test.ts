/**
 * Batching: many jobs at once through an edge device, which runs the same stage of different
 * jobs in one predict. Seen in the results: jobs whose edge stage shares one start, end and
 * compute time on one executor ran in one batch (an executor runs one thing at a time, so
 * stages run one after another never share them). Each job's output is still its own.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { startCluster, type Cluster } from '../support/cluster.ts';
import { closeInOrder, SETUP_TIMEOUT_MS, TEARDOWN_TIMEOUT_MS } from '../support/wait.ts';
import { getTaskGraph } from '../../models/task-graph.ts';
import { resolveModel, predictNamed } from '../../models/index.ts';
import { buildJobInputs } from '../../node-runtime/job-inputs.ts';
import { POWER_PRESETS } from '../../power/presets.ts';
import { decodeTensor, maxDeviation } from '../../schemas/tensor-codec.ts';
import { JobStatus, type JobInputInit, type StageTiming, type TaskSpecInit } from '../../schemas/generated/edgeweave.ts';
import type { TaskGraph } from '../../schemas/graph.ts';

const MODEL = 'mobilenetv2';
const JOBS = 12;
/** The edge device is emulated at half this host's speed: its stages are held, and inputs queue up meanwhile. */
const EDGE_SPEED = 0.5;

/** The input task on the car, the tail on the cloud, the rest (the heavy middle) on the edge. */
function pinnedTasks(graph: TaskGraph): TaskSpecInit[] {
  const n = graph.tasks.length;
  return graph.tasks.map((t, i) => ({
    id: t.id, kind: t.kind, preds: t.preds, succs: t.succs, outputShape: t.outputShape, outputBytes: t.outputBytes, flops: t.flops,
    paramBytes: t.paramBytes, activationBytes: t.activationBytes, layers: t.layers, pinnedDevice: i === 0 ? 'car1' : i >= n - 2 ? 'cloud1' : 'edge1',
  }));
}

async function localPredict(inputs: JobInputInit[]): Promise<Float32Array> {
  const m = await resolveModel(MODEL);
  const feed: Record<string, tf.Tensor> = {};
  for (const input of inputs) {
    const data = decodeTensor(input.tensor as Parameters<typeof decodeTensor>[0]);
    feed[input.taskId!] = tf.tensor(data.values, data.shape, 'float32');
  }
  const out = predictNamed(m, feed);
  const values = Object.values(out)[0]!.dataSync() as Float32Array;
  tf.dispose([...Object.values(feed), ...Object.values(out)]);
  return values;
}

describe('runtime — batching the same stage of different jobs', () => {
  let cluster: Cluster;

  before(async () => {
    cluster = await startCluster({
      devices: [
        { id: 'car1', role: 'iot', models: [MODEL] },
        { id: 'edge1', role: 'edge', speed: EDGE_SPEED, models: [MODEL] },
        { id: 'cloud1', role: 'cloud', models: [MODEL] },
      ],
    });
    await cluster.ready();
  }, { timeout: SETUP_TIMEOUT_MS });

  after(async () => {
    await closeInOrder('runtime-batching', [['the cluster', cluster && (() => cluster.close()), 70_000]]);
  }, { timeout: TEARDOWN_TIMEOUT_MS });

  test('runtime — jobs submitted together share one predict on the edge; each keeps its own output, wait and energy', async () => {
    const graph = await getTaskGraph(MODEL, { fused: true });
    const tasks = pinnedTasks(graph);
    const client = await cluster.client('car1');
    const jobs = await Promise.all(Array.from({ length: JOBS }, async (_, j) => ({ jobId: `batch-${j}`, inputs: await buildJobInputs(graph, [`random:${j + 1}`]) })));
    const outcomes = await Promise.all(jobs.map((job) => client.submit({ jobId: job.jobId, model: { name: MODEL }, inputs: job.inputs, fused: true, tasks, timeoutMs: 180_000 })));

    const edgeStages: StageTiming[] = [];
    for (const [k, outcome] of outcomes.entries()) {
      const { result } = outcome;
      assert.equal(result.status, JobStatus.JOB_STATUS_OK, `${jobs[k]!.jobId}: ${result.error?.code} ${result.error?.message}`);
      assert.deepEqual(new Set(result.trace.map((t) => t.deviceId)), new Set(['car1', 'edge1', 'cloud1']), 'the job went through the edge');
      const got = decodeTensor(result.outputs[0]!).values as Float32Array;
      const { maxAbs } = maxDeviation(await localPredict(jobs[k]!.inputs), got);
      assert.ok(maxAbs <= 1e-4, `${jobs[k]!.jobId}: max abs difference ${maxAbs} from the job run alone`);
      edgeStages.push(...result.trace.filter((t) => t.deviceId === 'edge1'));
    }

    // Stages that ran in one predict share their executor, start, end and compute time.
    const runs = new Map<string, StageTiming[]>();
    for (const t of edgeStages) {
      const key = `${t.workerId}/${t.startAtMs}/${t.endAtMs}/${t.computeMs}`;
      runs.set(key, [...(runs.get(key) ?? []), t]);
    }
    const batches = [...runs.values()].filter((r) => r.length > 1);
    assert.ok(batches.length > 0, `no edge stages ran together: ${edgeStages.map((t) => `${t.startAtMs.toFixed(1)}+${t.computeMs.toFixed(1)}`).join(', ')}`);

    const busyW = POWER_PRESETS['edge-server'].busyW;
    for (const batch of batches) {
      const size = batch.length;
      for (const t of batch) {
        assert.equal(t.hostComputeMs, batch[0]!.hostComputeMs);
        assert.ok(Math.abs(t.computeEnergyJ - (busyW * t.computeMs) / 1000 / size) < 1e-9, `a job's compute energy is its share of the batch's (${size} jobs)`);
        // Its own wait: from its own ready time to the batch's start.
        assert.ok(Math.abs(t.waitMs - Math.max(0, t.startAtMs - t.readyAtMs)) < 1e-6);
        // The emulated slowdown holds the whole batch (a lower bound: timers fire late, never more
        // than the millisecond they round the delay down by early).
        assert.ok(t.computeMs >= t.hostComputeMs / EDGE_SPEED - 2, `batch held ${t.computeMs} ms for ${t.hostComputeMs} ms of host time`);
      }
    }
  });
});
