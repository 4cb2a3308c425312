import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DeviceState, DeviceStatus, JobPlan, JobResult, JobStatus, PlannerState, PlannerStatus, Role, StageReport, StageStatus,
  DeviceProfile, type DeviceStatusInit, type JobPlanInit,
} from '../../schemas/generated/edgeweave.ts';
import { encodeTensor } from '../../schemas/tensor-codec.ts';
import { topics } from '../../schemas/topics.ts';
import { compileAcl } from '../../broker/index.ts';
import { DASHBOARD_FILTERS, decodeMessage, type DashboardEvent } from '../../dashboard/model/events.ts';
import { LIMITS, completedStages, initialState, reduce, type DashboardState } from '../../dashboard/model/state.ts';

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** Folds events into a state, freezing every state on the way: the reducer must never mutate. */
function fold(events: DashboardEvent[], from: DashboardState = initialState(0)): DashboardState {
  return events.reduce((s, e) => reduce(deepFreeze(s), e), from);
}

const status = (deviceId: string, init: DeviceStatusInit = {}): DashboardEvent =>
  decodeMessage(topics.deviceStatus(deviceId), DeviceStatus.encode({ deviceId, state: DeviceState.DEVICE_STATE_ONLINE, role: Role.ROLE_EDGE, heartbeatMs: 1000, ...init }), init.sentAtMs ?? 1);

const plan = (jobId: string, init: JobPlanInit = {}): DashboardEvent =>
  decodeMessage(topics.jobPlan('car1', jobId), JobPlan.encode({
    jobId, attempt: 1, originDevice: 'car1', model: { name: 'chain' }, algorithm: 'auto', submittedAtMs: 1000,
    predictedLatencyMs: 80, predictedLocalLatencyMs: 200,
    stages: [
      { stageId: 's1', deviceId: 'car1', taskIds: ['input', 'a'], predicted: { readyMs: 0, startMs: 0, computeMs: 10, finishMs: 10 } },
      { stageId: 's2', deviceId: 'edge1', taskIds: ['b'], predicted: { readyMs: 30, startMs: 30, transferInMs: 20, computeMs: 40, finishMs: 70 } },
    ],
    ...init,
  }), 5);

const report = (jobId: string, stageId: string, attempt = 1, st: StageStatus = StageStatus.STAGE_STATUS_OK): DashboardEvent =>
  decodeMessage(topics.jobReport('car1', jobId), StageReport.encode({ jobId, attempt, stageId, deviceId: 'x', status: st, timing: { stageId, deviceId: 'x', startAtMs: 1, endAtMs: 2 } }), 6);

const result = (jobId: string, st: JobStatus, latencyMs = 100, atMs = 10): DashboardEvent =>
  decodeMessage(topics.jobResult('car1', jobId), JobResult.encode({
    jobId, attempt: 1, status: st, latencyMs, predictedLatencyMs: 80, algorithm: 'auto',
    outputs: [encodeTensor({ dtype: 'float32', shape: [1, 3], values: new Float32Array([1, 2, 3]) })],
  }), atMs);

test('dashboard model — every topic the dashboard subscribes to is allowed to the observer role', () => {
  const acl = compileAcl('dashboard', 'observer');
  for (const filter of DASHBOARD_FILTERS) assert.ok(acl.canSubscribe(filter), filter);
  assert.equal(new Set(DASHBOARD_FILTERS).size, 6);
  assert.ok(!DASHBOARD_FILTERS.some((f) => f.includes('inbox') || f.includes('assign')), 'never inboxes or assignments');
});

test('dashboard model — messages decode by topic; the topic names the device or job, not the payload', () => {
  const s = decodeMessage(topics.deviceStatus('car1'), DeviceStatus.encode({ deviceId: 'imposter', load: 0.5 }), 7);
  assert.equal(s.kind, 'deviceStatus');
  assert.equal(s.kind === 'deviceStatus' && s.status.deviceId, 'car1');
  assert.equal(s.kind === 'deviceStatus' && s.atMs, 7);
  const r = result('j1', JobStatus.JOB_STATUS_OK);
  assert.ok(r.kind === 'jobResult' && r.originId === 'car1' && r.jobId === 'j1');
  assert.deepEqual(r.kind === 'jobResult' && r.result.outputs, [], 'output tensors are dropped');
  const p = decodeMessage(topics.plannerStatus('p1'), PlannerStatus.encode({ plannerId: 'p1' }), 1);
  assert.equal(p.kind, 'plannerStatus');
  assert.equal(decodeMessage(topics.deviceProfile('car1'), DeviceProfile.encode({ engine: 'wasm' }), 1).kind, 'deviceProfile');
});

test('dashboard model — foreign topics are ignored and malformed payloads become problems, never exceptions', () => {
  assert.deepEqual(decodeMessage('other/topic', new Uint8Array([1]), 1), { kind: 'ignored' });
  assert.deepEqual(decodeMessage(topics.deviceInbox('car1'), new Uint8Array([1]), 1), { kind: 'ignored' });
  const bad = decodeMessage(topics.jobPlan('car1', 'j1'), new Uint8Array([0x0a, 0xff, 0xff]), 3);
  assert.equal(bad.kind, 'problem');
  const s = fold([bad]);
  assert.equal(s.problems.count, 1);
  assert.match(s.problems.last, /jobs\/car1\/j1\/plan/);
});

test('dashboard model — devices: latest status wins, colours keep first-seen order, profiles kept apart', () => {
  const s = fold([
    status('edge1'), status('car1', { role: Role.ROLE_IOT }), status('edge1', { load: 0.5 }),
    decodeMessage(topics.deviceProfile('cloud1'), DeviceProfile.encode({ engine: 'wasm' }), 2),
  ]);
  assert.deepEqual(s.deviceOrder, ['edge1', 'car1']);
  assert.equal(s.devices['edge1']!.status.load, 0.5);
  assert.equal(s.profiles['cloud1']!.engine, 'wasm', 'a profile before its status is kept');
});

test('dashboard model — bandwidth: trace rates and planner estimates become bounded histories', () => {
  const events: DashboardEvent[] = [status('car1', { traceUpBps: 0 })];
  for (let i = 0; i < LIMITS.bandwidthPoints + 5; i++) events.push(status('car1', { traceUpBps: 1e6 + i, sentAtMs: 100 + i }));
  events.push(decodeMessage(topics.plannerStatus('p1'), PlannerStatus.encode({
    plannerId: 'p1', state: PlannerState.PLANNER_STATE_ONLINE, estimates: [{ deviceId: 'car1', upBps: 4e6 }, { deviceId: 'ghost', upBps: 0 }],
  }), 9999));
  const s = fold(events);
  const bw = s.bandwidth['car1']!;
  assert.equal(bw.trace.length, LIMITS.bandwidthPoints, 'bounded');
  assert.equal(bw.trace[bw.trace.length - 1]!.bps, 1e6 + LIMITS.bandwidthPoints + 4, 'newest kept');
  assert.deepEqual(bw.estimatedUp, [{ atMs: 9999, bps: 4e6 }]);
  assert.equal(s.bandwidth['ghost'], undefined, 'no estimate, no series');
});

const plannerStatus = (plannerId: string, atMs: number, estimates: Array<{ deviceId: string; queuedMs?: number; uplinkBacklogMs?: number; downlinkBacklogMs?: number }>, state: PlannerState = PlannerState.PLANNER_STATE_ONLINE): DashboardEvent =>
  decodeMessage(topics.plannerStatus(plannerId), PlannerStatus.encode({ plannerId, state, estimates }), atMs);

test('dashboard model — load: planner estimates and device queues become a per-device series; nothing is invented', () => {
  const s = fold([
    status('car1', { queuedStages: 2, sentAtMs: 10 }),
    plannerStatus('p1', 20, [{ deviceId: 'car1', queuedMs: 150, uplinkBacklogMs: 40, downlinkBacklogMs: 5 }, { deviceId: 'edge1', queuedMs: 0 }]),
    status('car1', { queuedStages: 0, sentAtMs: 30 }),
    status('cloud1', { state: DeviceState.DEVICE_STATE_OFFLINE, queuedStages: 0 }),
  ]);
  assert.deepEqual(s.load['car1'], [
    { atMs: 10, queuedMs: null, uplinkBacklogMs: null, downlinkBacklogMs: null, queuedStages: 2 },
    { atMs: 20, queuedMs: 150, uplinkBacklogMs: 40, downlinkBacklogMs: 5, queuedStages: null },
    { atMs: 30, queuedMs: null, uplinkBacklogMs: null, downlinkBacklogMs: null, queuedStages: 0 },
  ], 'each point holds what its message said; the rest is unknown, not 0');
  assert.deepEqual(s.load['edge1'], [{ atMs: 20, queuedMs: 0, uplinkBacklogMs: 0, downlinkBacklogMs: 0, queuedStages: null }], 'an idle device the planner knows is a real 0');
  assert.equal(s.load['cloud1'], undefined, 'an offline status is no sample');
  assert.equal(initialState(0).load['car1'], undefined);
});

test('dashboard model — load: several planners report a device; each figure is the max over the online planners', () => {
  const s = fold([
    plannerStatus('p1', 10, [{ deviceId: 'edge1', queuedMs: 300, uplinkBacklogMs: 5, downlinkBacklogMs: 0 }]),
    plannerStatus('p2', 11, [{ deviceId: 'edge1', queuedMs: 100, uplinkBacklogMs: 50, downlinkBacklogMs: 7 }]),
    plannerStatus('p1', 12, [{ deviceId: 'edge1', queuedMs: 200, uplinkBacklogMs: 0, downlinkBacklogMs: 0 }]),
    plannerStatus('p2', 13, [], PlannerState.PLANNER_STATE_OFFLINE),
    plannerStatus('p1', 14, [{ deviceId: 'edge1', queuedMs: 20, uplinkBacklogMs: 1, downlinkBacklogMs: 0 }]),
  ]);
  assert.deepEqual(s.load['edge1']!.map((p) => [p.atMs, p.queuedMs, p.uplinkBacklogMs, p.downlinkBacklogMs]), [
    [10, 300, 5, 0],
    [11, 300, 50, 7], // p1 still has 300 ms placed on it; p2 the most data on its links
    [12, 200, 50, 7], // p1's latest replaces its earlier figure
    [14, 20, 1, 0], // p2 went offline: its figures no longer count
  ]);
});

test('dashboard model — load: the series is bounded per device, newest kept, devices apart', () => {
  const events: DashboardEvent[] = [];
  for (let i = 0; i < LIMITS.loadPoints + 7; i++) {
    events.push(plannerStatus('p1', 1000 + i, [{ deviceId: 'car1', queuedMs: i }, ...(i < 3 ? [{ deviceId: 'edge1', queuedMs: 1000 + i }] : [])]));
  }
  const s = fold(events);
  const car = s.load['car1']!;
  assert.equal(car.length, LIMITS.loadPoints, 'bounded');
  assert.equal(car[car.length - 1]!.queuedMs, LIMITS.loadPoints + 6, 'newest kept');
  assert.equal(car[0]!.queuedMs, 7, 'oldest dropped');
  assert.deepEqual(s.load['edge1']!.map((p) => p.queuedMs), [1000, 1001, 1002], 'another device keeps its own points');
});

test('dashboard model — a job: plan, reports, result; the first OK result is kept and timed', () => {
  const s = fold([plan('j1'), report('j1', 's1'), report('j1', 's1'), report('j1', 's2', 1, StageStatus.STAGE_STATUS_FAILED), result('j1', JobStatus.JOB_STATUS_OK, 120, 50), result('j1', JobStatus.JOB_STATUS_FAILED)]);
  const job = s.jobs['car1/j1']!;
  assert.deepEqual(s.jobOrder, ['car1/j1']);
  assert.equal(job.reports.length, 3);
  assert.deepEqual(completedStages(job).map((r) => r.stageId), ['s1'], 'one per stage, OK only');
  assert.equal(job.result!.status, JobStatus.JOB_STATUS_OK, 'a later failure does not replace an OK result');
  assert.equal(job.finishedAtMs, 50);
  assert.deepEqual(s.latency, [{ atMs: 50, jobKey: 'car1/j1', model: 'chain', algorithm: 'auto', latencyMs: 120, predictedMs: 80, localPredictedMs: 200 }]);
});

test('dashboard model — a re-plan supersedes the plan; an older attempt arriving late does not', () => {
  const s = fold([plan('j1', { attempt: 2, algorithm: 'heft' }), plan('j1', { attempt: 1 }), report('j1', 's1', 1), report('j1', 's2', 2)]);
  const job = s.jobs['car1/j1']!;
  assert.equal(job.plan!.attempt, 2);
  assert.deepEqual(completedStages(job).map((r) => r.stageId), ['s2'], 'reports of the plan\'s attempt only');
});

test('dashboard model — a failed job is listed but adds no latency point', () => {
  const s = fold([plan('j1'), result('j1', JobStatus.JOB_STATUS_FAILED)]);
  assert.equal(s.jobs['car1/j1']!.result!.status, JobStatus.JOB_STATUS_FAILED);
  assert.deepEqual(s.latency, []);
});

test('dashboard model — the newest finished job is shown until someone picks one', () => {
  let s = fold([plan('j1'), result('j1', JobStatus.JOB_STATUS_OK), plan('j2')]);
  assert.equal(s.selectedJobKey, 'car1/j1', 'a job only planned is not followed');
  s = fold([result('j2', JobStatus.JOB_STATUS_OK)], s);
  assert.equal(s.selectedJobKey, 'car1/j2');
  s = fold([{ kind: 'selectJob', jobKey: 'car1/j1' }, plan('j3'), result('j3', JobStatus.JOB_STATUS_OK)], s);
  assert.equal(s.selectedJobKey, 'car1/j1', 'a pick sticks');
  assert.equal(fold([{ kind: 'selectJob', jobKey: 'car1/nope' }], s), s, 'an unknown job changes nothing');
  s = fold([{ kind: 'selectJob', jobKey: null }, plan('j4'), result('j4', JobStatus.JOB_STATUS_OK)], s);
  assert.equal(s.selectedJobKey, 'car1/j4', 'clearing the pick follows again');
});

test('dashboard model — the job list is bounded, oldest first out, the selected job kept', () => {
  let s = fold([plan('first'), { kind: 'selectJob', jobKey: 'car1/first' }]);
  const events: DashboardEvent[] = [];
  for (let i = 0; i < LIMITS.jobs + 10; i++) events.push(plan(`j${i}`));
  s = fold(events, s);
  assert.equal(s.jobOrder.length, LIMITS.jobs);
  assert.equal(Object.keys(s.jobs).length, LIMITS.jobs);
  assert.ok(s.jobs['car1/first'], 'the selected job stays');
  assert.ok(!s.jobs['car1/j0'], 'the oldest others go');
  assert.equal(s.jobOrder[s.jobOrder.length - 1], `car1/j${LIMITS.jobs + 9}`);
});

test('dashboard model — connection and subscription facts', () => {
  const s = fold([
    { kind: 'connection', state: 'connected', detail: 'ws://x', atMs: 3 },
    { kind: 'subscribed', refused: ['edgeweave/v1/jobs/+/+/plan'], atMs: 4 },
  ]);
  assert.deepEqual(s.connection, { state: 'connected', detail: 'ws://x', sinceMs: 3 });
  assert.deepEqual(s.refusedFilters, ['edgeweave/v1/jobs/+/+/plan']);
  assert.equal(s.subscriptions, 'refused');
  assert.equal(reduce(s, { kind: 'connection', state: 'reconnecting', detail: '', atMs: 5 }).subscriptions, 'pending', 'asked again on each connection');
  assert.equal(reduce(s, { kind: 'subscribed', refused: [], atMs: 6 }).subscriptions, 'granted');
  assert.equal(reduce(s, { kind: 'ignored' }), s);
});
