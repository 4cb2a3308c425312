import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeviceRegistry } from '../../planner/device-registry.ts';
import { newJob, spentMs } from '../../planner/job-book.ts';
import { placeAttempt } from '../../planner/placement.ts';
import { PlannerLearning } from '../../planner/learning.ts';
import { DeviceState, DeviceStatus, JobPlan, JobRequest, PlannerState, PlannerStatus, Role, StageTiming, type JobRequestInit } from '../../schemas/generated/edgeweave.ts';
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

test('placement — a deadline counts from the submission: a job that spent it on its way here is refused at once with E_OVERLOADED', () => {
  const r = registry();
  const fresh = placeAttempt(r, job({ timeoutMs: 10_000 }), false, defaults, 5, NOW);
  assert.equal(fresh.kind, 'plan');
  const idleMs = fresh.kind === 'plan' ? fresh.core.predictedLatencyMs : 0;
  const deadlineMs = Math.ceil(idleMs * 1.5);
  // Submitted just now (reference clock): planned.
  assert.equal(placeAttempt(r, job({ objective: { kind: 1, deadlineMs }, submittedAtRefMs: NOW - 1 }), false, defaults, 5, NOW).kind, 'plan');
  // Submitted long enough ago that the rest of its deadline is shorter than any plan: refused, saying why.
  const late = placeAttempt(r, job({ objective: { kind: 1, deadlineMs }, submittedAtRefMs: NOW - Math.ceil(idleMs * 0.6) }), false, defaults, 5, NOW);
  assert.equal(late.kind === 'refuse' && late.code, 'E_OVERLOADED', late.kind === 'refuse' ? late.message : late.kind);
  assert.match(late.kind === 'refuse' ? late.message : '', /gone since its submission/);
  // Its whole deadline gone: refused without a plan.
  const gone = placeAttempt(r, job({ objective: { kind: 1, deadlineMs }, submittedAtRefMs: NOW - deadlineMs }), false, defaults, 5, NOW);
  assert.match(gone.kind === 'refuse' ? gone.message : '', /nothing is left of its deadline/);
  // Recent jobs ran late by 60% of their predictions: that much of this plan is kept to spare, and it no longer fits.
  const margin = placeAttempt(r, job({ objective: { kind: 1, deadlineMs } }), false, defaults, 5, NOW, undefined, 0.6);
  assert.equal(margin.kind === 'refuse' && margin.code, 'E_OVERLOADED');
  assert.match(margin.kind === 'refuse' ? margin.message : '', /60% of the plan kept to spare/);
  assert.equal(placeAttempt(r, job({ objective: { kind: 1, deadlineMs } }), false, defaults, 5, NOW, undefined, 0.2).kind, 'plan', 'with 20% to spare it fits');
  // Planned again (a device lost): the attempt is not refused for the time its first one took.
  assert.equal(placeAttempt(r, job({ objective: { kind: 1, deadlineMs }, submittedAtRefMs: NOW - Math.ceil(idleMs * 0.6) }), true, defaults, 5, NOW).kind, 'plan');
});

test('placement — the time since submission: from the origin\'s reference time, else from arrival; a time ahead of now is no time', () => {
  const arrived = newJob(JobRequest.create({ jobId: 'j', originDevice: 'car1', submittedAtRefMs: NOW - 300 }), model, graph, NOW - 100);
  assert.equal(spentMs(arrived, NOW), 300);
  assert.equal(spentMs(newJob(JobRequest.create({ jobId: 'j', originDevice: 'car1' }), model, graph, NOW - 100), NOW), 100);
  assert.equal(spentMs(newJob(JobRequest.create({ jobId: 'j', originDevice: 'car1', submittedAtRefMs: NOW + 5_000 }), model, graph, NOW - 100), NOW), 100);
});

test('learning — the margin a deadline is judged with widens on each miss and narrows on each job in time, about one miss in two hundred', () => {
  const learning = new PlannerLearning(registry());
  const done = (deadlineMs: number, tookMs: number, at = NOW): void => {
    const j = newJob(JobRequest.create({ jobId: 'j', originDevice: 'car1', objective: { kind: 1, deadlineMs }, submittedAtRefMs: at - tookMs }), model, graph, at - tookMs + 20);
    j.attemptsPlanned = 1;
    learning.fromResult(j, at);
  };
  for (let i = 0; i < 100; i++) done(1000, 400);
  assert.equal(learning.spareShare, 0, 'jobs in time leave nothing to spare, never less');
  // Counted from the origin's submission (its reference time), not from the planner seeing it 20 ms later.
  done(1000, 1010);
  assert.ok(Math.abs(learning.spareShare - 0.1) < 1e-9, `one miss by 10 ms: ${learning.spareShare}`);
  for (let i = 0; i < 4; i++) done(1000, 1500);
  assert.ok(Math.abs(learning.spareShare - 0.5) < 1e-9);
  // Misses at one in two hundred hold it where it is.
  for (let i = 0; i < 199; i++) done(1000, 500);
  done(1000, 1500);
  assert.ok(Math.abs(learning.spareShare - 0.5) < 1e-6, `${learning.spareShare}`);
  // Jobs without a deadline, or planned more than once, say nothing of it.
  const noDeadline = newJob(JobRequest.create({ jobId: 'k', originDevice: 'car1' }), model, graph, NOW - 5000);
  noDeadline.attemptsPlanned = 1;
  learning.fromResult(noDeadline, NOW);
  assert.ok(Math.abs(learning.spareShare - 0.5) < 1e-6);
  // All in time again: it narrows back to nothing.
  for (let i = 0; i < 20_000; i++) done(1000, 300);
  assert.equal(learning.spareShare, 0);
  // Its result seen here 950 ms after submission, with 100 ms still to go to its origin as planned: a miss there.
  const j = newJob(JobRequest.create({ jobId: 'm', originDevice: 'car1', objective: { kind: 1, deadlineMs: 1000 }, submittedAtRefMs: NOW - 950 }), model, graph, NOW - 940);
  j.attemptsPlanned = 1;
  j.plan = JobPlan.create({ jobId: 'm', predictedLatencyMs: 900, stages: [{ stageId: 's0', deviceId: 'edge1', predicted: { finishMs: 800 } }] });
  learning.fromResult(j, NOW);
  assert.ok(learning.spareShare > 0, 'the way to its origin counts');
});

test('learning — the dispatch delay is learned from a first stage told to start, not from its wait in a busy queue', () => {
  const learning = new PlannerLearning(registry());
  const first = (fromDevice: string, readyLate: number, startLate: number): void => {
    const j = job({});
    j.attemptsPlanned = 1;
    j.dispatchMs = 5;
    j.plan = JobPlan.create({ jobId: 'j', submittedAtMs: NOW, stages: [{ stageId: 's0', deviceId: 'car1', inputs: [{ tensor: 'x', fromDevice, fromStage: '' }] }] });
    const timing = StageTiming.create({ stageId: 's0', deviceId: 'car1', readyAtMs: NOW + 5 + readyLate, startAtMs: NOW + 5 + startLate, predicted: { readyMs: 5, startMs: 5 } });
    learning.fromReport(j, j.plan.stages[0]!, { jobId: 'j', deviceId: 'car1', stageId: 's0', timing } as never);
  };
  for (let i = 0; i < 30; i++) first('car1', 20, 900);
  assert.ok(Math.abs(learning.dispatchMs - 25) < 1, `told 20 ms late to start, waited 900 ms in its queue: dispatch ${learning.dispatchMs}`);
  // A first stage fed over a link shows the link, not the dispatch: nothing learned.
  for (let i = 0; i < 30; i++) first('edge1', 500, 500);
  assert.ok(Math.abs(learning.dispatchMs - 25) < 1);
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
