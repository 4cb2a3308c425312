import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, type Cluster } from '../support/cluster.ts';
import { connectClient, subscribe, withTimeout, type TestClient } from '../support/mqtt.ts';
import { mosquittoMissing, startMosquitto, type MosquittoHandle } from '../support/mosquitto.ts';
import { getTaskGraph } from '../../models/task-graph.ts';
import { buildJobInputs } from '../../node-runtime/job-inputs.ts';
import { JobStatus } from '../../schemas/generated/edgeweave.ts';
import { resultCensus } from '../support/results.ts';
import { SETUP_TIMEOUT_MS, TEARDOWN_TIMEOUT_MS, closeInOrder } from '../support/wait.ts';
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
    }, { timeout: SETUP_TIMEOUT_MS });

    after(async () => {
      await closeInOrder(`executor death (${brokerKind})`, [
        ['the watcher', watcher && (() => watcher.client.endAsync(true))], ['the cluster', cluster && (() => cluster.close()), 60_000], ['mosquitto', mosquitto && (() => mosquitto!.stop())],
      ]);
    }, { timeout: TEARDOWN_TIMEOUT_MS });

    test(`faults — ${JOBS} jobs, one of three worker processes killed while it runs a stage: 0 lost, 0 duplicated`, { skip: missing ?? false }, async (t) => {
      const graph = await getTaskGraph('mobilenetv2', { fused: true });
      const inputs = await buildJobInputs(graph, ['pixels:4']);
      const client = await cluster.client('car1');
      const edge = cluster.devices.get('edge1')!;
      const planner = cluster.planners[0]!;
      const replansBefore = planner.replanned;
      let next = 0;
      const outcomes: Array<Awaited<ReturnType<typeof client.submit>>> = [];
      const run = async (): Promise<void> => {
        while (next < JOBS) {
          const i = next++;
          outcomes.push(await client.submit({ jobId: `x-${i}`, model: { name: 'mobilenetv2' }, inputs, fused: true, algorithm: 'edge', timeoutMs: 120_000 }));
        }
      };
      const all = Promise.all(Array.from({ length: 6 }, run));
      // Once work flows, kill a worker at a moment it is computing a stage.
      await watcher.inbox.waitForCount(40, 60_000);
      const victim = edge.executors[1];
      assert.ok(victim, 'edge1 has three executors');
      await withTimeout((async () => { while (!victim.busy) await new Promise((r) => setImmediate(r)); })(), 20_000, 'the worker w1 computing a stage');
      const runsBefore = victim.pid;
      victim.kill('SIGKILL');
      await all;
      const failed = outcomes.filter((o) => o.result.status !== JobStatus.JOB_STATUS_OK);
      assert.deepEqual(failed.map((o) => o.result.error?.message), [], 'no job lost');
      // Everything on the wire: each job's result and its edge stage's report.
      await watcher.inbox.waitUntil((ms) => resultCensus(ms).jobs === JOBS, 'a result of every job on the wire', 10_000);
      const finalReports = (c: ReturnType<typeof resultCensus>): number[] => outcomes.map((o) => {
        const stage = o.plan?.stages.find((s) => s.final)?.stageId ?? '';
        return c.okReports.get(`${o.result.jobId}/${stage}`) ?? 0;
      });
      await watcher.inbox.waitUntil((ms) => finalReports(resultCensus(ms)).every((n) => n >= 1), 'the final stage report of every job', 10_000);
      const census = resultCensus(watcher.inbox.messages);
      t.diagnostic(`superseded results: ${census.superseded}`);
      t.diagnostic(`redelivered inputs reported as duplicates: ${census.duplicateReports}`);
      t.diagnostic(`re-plans: ${planner.replanned - replansBefore}`);
      assert.equal(census.jobs, JOBS, 'every job has a result');
      assert.deepEqual(census.duplicated, [], 'no job has two results');
      assert.deepEqual(finalReports(census).filter((n) => n !== 1), [], 'each final stage committed once');
      if (brokerKind === 'embedded') assert.equal(planner.replanned - replansBefore, 0, 'the $share group handed the dead worker\'s input on: nothing re-planned');
      // The killed worker came back under its own id, as a new process.
      await withTimeout((async () => { while (!victim.alive) await new Promise((r) => setTimeout(r, 50)); })(), 30_000, 'the worker restarting');
      assert.notEqual(victim.pid, runsBefore, 'a new worker process');
    });
  });
}
