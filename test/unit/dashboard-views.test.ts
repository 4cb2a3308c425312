import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DeviceState, JobPlan, JobResult, JobStatus, PlannerState, PlannerStatus, Role, StageStatus, StageTiming, DeviceStatus,
  type DeviceStatusInit, type JobPlanInit, type JobResultInit,
} from '../../schemas/generated/edgeweave.ts';
import { initialState, reduce, type DashboardState } from '../../dashboard/model/state.ts';
import type { DashboardEvent } from '../../dashboard/model/events.ts';
import {
  bandwidthSeries, dagView, deviceRows, energyView, ganttView, jobRows, latencySeries, loadSeries, predictedRowLabel, tracePlaying,
} from '../../dashboard/model/views.ts';
import { brokerUrlFor, isWebSocketUrl, sameOriginBrokerUrl } from '../../dashboard/model/config.ts';
import { deviceColor, formatBps, formatMs } from '../../dashboard/model/format.ts';

const fold = (events: DashboardEvent[], from = initialState(0)): DashboardState => events.reduce(reduce, from);

const status = (deviceId: string, init: DeviceStatusInit, atMs = 0): DashboardEvent => ({
  kind: 'deviceStatus', status: DeviceStatus.create({ deviceId, state: DeviceState.DEVICE_STATE_ONLINE, heartbeatMs: 1000, workers: ['w1'], ...init }), atMs,
});

const SUBMITTED = 10_000;

/** input -> a (car1) -> b (edge1), c (cloud1) -> d (edge1): a small DAG over three devices. */
function planEvent(init: JobPlanInit = {}): DashboardEvent {
  return {
    kind: 'jobPlan', originId: 'car1', atMs: 1,
    plan: JobPlan.create({
      jobId: 'j1', attempt: 1, originDevice: 'car1', model: { name: 'fusion' }, algorithm: 'heft', submittedAtMs: SUBMITTED,
      predictedLatencyMs: 90, predictedLocalLatencyMs: 300, predictedEnergyJ: { car1: 1.5, edge1: 2 },
      placement: { input: 'car1', a: 'car1', b: 'edge1', c: 'cloud1', d: 'edge1' },
      tasks: [
        { id: 'input', kind: 'InputLayer', succs: ['a'] },
        { id: 'a', kind: 'Conv2D', preds: ['input'], succs: ['b', 'c'] },
        { id: 'b', kind: 'Conv2D', preds: ['a'], succs: ['d'] },
        { id: 'c', kind: 'Conv2D', preds: ['a'], succs: ['d'] },
        { id: 'd', kind: 'Concatenate', preds: ['b', 'c'] },
      ],
      stages: [
        { stageId: 's1', deviceId: 'car1', taskIds: ['input', 'a'], predicted: { readyMs: 0, startMs: 0, computeMs: 10, finishMs: 10 } },
        { stageId: 's2', deviceId: 'edge1', taskIds: ['b'], inputs: [{ fromStage: 's1' }], predicted: { readyMs: 30, startMs: 35, transferInMs: 20, computeMs: 15, finishMs: 50 } },
        { stageId: 's3', deviceId: 'cloud1', taskIds: ['c'], inputs: [{ fromStage: 's1' }], predicted: { readyMs: 40, startMs: 40, transferInMs: 30, computeMs: 5, finishMs: 45 } },
        { stageId: 's4', deviceId: 'edge1', taskIds: ['d'], inputs: [{ fromStage: 's2' }, { fromStage: 's3' }], predicted: { readyMs: 70, startMs: 70, transferInMs: 20, computeMs: 20, finishMs: 90 } },
      ],
      ...init,
    }),
  };
}

const timing = (stageId: string, deviceId: string, readyAt: number, startAt: number, endAt: number, transferInMs: number) => ({
  stageId, deviceId, readyAtMs: SUBMITTED + readyAt, startAtMs: SUBMITTED + startAt, endAtMs: SUBMITTED + endAt, transferInMs,
  waitMs: startAt - readyAt, computeMs: endAt - startAt,
});

function resultEvent(init: JobResultInit = {}): DashboardEvent {
  return {
    kind: 'jobResult', originId: 'car1', jobId: 'j1', atMs: 500,
    result: JobResult.create({
      jobId: 'j1', attempt: 1, status: JobStatus.JOB_STATUS_OK, latencyMs: 100, predictedLatencyMs: 90, algorithm: 'heft',
      trace: [timing('s1', 'car1', 0, 0, 12, 0), timing('s2', 'edge1', 35, 40, 55, 22), timing('s3', 'cloud1', 45, 45, 50, 30), timing('s4', 'edge1', 75, 80, 100, 18)],
      energy: [{ deviceId: 'car1', predictedJ: 1.5, measuredJ: 1.7 }, { deviceId: 'edge1', predictedJ: 2, measuredJ: 2.2 }],
      ...init,
    }),
  };
}

test('dashboard views — device rows: by role, estimates from the freshest online planner, silent after three heartbeats', () => {
  const planner = (id: string, state: PlannerState, upBps: number, atMs: number): DashboardEvent => ({
    kind: 'plannerStatus', atMs,
    status: PlannerStatus.create({ plannerId: id, state, estimates: [{ deviceId: 'car1', upBps, downBps: 2e6, rttMs: 12, speed: 0.09, loadFactor: 1.1 }] }),
  });
  const s = fold([
    status('cloud1', { role: Role.ROLE_CLOUD }, 0),
    status('car1', { role: Role.ROLE_IOT, link: { upBps: 10e6, downBps: 20e6, rttMs: 10 }, speed: 0.1, load: 1 }, 4000),
    status('edge1', { role: Role.ROLE_EDGE, state: DeviceState.DEVICE_STATE_OFFLINE }, 0),
    planner('p-old', PlannerState.PLANNER_STATE_ONLINE, 3e6, 100),
    planner('p-new', PlannerState.PLANNER_STATE_ONLINE, 4e6, 200),
    planner('p-gone', PlannerState.PLANNER_STATE_OFFLINE, 9e6, 300),
  ]);
  const rows = deviceRows(s, 4500);
  assert.deepEqual(rows.map((r) => [r.id, r.role, r.state]), [['car1', 'iot', 'online'], ['edge1', 'edge', 'offline'], ['cloud1', 'cloud', 'silent']]);
  const car = rows[0]!;
  assert.deepEqual(car.nominal, { upBps: 10e6, downBps: 20e6, rttMs: 10 });
  assert.equal(car.estimated?.plannerId, 'p-new');
  assert.equal(car.estimated?.upBps, 4e6);
  assert.equal(car.estimated?.speed, 0.09);
  assert.equal(car.color, deviceColor(s.deviceOrder, 'car1'));
  assert.notEqual(rows[0]!.color, rows[2]!.color);
});

test('dashboard views — job rows: newest first, progress while running, speed-up over the predicted local run', () => {
  let s = fold([planEvent(), { kind: 'stageReport', originId: 'car1', atMs: 2, report: { jobId: 'j1', attempt: 1, stageId: 's1', deviceId: 'car1', workerId: '', status: StageStatus.STAGE_STATUS_OK, error: null, timing: null, sentAtMs: 0 } }]);
  let [row] = jobRows(s);
  assert.equal(row!.status, 'running');
  assert.deepEqual([row!.stagesDone, row!.stagesTotal], [1, 4]);
  s = fold([resultEvent(), planEvent({ jobId: 'j2' })], s);
  const rows = jobRows(s);
  assert.deepEqual(rows.map((r) => r.jobId), ['j2', 'j1']);
  row = rows[1];
  assert.equal(row!.status, 'ok');
  assert.equal(row!.speedup, 3, '300 ms predicted locally / 100 ms measured');
  assert.equal(row!.selected, true);
});

test('dashboard views — the DAG: one node per task, coloured by the device it ran on, network edges marked', () => {
  const s = fold([status('car1', {}), status('edge1', {}), status('cloud1', {}), planEvent(), resultEvent({ placement: { c: 'edge1' } })]);
  const dag = dagView(s, s.jobs['car1/j1']!)!;
  assert.equal(dag.granularity, 'tasks');
  assert.deepEqual(dag.nodes.map((n) => `${n.id}@${n.device}`), ['input@car1', 'a@car1', 'b@edge1', 'c@edge1', 'd@edge1'], 'where it ran wins over the plan');
  assert.equal(dag.nodes[0]!.color, deviceColor(s.deviceOrder, 'car1'));
  assert.deepEqual(dag.edges.map((e) => `${e.id}${e.crossDevice ? '*' : ''}`), ['input->a', 'a->b*', 'a->c*', 'b->d', 'c->d']);
  assert.deepEqual(dag.devices.map((d) => d.id), ['car1', 'edge1']);
});

test('dashboard views — a plan without its DAG is drawn as its stages', () => {
  const s = fold([planEvent({ tasks: [] })]);
  const dag = dagView(s, s.jobs['car1/j1']!)!;
  assert.equal(dag.granularity, 'stages');
  assert.deepEqual(dag.nodes.map((n) => n.id), ['s1', 's2', 's3', 's4']);
  assert.deepEqual(dag.edges.map((e) => e.id), ['s1->s2', 's1->s3', 's2->s4', 's3->s4']);
  assert.equal(dag.devices.length, 3);
});

test('dashboard views — the Gantt: measured rows beside predicted, times after submission', () => {
  const s = fold([planEvent(), resultEvent()]);
  const g = ganttView(s.jobs['car1/j1']!)!;
  assert.deepEqual(g.rows, ['car1', predictedRowLabel('car1'), 'edge1', predictedRowLabel('edge1'), 'cloud1', predictedRowLabel('cloud1')]);
  assert.equal(g.measuredStages, 4);
  assert.equal(g.plannedStages, 4);
  const bars = (row: string, stageId: string) => g.bars.filter((b) => b.row === row && b.stageId === stageId).map((b) => `${b.phase} ${b.startMs}-${b.endMs}`);
  assert.deepEqual(bars('edge1', 's2'), ['transfer 13-35', 'wait 35-40', 'compute 40-55']);
  assert.deepEqual(bars(predictedRowLabel('edge1'), 's2'), ['transfer 10-30', 'wait 30-35', 'compute 35-50']);
  assert.deepEqual(bars('car1', 's1'), ['compute 0-12'], 'no transfer or wait bars of zero length');
  assert.ok(g.bars.every((b) => b.source === (b.row.endsWith('predicted') ? 'predicted' : 'measured')));
  assert.equal(g.endMs, 100);
});

test('dashboard views — before the result, the Gantt grows from the stage reports', () => {
  const t = timing('s1', 'car1', 0, 1, 12, 0);
  const s = fold([planEvent(), {
    kind: 'stageReport', originId: 'car1', atMs: 2,
    report: { jobId: 'j1', attempt: 1, stageId: 's1', deviceId: 'car1', workerId: 'w1', status: StageStatus.STAGE_STATUS_OK, error: null, timing: StageTiming.create(t), sentAtMs: 0 },
  }]);
  const g = ganttView(s.jobs['car1/j1']!)!;
  assert.equal(g.measuredStages, 1);
  assert.deepEqual(g.bars.filter((b) => b.source === 'measured').map((b) => `${b.phase} ${b.startMs}-${b.endMs}`), ['wait 0-1', 'compute 1-12']);
});

test('dashboard views — energy per device: measured beside predicted, the prediction alone before the result', () => {
  let s = fold([planEvent()]);
  assert.deepEqual(energyView(s, s.jobs['car1/j1']!).map((e) => [e.deviceId, e.predictedJ, e.measuredJ]), [['car1', 1.5, 0], ['edge1', 2, 0]]);
  s = fold([resultEvent()], s);
  assert.deepEqual(energyView(s, s.jobs['car1/j1']!).map((e) => [e.deviceId, e.predictedJ, e.measuredJ]), [['car1', 1.5, 1.7], ['edge1', 2, 2.2]]);
});

test('dashboard views — latency and bandwidth over time', () => {
  const s = fold([
    planEvent(), resultEvent(),
    status('car1', { traceUpBps: 3e6 }, 5), status('car1', { traceUpBps: 5e6 }, 6),
    { kind: 'plannerStatus', atMs: 7, status: PlannerStatus.create({ plannerId: 'p', state: PlannerState.PLANNER_STATE_ONLINE, estimates: [{ deviceId: 'car1', upBps: 4e6 }] }) },
  ]);
  assert.deepEqual(latencySeries(s), [{ atMs: 500, jobKey: 'car1/j1', label: 'fusion heft', latencyMs: 100, predictedMs: 90, speedup: 3 }]);
  const [car] = bandwidthSeries(s);
  assert.deepEqual(car!.trace.map((p) => p.bps), [3e6, 5e6]);
  assert.deepEqual(car!.estimatedUp, [{ atMs: 7, bps: 4e6 }]);
  assert.equal(tracePlaying(s), true);
  assert.equal(tracePlaying(fold([status('car1', { traceUpBps: 0 })], s)), false);
});

test('dashboard views — queue and link backlog over time: a line per figure and device, only where there are points', () => {
  const planner = (atMs: number, estimates: Array<{ deviceId: string; queuedMs: number; uplinkBacklogMs: number; downlinkBacklogMs: number }>): DashboardEvent => ({
    kind: 'plannerStatus', atMs, status: PlannerStatus.create({ plannerId: 'p', state: PlannerState.PLANNER_STATE_ONLINE, estimates }),
  });
  assert.deepEqual(loadSeries(initialState(0)), [], 'no point, no series');
  const s = fold([
    status('edge1', { queuedStages: 3 }, 5),
    status('car1', { queuedStages: 1 }, 6),
    status('cloud1', { queuedStages: 0 }, 6),
    planner(7, [{ deviceId: 'car1', queuedMs: 120, uplinkBacklogMs: 80, downlinkBacklogMs: 0 }, { deviceId: 'edge1', queuedMs: 40, uplinkBacklogMs: 0, downlinkBacklogMs: 15 }]),
    planner(9, [{ deviceId: 'car1', queuedMs: 60, uplinkBacklogMs: 10, downlinkBacklogMs: 0 }]),
  ]);
  const series = loadSeries(s);
  assert.deepEqual(series.map((x) => x.deviceId), ['car1', 'cloud1', 'edge1']);
  const [car, cloud, edge] = series;
  assert.deepEqual(car!.queuedMs, [{ atMs: 7, value: 120 }, { atMs: 9, value: 60 }]);
  assert.deepEqual(car!.uplinkBacklogMs, [{ atMs: 7, value: 80 }, { atMs: 9, value: 10 }]);
  assert.deepEqual(car!.downlinkBacklogMs.map((v) => v.value), [0, 0]);
  assert.deepEqual(car!.queuedStages, [{ atMs: 6, value: 1 }]);
  assert.deepEqual(edge!.queuedMs, [{ atMs: 7, value: 40 }], 'each device its own figures');
  assert.deepEqual(edge!.downlinkBacklogMs, [{ atMs: 7, value: 15 }]);
  assert.deepEqual(edge!.queuedStages, [{ atMs: 5, value: 3 }]);
  assert.deepEqual([cloud!.queuedMs, cloud!.uplinkBacklogMs, cloud!.downlinkBacklogMs], [[], [], []], 'no planner figure: no line, not a line at 0');
  assert.deepEqual(cloud!.queuedStages, [{ atMs: 6, value: 0 }]);
  assert.equal(car!.color, deviceColor(s.deviceOrder, 'car1'));
  assert.notEqual(car!.color, edge!.color);
});

test('dashboard config — a loopback broker URL takes the host name the browser used', () => {
  assert.equal(brokerUrlFor('ws://127.0.0.1:9001/mqtt', 'edge-box.local:8080'), 'ws://edge-box.local:9001/mqtt');
  assert.equal(brokerUrlFor('wss://localhost:9001/mqtt', '192.0.2.7:8080'), 'wss://192.0.2.7:9001/mqtt');
  assert.equal(brokerUrlFor('ws://127.0.0.1:9001/mqtt', '[2001:db8::1]:8080'), 'ws://[2001:db8::1]:9001/mqtt');
  assert.equal(brokerUrlFor('ws://127.0.0.1:9001/mqtt', 'localhost:8080'), 'ws://127.0.0.1:9001/mqtt', 'a local browser keeps it');
  assert.equal(brokerUrlFor('ws://broker.example:9001/mqtt', 'edge-box:8080'), 'ws://broker.example:9001/mqtt', 'a named broker is left alone');
  assert.equal(brokerUrlFor(null, 'edge-box:9001'), null);
  assert.equal(sameOriginBrokerUrl({ protocol: 'https:', host: 'edge-box:9001' }, '/mqtt'), 'wss://edge-box:9001/mqtt');
  assert.equal(sameOriginBrokerUrl({ protocol: 'http:', host: 'edge-box:9001' }, '/mqtt'), 'ws://edge-box:9001/mqtt');
  assert.ok(isWebSocketUrl('wss://a:1/mqtt') && !isWebSocketUrl('mqtt://a:1883'));
});

test('dashboard format — units', () => {
  assert.equal(formatBps(12.5e6), '12.5 Mbps');
  assert.equal(formatBps(0), '–');
  assert.equal(formatMs(1234), '1234 ms');
  assert.equal(formatMs(12.34), '12.3 ms');
});
