import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fleetCapacity, LATENCY_BOUND } from '../../planner/capacity.ts';
import { rateOf } from '../../planner/fleet-mix.ts';
import { maximize } from '../../planner/simplex.ts';
import { planJob, type DeviceSpec, type PlanRequest } from '../../planner/core/index.ts';
import { makeGraph } from '../support/planner-fixtures.ts';

const FAST = { upBps: 1e12, downBps: 1e12, rttMs: 0 };

/** input (on the origin) -> work -> a small output. */
function graph(inputBytes: number) {
  return makeGraph([
    { id: 'input', outputBytes: inputBytes, flops: 0 },
    { id: 'work', preds: ['input'], outputBytes: 40 },
  ]);
}

function device(id: string, role: DeviceSpec['role'], workMs: number, extra: Partial<DeviceSpec> = {}): DeviceSpec {
  return { id, role, speed: 1, memoryBytes: 2 ** 30, link: FAST, profileMs: { input: 0, work: workMs }, ...extra };
}

function stream(origin: string, inputBytes = 400, weight = 1): { request: Omit<PlanRequest, 'devices'>; weight: number } {
  return { request: { graph: graph(inputBytes), origin, algorithm: 'auto', pins: { input: origin } }, weight };
}

/** The capacity of `devices` for `streams` (every stream over all of them). */
function capacityOf(streams: ReturnType<typeof stream>[], devices: DeviceSpec[]): ReturnType<typeof fleetCapacity> {
  return fleetCapacity(streams.map((s) => ({ ...s, request: { ...s.request, devices } })));
}

/** Seconds of `device`'s executors one job takes when it runs `work` there (read off the core's own plan). */
function workSeconds(devices: DeviceSpec[], origin: string, on: string): number {
  const outcome = planJob({ ...stream(origin).request, devices: devices.filter((d) => d.id === origin || d.id === on), pins: { input: origin, work: on } });
  assert.ok(outcome.ok);
  const t = outcome.plan.tasks.find((x) => x.id === 'work')!;
  return (t.finishMs - t.startMs) / 1000;
}

test('simplex: a textbook program, and an unbounded one', () => {
  // max 3x + 5y  s.t.  x <= 4, 2y <= 12, 3x + 2y <= 18  ->  x = 2, y = 6 (36).
  const x = maximize([3, 5], [[1, 0], [0, 2], [3, 2]], [4, 12, 18])!;
  assert.ok(Math.abs(x[0]! - 2) < 1e-9 && Math.abs(x[1]! - 6) < 1e-9, `got ${x.join(', ')}`);
  assert.equal(maximize([1, 0], [[-1, 1]], [1]), undefined);
  assert.throws(() => maximize([1], [[1]], [-1]), /right-hand side/);
});

test('capacity: the edge\'s executors, plus the origin where running there is fast enough', () => {
  // Running on the car takes 1.2x the edge: within the latency bound, so both count.
  const near = [device('car1', 'iot', 12), device('edge1', 'edge', 10, { workers: 2 })];
  const both = capacityOf([stream('car1')], near)!;
  const expected = 2 / workSeconds(near, 'car1', 'edge1') + 1 / workSeconds(near, 'car1', 'car1');
  assert.ok(Math.abs(both.jobsPerS - expected) / expected < 0.01, `${both.jobsPerS} against ${expected}`);
  assert.deepEqual([...both.bottleneck].sort(), ['car1 compute', 'edge1 compute']);
  // The car 2x slower than the edge: a job run there would take more than LATENCY_BOUND x its best.
  assert.ok(LATENCY_BOUND < 2);
  const far = [device('car1', 'iot', 20), device('edge1', 'edge', 10, { workers: 2 })];
  const edgeOnly = capacityOf([stream('car1')], far)!;
  const expectedEdge = 2 / workSeconds(far, 'car1', 'edge1');
  assert.ok(Math.abs(edgeOnly.jobsPerS - expectedEdge) / expectedEdge < 0.01, `${edgeOnly.jobsPerS} against ${expectedEdge}`);
  assert.deepEqual(edgeOnly.bottleneck, ['edge1 compute']);
});

test('capacity: a shared downlink limits what the origins can send the edge', () => {
  // 1 MB inputs; the edge's downlink carries 80 Mbit/s = 10 jobs/s; its executors could take 100/s.
  const bytes = 1_000_000;
  const devices = [
    device('car1', 'iot', 1000), device('car2', 'iot', 1000),
    device('edge1', 'edge', 10, { link: { upBps: 1e12, downBps: 80e6, rttMs: 0 } }),
  ];
  const c = capacityOf([stream('car1', bytes), stream('car2', bytes)], devices)!;
  // The cars' own runs (1 s) are too slow to count, and car2 running car1's job does not help either.
  assert.ok(Math.abs(c.jobsPerS - 10) < 0.2, `${c.jobsPerS}`);
  assert.deepEqual(c.bottleneck, ['edge1 downlink']);
});

test('capacity: each stream is served in its share', () => {
  // car1's jobs can only run on the edge: its own runs are too slow, and car2's downlink too
  // slow to take its inputs (3.2 s for 400 kB); car2's run at home too.
  const devices = [device('car1', 'iot', 1000), device('car2', 'iot', 12, { link: { upBps: 1e12, downBps: 1e6, rttMs: 0 } }), device('edge1', 'edge', 10)];
  const edge = 1 / workSeconds(devices, 'car1', 'edge1');
  const home = 1 / workSeconds(devices, 'car2', 'car2');
  // Shares 3:1 — car1 needs 3/4 of the rate from the edge, car2 takes the rest of the edge and its own.
  const c = capacityOf([stream('car1', 400_000, 3), stream('car2', 400_000, 1)], devices)!;
  const expected = Math.min(edge / 0.75, edge + home);
  assert.ok(Math.abs(c.jobsPerS - expected) / expected < 0.01, `${c.jobsPerS} against ${expected}`);
  // No streams, or a job no device can run: no capacity.
  assert.equal(capacityOf([], devices), undefined);
  assert.equal(capacityOf([{ ...stream('car9'), weight: 1 }], devices), undefined);
});

test('fleet mix — a steady stream\'s rate from the spacing of its jobs, however few; a stream gone quiet fades', () => {
  // A job every 5 s (0.2 / s): four in the window, read a moment after the last.
  assert.ok(Math.abs(rateOf([0, 5000, 10_000, 15_000], 15_500) - 0.2) < 1e-9);
  assert.ok(Math.abs(rateOf([0, 5000, 10_000, 15_000], 19_000) - 0.2) < 1e-9);
  // Quiet for longer than two gaps: its jobs over the time it has been seen.
  assert.ok(Math.abs(rateOf([0, 5000, 10_000, 15_000], 29_000) - 4 / 29) < 1e-9);
  // One or two jobs: over the time seen, at least a second.
  assert.equal(rateOf([1000], 1200), 1);
  assert.equal(rateOf([0, 1000], 4000), 0.5);
});

test('capacity: each stream is planned with its own model\'s profiles of the devices', () => {
  // The same edge takes 10 ms for one stream's model and 30 ms for the other's; the cars are too slow to count.
  const fast = [device('car1', 'iot', 100), device('edge1', 'edge', 10)];
  const slow = [device('car1', 'iot', 100), device('edge1', 'edge', 30)];
  const c = fleetCapacity([{ ...stream('car1'), request: { ...stream('car1').request, devices: fast } }, { ...stream('car1'), request: { ...stream('car1').request, devices: slow } }])!;
  // Half the jobs of each: the edge's executor is busy (w1 + w2) / 2 per job.
  const expected = 1 / ((workSeconds(fast, 'car1', 'edge1') + workSeconds(slow, 'car1', 'edge1')) / 2);
  assert.ok(Math.abs(c.jobsPerS - expected) / expected < 0.01, `${c.jobsPerS} against ${expected}`);
});
