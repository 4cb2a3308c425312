import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCluster, type Cluster } from '../support/cluster.ts';
import { closeClients, connectClient, subscribe } from '../support/mqtt.ts';
import { closeTogether, pollUntil, TEARDOWN_TIMEOUT_MS } from '../support/wait.ts';
import { getTaskGraph } from '../../models/task-graph.ts';
import { buildJobInputs } from '../../node-runtime/job-inputs.ts';
import { JobPlan, JobStatus } from '../../schemas/generated/edgeweave.ts';
import { filters } from '../../schemas/topics.ts';

describe('planner service', () => {
  const clusters: Cluster[] = [];
  after(async () => {
    await closeTogether('runtime-planner', clusters.map((c, i) => [`cluster ${i}`, () => c.close(), 70_000] as const));
  }, { timeout: TEARDOWN_TIMEOUT_MS });

  test('planner — two planners share the jobs: each job is planned exactly once', async (t) => {
    const cluster = await startCluster({ planners: 2, devices: [{ id: 'car1', role: 'iot', models: ['chain'] }, { id: 'edge1', role: 'edge', models: ['chain'] }] });
    clusters.push(cluster);
    await cluster.ready();
    const watcher = await connectClient(cluster.brokerUrl, { clientId: 'plan-watcher' });
    t.after(() => closeClients(watcher.client));
    await subscribe(watcher.client, filters.jobPlans('car1'), 1);
    const graph = await getTaskGraph('chain', { fused: true });
    const inputs = await buildJobInputs(graph, ['random:1']);
    const client = await cluster.client('car1');
    const n = 40;
    const outcomes = await Promise.all(Array.from({ length: n }, (_, i) => client.submit({ jobId: `two-${i}`, model: { name: 'chain' }, inputs, fused: true, timeoutMs: 30_000 })));
    assert.ok(outcomes.every((o) => o.result.status === JobStatus.JOB_STATUS_OK));
    await watcher.inbox.waitForCount(n, 10_000);
    const plans = watcher.inbox.messages.map((m) => JobPlan.decode(m.payload));
    const perJob = new Map<string, number>();
    for (const p of plans) perJob.set(p.jobId, (perJob.get(p.jobId) ?? 0) + 1);
    assert.equal(perJob.size, n);
    assert.ok([...perJob.values()].every((c) => c === 1), 'no job was planned twice');
    const byPlanner = new Set(plans.map((p) => p.plannerId));
    assert.deepEqual(byPlanner, new Set(['p1', 'p2']), 'both planners took jobs');
    assert.equal(cluster.planners[0]!.planned + cluster.planners[1]!.planned, n);
  });

  test('planner — when the car\'s link degrades along a trace, later jobs run locally', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgeweave-trace-'));
    const trace = join(dir, 'drop.tsv');
    // 100 Mbps for 6 s, then 0.05 Mbps for a long time.
    writeFileSync(trace, '0\t100\n6\t0.05\n10000\t0.05\n');
    const started = Date.now();
    const cluster = await startCluster({
      devices: [
        { id: 'car1', role: 'iot', speed: 0.5, link: { upBps: 100e6, downBps: 100e6, rttMs: 2 }, tracePath: trace, models: ['mobilenetv2'], profile: false },
        { id: 'edge1', role: 'edge', speed: 1, link: { upBps: 500e6, downBps: 500e6, rttMs: 1 }, models: ['mobilenetv2'], profile: false },
      ],
    });
    clusters.push(cluster);
    await cluster.ready();
    const graph = await getTaskGraph('mobilenetv2', { fused: true });
    const inputs = await buildJobInputs(graph, ['pixels:1']);
    const client = await cluster.client('car1');
    const offloaded = (o: { result: { placement: Record<string, string> } }): boolean => Object.values(o.result.placement).some((d) => d === 'edge1');
    const before = await client.submit({ model: { name: 'mobilenetv2' }, inputs, fused: true, algorithm: 'auto', timeoutMs: 60_000 });
    assert.equal(before.result.status, JobStatus.JOB_STATUS_OK);
    assert.ok(Date.now() - started < 6000, 'the first job ran while the link was fast (test machine too slow otherwise)');
    assert.ok(offloaded(before), 'on a fast link, auto offloads');
    // After the drop (and a heartbeat announcing it), auto keeps the work on the car.
    const planner = cluster.planners[0]!;
    const announcedUp = (): number | undefined => planner.registry.get('car1')?.status.traceUpBps;
    await pollUntil(() => (announcedUp() ?? Infinity) <= 0.05e6, () => `planner p1 hearing car1 announce its uplink dropped to 0.05 Mbps (it last said ${announcedUp()} bps)`, 20_000);
    const afterDrop = await client.submit({ model: { name: 'mobilenetv2' }, inputs, fused: true, algorithm: 'auto', timeoutMs: 120_000 });
    assert.equal(afterDrop.result.status, JobStatus.JOB_STATUS_OK);
    assert.ok(!offloaded(afterDrop), `on a 0.05 Mbps link, auto runs locally (placement ${JSON.stringify(afterDrop.result.placement)})`);
  });
});
