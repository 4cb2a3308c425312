import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, type Cluster } from '../support/cluster.ts';
import { connectClient, subscribe, withTimeout, type TestClient } from '../support/mqtt.ts';
import { mosquittoMissing, startMosquitto, type MosquittoHandle } from '../support/mosquitto.ts';
import { getTaskGraph } from '../../models/task-graph.ts';
import { buildJobInputs } from '../../node-runtime/job-inputs.ts';
import { JobResult, JobStatus, StageReport, StageStatus } from '../../schemas/generated/edgeweave.ts';
import { filters } from '../../schemas/topics.ts';

const JOBS = 200;

for (const brokerKind of ['embedded', 'mosquitto'] as const) {
  describe(`faults — an executor dies mid-stage (${brokerKind} broker)`, () => {
    let cluster: Cluster;
    let mosquitto: MosquittoHandle | undefined;
    let watcher: TestClient;
    const missing = brokerKind === 'mosquitto' ? mosquittoMissing() : null;

    before(async () => {
      if (missing) return;
      if (brokerKind === 'mosquitto') mosquitto = await startMosquitto();
      cluster = await startCluster({
        ...(mosquitto ? { brokerUrl: mosquitto.url } : {}),
        devices: [
          { id: 'car1', role: 'iot', models: ['mobilenetv2'] },
          // Slow enough that a stage is running when the worker is killed.
          { id: 'edge1', role: 'edge', speed: 0.5, models: ['mobilenetv2'], workers: 3 },
        ],
      });
      await cluster.ready(120_000);
      watcher = await connectClient(cluster.brokerUrl, { clientId: `exec-watcher-${brokerKind}` });
      await subscribe(watcher.client, [filters.jobResults('car1'), filters.jobReports('car1')], 1);
    });

    after(async () => {
      await watcher?.client.endAsync();
      await cluster?.close();
      await mosquitto?.stop();
    });

    test(`faults — ${JOBS} jobs, one of three worker processes killed while it runs a stage: 0 lost, 0 duplicated`, { skip: missing ?? false }, async () => {
      const graph = await getTaskGraph('mobilenetv2', { fused: true });
      const inputs = await buildJobInputs(graph, ['pixels:4']);
      const client = await cluster.client('car1');
      const edge = cluster.devices.get('edge1')!;
      let next = 0;
      const outcomes: Array<Awaited<ReturnType<typeof client.submit>>> = [];
      const run = async (): Promise<void> => {
        while (next < JOBS) {
          const i = next++;
          outcomes.push(await client.submit({ jobId: `x-${i}`, model: { name: 'mobilenetv2' }, inputs, fused: true, algorithm: 'edge', timeoutMs: 120_000 }));
        }
      };
      const all = Promise.all(Array.from({ length: 6 }, run));
      // Once work flows, kill a worker that is running a stage right now.
      await watcher.inbox.waitForCount(40, 60_000);
      const victim = edge.executors[1];
      assert.ok(victim, 'edge1 has three executors');
      const busyBefore = (): boolean => (edge.status(1).load ?? 0) > 0;
      await withTimeout((async () => { while (!busyBefore()) await new Promise((r) => setImmediate(r)); })(), 10_000, 'a busy moment');
      victim.kill('SIGKILL');
      await all;
      const failed = outcomes.filter((o) => o.result.status !== JobStatus.JOB_STATUS_OK);
      assert.deepEqual(failed.map((o) => o.result.error?.message), [], 'no job lost');
      // Count what reached the origin, and what ran.
      await new Promise((r) => setTimeout(r, 1500));
      const results = new Map<string, number>();
      let redelivered = 0;
      for (const m of watcher.inbox.messages) {
        if (m.topic.endsWith('/result')) {
          const r = JobResult.decode(m.payload);
          if (r.status === JobStatus.JOB_STATUS_OK) results.set(r.jobId, (results.get(r.jobId) ?? 0) + 1);
        } else if (StageReport.decode(m.payload).status === StageStatus.STAGE_STATUS_DUPLICATE) redelivered++;
      }
      assert.equal(results.size, JOBS, 'every job has a result');
      assert.deepEqual([...results].filter(([, n]) => n > 1), [], 'no job has two results');
      // The killed worker came back under its own id.
      await withTimeout((async () => { while (!victim.alive) await new Promise((r) => setTimeout(r, 50)); })(), 30_000, 'the worker restarting');
      assert.ok(redelivered >= 0);
    });
  });
}
