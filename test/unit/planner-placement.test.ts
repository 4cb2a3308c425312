import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeviceRegistry } from '../../planner/device-registry.ts';
import { newJob } from '../../planner/job-book.ts';
import { placeAttempt } from '../../planner/placement.ts';
import { DeviceState, DeviceStatus, JobRequest, PlannerState, PlannerStatus, Role, StageTiming, type JobRequestInit } from '../../schemas/generated/edgeweave.ts';
import { chainGraph } from '../support/planner-fixtures.ts';

const NOW = 1_000_000;
const graph = chainGraph(6, () => ({ flops: 5e9, outputBytes: 40_000 }));
const model = { id: 'chain', sha256: '' };

function registry(): DeviceRegistry {
  const r = new DeviceRegistry();
  const status = (deviceId: string, role: Role, speed: number, up: number): DeviceStatus => DeviceStatus.create({
    deviceId, role, state: DeviceState.DEVICE_STATE_ONLINE, speed, memoryBytes: 8 * 2 ** 30, workers: ['w0'], heartbeatMs: 1000,
    models: ['chain'], incarnation: 'x', link: { upBps: up, downBps: up, rttMs: 10 },
  });
  r.updateStatus(status('car1', Role.ROLE_IOT, 0.1, 10e6), NOW);
  r.updateStatus(status('edge1', Role.ROLE_EDGE, 1, 200e6), NOW);
  return r;
}

const job = (over: Partial<JobRequestInit>) => newJob(JobRequest.create({ jobId: 'j', originDevice: 'car1', model: { name: 'chain' }, algorithm: 'auto', ...over }), model, graph, NOW);
const defaults = { algorithm: 'auto' };

test('placement — idle devices: planned', () => {
  const p = placeAttempt(registry(), job({ timeoutMs: 10_000 }), false, defaults, 5, NOW);
  assert.equal(p.kind, 'plan');
});

test('placement — devices busy past the job\'s deadline: refused at once with E_OVERLOADED, which idle devices would not be', () => {
  const r = registry();
  const idle = placeAttempt(r, job({ timeoutMs: 10_000 }), false, defaults, 5, NOW);
  assert.equal(idle.kind, 'plan');
  const idleMs = idle.kind === 'plan' ? idle.core.predictedLatencyMs : 0;
  // Both devices' executors are taken for a minute by earlier jobs.
  r.addBusy('car1', 'other', 's0', 0, NOW, NOW + 60_000);
  r.addBusy('edge1', 'other', 's0', 0, NOW, NOW + 60_000);
  const busy = placeAttempt(r, job({ objective: { kind: 1, deadlineMs: Math.ceil(idleMs * 3) } }), false, defaults, 5, NOW);
  assert.equal(busy.kind, 'refuse');
  assert.equal(busy.kind === 'refuse' && busy.code, 'E_OVERLOADED', busy.kind === 'refuse' ? busy.message : '');
  // A timeout is no deadline: the job is planned, and waits its turn.
  assert.equal(placeAttempt(r, job({ timeoutMs: Math.ceil(idleMs * 3) }), false, defaults, 5, NOW).kind, 'plan');
});

test('placement — a deadline no idle device could meet either: E_INFEASIBLE, not E_OVERLOADED', () => {
  const p = placeAttempt(registry(), job({ objective: { kind: 1, deadlineMs: 1 } }), false, defaults, 5, NOW);
  assert.equal(p.kind === 'refuse' && p.code, 'E_INFEASIBLE');
});

test('learning — stages in flight, planned with an old factor, move the factor to what they show, not past it', () => {
  const r = registry();
  const timing = (predicted: number, measured: number): StageTiming => StageTiming.create({ deviceId: 'edge1', computeMs: measured, predicted: { computeMs: predicted } });
  // edge1 was believed twice as slow (factor 2) when 40 stages were planned; each took the profiled 50 ms.
  r.get('edge1')!.loadFactor = 2;
  for (let i = 0; i < 40; i++) r.learnCompute('edge1', timing(100, 50), 2, NOW);
  const settled = r.get('edge1')!.loadFactor;
  assert.ok(Math.abs(settled - 1) < 0.05, `the factor settles at what the stages show (1), got ${settled}`);
  // Without the factor they were planned with, each ratio would scale the current factor again.
  r.get('edge1')!.loadFactor = 2;
  for (let i = 0; i < 40; i++) r.learnCompute('edge1', timing(100, 50), undefined, NOW);
  assert.ok(r.get('edge1')!.loadFactor < 0.2, 'compounded, the same measurements drive it far below the truth');
});

test('queues — placed work stays until its stage reports, and late work pushes what follows', () => {
  const r = registry();
  const model = { id: 'chain', sha256: '' };
  const edge = (): { startMs: number; endMs: number }[] => (r.spec(r.get('edge1')!, model, false, NOW).busy ?? []).map(({ startMs, endMs }) => ({ startMs, endMs }));
  // Planned 200 ms ago for 100 ms, not reported: still queued, from now; the next job's stage after it.
  r.addBusy('edge1', 'a', 's1', 0, NOW - 200, NOW - 100);
  r.addBusy('edge1', 'b', 's1', 0, NOW + 50, NOW + 80);
  assert.deepEqual(edge(), [{ startMs: 0, endMs: 100 }, { startMs: 100, endMs: 130 }]);
  assert.equal(r.estimates(NOW).find((e) => e.deviceId === 'edge1')!.queuedMs, 130);
  // Its report: done; the next one goes back to its planned time.
  r.stageDone('edge1', 'a', 's1');
  assert.deepEqual(edge(), [{ startMs: 50, endMs: 80 }]);
  // Past its planned end but its report not due yet (its outputs still crossing the uplink): over.
  r.addBusy('edge1', 'd', 's1', 0, NOW - 100, NOW - 50, NOW + 20);
  assert.deepEqual(edge(), [{ startMs: 50, endMs: 80 }]);
  // Its report overdue by 30 ms: 30 ms still to go, from now.
  assert.deepEqual((r.spec(r.get('edge1')!, model, false, NOW + 50).busy ?? []).map(({ startMs, endMs }) => ({ startMs, endMs })), [{ startMs: 0, endMs: 30 }, { startMs: 30, endMs: 60 }]);
  r.stageDone('edge1', 'd', 's1');
  // A report that never comes does not hold the device for ever.
  r.addBusy('edge1', 'c', 's2', 0, NOW - 60_000, NOW - 59_000);
  assert.deepEqual(edge(), [{ startMs: 50, endMs: 80 }]);
});

test('queues — several planners: another planner\'s published queues come first, drained by their age; its own stay its own', () => {
  const r = registry();
  const model = { id: 'chain', sha256: '' };
  const other = (queuedMs: number, up: number, state: PlannerState = PlannerState.PLANNER_STATE_ONLINE): PlannerStatus => PlannerStatus.create({
    plannerId: 'p2', state, estimates: [{ deviceId: 'edge1', queuedMs, uplinkBacklogMs: up, downlinkBacklogMs: 0 }],
  });
  r.addBusy('edge1', 'mine', 's1', 0, NOW + 10, NOW + 30);
  r.notePlanner('p1', other(400, 250), NOW);
  const spec = r.spec(r.get('edge1')!, model, false, NOW + 100);
  // 400 ms on the one executor, 100 ms drained: 300 ms ahead; this planner's own work after it.
  assert.deepEqual(spec.busy!.map(({ startMs, endMs }) => ({ startMs, endMs })), [{ startMs: 0, endMs: 300 }, { startMs: 300, endMs: 320 }]);
  assert.deepEqual(spec.uplinkBusy, [{ startMs: 0, endMs: 150 }]);
  // What this planner publishes is its own placements only (no echo of the other's).
  assert.equal(r.estimates(NOW + 100).find((e) => e.deviceId === 'edge1')!.queuedMs, 20);
  // Its own status is not another planner's; a stale or offline one no longer counts.
  r.notePlanner('p1', PlannerStatus.create({ ...other(999, 0), plannerId: 'p1' }), NOW);
  assert.equal(r.othersLoad('edge1', 1, NOW + 100).perWorkerMs, 300);
  assert.equal(r.othersLoad('edge1', 1, NOW + 10_000).perWorkerMs, 0);
  r.notePlanner('p1', other(400, 0), NOW);
  r.notePlanner('p1', other(400, 0, PlannerState.PLANNER_STATE_OFFLINE), NOW);
  assert.equal(r.othersLoad('edge1', 1, NOW).perWorkerMs, 0);
});
