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
  assert.equal(q.add('j1', 's0', car, cloud, 1e6, 0, 0), 1000);
  assert.deepEqual(q.busy('car', 0).up, [{ startMs: 0, endMs: 1000 }]);
  assert.deepEqual(q.busy('cloud', 0).down, [{ startMs: 1000, endMs: 2000 }]);
  // A second job's data from the same car waits for the first on the uplink.
  assert.equal(q.add('j2', 's0', car, cloud, 1e6, 500, 0), 2000);
  assert.deepEqual(q.busy('car', 0).up, [{ startMs: 0, endMs: 2000 }]);
  assert.deepEqual(q.busy('cloud', 0).down, [{ startMs: 1000, endMs: 3000 }]);
  // A job that ends frees its share.
  q.clear('j1');
  assert.deepEqual(q.busy('car', 0).up, [{ startMs: 1000, endMs: 2000 }]);
  // Its producer reports on time: the data is off the uplink, and drains from the downlink with the clock.
  q.stageDone('j2', 's0', 2000);
  assert.deepEqual(q.busy('car', 1500).up, []);
  assert.deepEqual(q.busy('cloud', 2500).down, [{ startMs: 0, endMs: 500 }]);
  assert.deepEqual(q.busy('cloud', 3100).down, []);
});

test('link queues — data follows its producer\'s report: overdue, it is still to go; reported late, it arrives late', () => {
  const q = new LinkQueues();
  const car = { id: 'car', link: link(8, 8) };
  const cloud = { id: 'cloud', link: link(80, 80) };
  q.add('j1', 's0', car, cloud, 1e6, 0, 0); // car's uplink 0-1000 ms, cloud's downlink 1000-1100
  q.add('j2', 's0', car, cloud, 5e5, 1200, 0); // 1200-1700 ms, then 1700-1750
  // At 1500 ms j1's producer has not reported, 500 ms overdue: still to go from now as long (500 ms), j2's after it.
  assert.deepEqual(q.busy('car', 1500).up, [{ startMs: 0, endMs: 1000 }]);
  assert.equal(q.backlogMs('car', 1500).up, 1000);
  // Overdue by more than its whole: the whole (it has not started).
  assert.deepEqual(q.busy('car', 3000).up, [{ startMs: 0, endMs: 1500 }]);
  // j1 reports at 1500: off the uplink; it reaches the cloud's downlink 500 ms late.
  q.stageDone('j1', 's0', 1500);
  assert.deepEqual(q.busy('car', 1500).up, [{ startMs: 0, endMs: 200 }]);
  assert.deepEqual(q.busy('cloud', 1500).down, [{ startMs: 0, endMs: 100 }, { startMs: 200, endMs: 250 }]);
  q.stageDone('j2', 's0', 1700);
  assert.deepEqual(q.busy('car', 1700).up, []);
  // A result going home: counts until its stage reports, then drains.
  q.add('j3', 'fin', cloud, car, 1e5, 2000, 2000);
  assert.equal(q.busy('car', 2050).down.length, 1);
  q.stageDone('j3', 'fin', 2010);
  assert.deepEqual(q.busy('car', 2200).down, []);
  // Data whose producer never reports stops counting some time after its planned end.
  q.add('j4', 's0', car, cloud, 1e6, 3000, 3000);
  assert.equal(q.busy('car', 10_000).up.length, 1);
  assert.deepEqual(q.busy('car', 60_000).up, []);
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
