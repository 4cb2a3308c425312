/**
 * `--compute virtual`: a stage takes this host's profiled time (over the device's speed)
 * without running the model, and hands on deterministic tensors of the shapes the stage really
 * produces — through the same broker, planner and executors as real compute.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCluster, TEST_DATA_DIR, type Cluster } from '../support/cluster.ts';
import { runCli } from '../support/process.ts';
import { closeInOrder, SETUP_TIMEOUT_MS, TEARDOWN_TIMEOUT_MS } from '../support/wait.ts';
import { getTaskGraph } from '../../models/task-graph.ts';
import { buildJobInputs } from '../../node-runtime/job-inputs.ts';
import { hostProfile } from '../../node-runtime/profiles.ts';
import { ModelHost } from '../../node-runtime/model-host.ts';
import { decodeTensor } from '../../schemas/tensor-codec.ts';
import { JobStatus } from '../../schemas/generated/edgeweave.ts';

const SPEED = 0.25;
describe('runtime — virtual compute', () => {
  let cluster: Cluster;

  before(async () => {
    cluster = await startCluster({
      devices: [
        { id: 'car1', role: 'iot', speed: SPEED, models: ['chain'], compute: 'virtual' },
        { id: 'edge1', role: 'edge', models: ['chain'], compute: 'virtual' },
      ],
    });
    await cluster.ready();
  }, { timeout: SETUP_TIMEOUT_MS });

  after(async () => {
    await closeInOrder('runtime-virtual-compute', [['the cluster', cluster && (() => cluster.close()), 70_000]]);
  }, { timeout: TEARDOWN_TIMEOUT_MS });

  test('a job runs through the real system: outputs of the model\'s shape, deterministic whatever the input, and the profiled time over the speed', async () => {
    const graph = await getTaskGraph('chain', { fused: true });
    const client = await cluster.client('car1');
    const outcomes = [];
    for (const seed of [1, 2]) {
      const inputs = await buildJobInputs(graph, [`random:${seed}`]);
      outcomes.push(await client.submit({ jobId: `virtual-${seed}`, model: { name: 'chain' }, inputs, fused: true, algorithm: 'local', timeoutMs: 30_000 }));
    }
    for (const o of outcomes) assert.equal(o.result.status, JobStatus.JOB_STATUS_OK, `${o.result.error?.code} ${o.result.error?.message}`);
    const [a, b] = outcomes.map((o) => decodeTensor(o.result.outputs[0]!));
    const outputTask = graph.tasks.find((t) => t.id === graph.outputs[0])!;
    assert.deepEqual(a!.shape, [1, ...outputTask.outputShape], 'the output has the model\'s output shape');
    // Different inputs, the same outputs: nothing was computed from them.
    assert.deepEqual([...a!.values], [...b!.values]);
    // The stage took the host's profiled time of its tasks over the device's speed.
    const host = new ModelHost({ models: ['chain'], cacheDir: `${TEST_DATA_DIR}/models` });
    await host.loadAll();
    const profile = await hostProfile(host, (await host.model({ name: 'chain', sha256: '' })).modelHash, { dataDir: TEST_DATA_DIR, fused: true, runs: 3 });
    const trace = outcomes[1]!.result.trace;
    assert.equal(trace.length, 1);
    const expected = trace[0]!.taskIds.reduce((s, t) => s + (profile.tasks.find((p) => p.taskId === t)?.latencyMs ?? Number.NaN), 0) / SPEED;
    assert.ok(Number.isFinite(expected) && expected > 0);
    assert.ok(trace[0]!.computeMs >= expected * 0.95 && trace[0]!.computeMs <= expected + 50, `computed ${trace[0]!.computeMs} ms, profiled ${expected} ms`);
  });

  test('edgeweave run --rate --duration: a camera-like stream, with throughput and latency percentiles', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'edgeweave-stream-'));
    const r = await runCli(['run', '--model', 'chain', '--from', 'car1', '--broker', cluster.brokerUrl, '--rate', '10', '--duration', '2', '--json', '--data-dir', dataDir]);
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout) as { submitted: number; ok: number; offeredPerS: number; throughputPerS: number; p50Ms: number; p95Ms: number; p99Ms: number };
    assert.equal(s.submitted, 20);
    assert.equal(s.ok, 20);
    assert.ok(s.offeredPerS > 7 && s.offeredPerS < 13, `offered ${s.offeredPerS} jobs/s`);
    assert.ok(s.throughputPerS > 0 && s.throughputPerS <= s.offeredPerS * 1.5, `throughput ${s.throughputPerS} jobs/s`);
    assert.ok(s.p50Ms > 0 && s.p50Ms <= s.p95Ms && s.p95Ms <= s.p99Ms);
    // The planner saw the stream: the rate offered lately, and the fleet's capacity for that mix.
    const load = cluster.planners[0]!.fleetLoad();
    assert.ok(load.offeredJobsPerS > 3 && load.offeredJobsPerS < 15, `offered ${load.offeredJobsPerS} jobs/s`);
    assert.ok(load.capacity && Number.isFinite(load.capacity.jobsPerS) && load.capacity.jobsPerS > 0, `capacity ${JSON.stringify(load.capacity)}`);
    assert.ok(load.capacity.bottleneck.length > 0 && load.capacity.bottleneck.every((b) => /^(car1|edge1) (compute|uplink|downlink)$/.test(b)), load.capacity.bottleneck.join(', '));
    const wrong = await runCli(['run', '--model', 'chain', '--from', 'car1', '--broker', cluster.brokerUrl, '--duration', '2']);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /--duration goes with --rate/);
  });
});

