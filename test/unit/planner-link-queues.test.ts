import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LinkQueues } from '../../planner/link-queues.ts';
import { planJob } from '../../planner/core/index.ts';
import { carEdgeCloud, chainGraph } from '../support/planner-fixtures.ts';

const link = (upMbps: number, downMbps: number, rttMs = 0): { upBps: number; downBps: number; rttMs: number } => ({ upBps: upMbps * 1e6, downBps: downMbps * 1e6, rttMs });

test('link queues — a transfer takes the sender\'s uplink, then the receiver\'s downlink, each in its first gap', () => {
  const q = new LinkQueues();
  const car = { id: 'car', link: link(8, 8) };
  const cloud = { id: 'cloud', link: link(80, 8) };
  // 1 MB at 8 Mbit/s: 1000 ms on car's uplink, then 1000 ms on cloud's downlink.
  q.add('j1', car, cloud, 1e6, 0);
  assert.deepEqual(q.busy('car', 0).up, [{ startMs: 0, endMs: 1000 }]);
  assert.deepEqual(q.busy('cloud', 0).down, [{ startMs: 1000, endMs: 2000 }]);
  // A second job's data from the same car waits for the first on the uplink.
  q.add('j2', car, cloud, 1e6, 500);
  assert.deepEqual(q.busy('car', 0).up, [{ startMs: 0, endMs: 2000 }]);
  assert.deepEqual(q.busy('cloud', 0).down, [{ startMs: 1000, endMs: 3000 }]);
  assert.deepEqual(q.backlogMs('cloud', 2500), { up: 0, down: 500 });
  // A job that ends frees its share; time drains the rest.
  q.clear('j1');
  assert.deepEqual(q.busy('car', 0).up, [{ startMs: 1000, endMs: 2000 }]);
  assert.deepEqual(q.busy('car', 2500).up, []);
});

test('link queues — the core plans around a busy link: a job that would send over a backlogged uplink stays home', () => {
  const graph = chainGraph(4, () => ({ flops: 2e9, outputBytes: 40_000 }));
  const [car, edge] = carEdgeCloud();
  for (const algorithm of ['exact', 'heft', 'auto']) {
    const idle = planJob({ graph, devices: [car!, edge!], origin: 'car1', algorithm });
    assert.ok(idle.ok, algorithm);
    assert.ok(Object.values(idle.plan.placement).includes('edge1'), `${algorithm}: on idle links, the edge pays`);
    const busy = planJob({ graph, devices: [{ ...car!, uplinkBusy: [{ startMs: 0, endMs: 600_000 }] }, edge!], origin: 'car1', algorithm });
    assert.ok(busy.ok, algorithm);
    assert.deepEqual(new Set(Object.values(busy.plan.placement)), new Set(['car1']), `${algorithm}: with the uplink taken for ten minutes, everything runs on the car`);
    assert.ok(busy.plan.predictedLatencyMs >= idle.plan.predictedLatencyMs);
  }
});
