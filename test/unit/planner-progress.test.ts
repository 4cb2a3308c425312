import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FleetProgress, HANG_MS, JobFrontier, judgeQuietJob, overtakeAllowance, overtakeSlackMs, type DeviceActivity, type DeviceLoad, type WaitingStage,
} from '../../planner/progress.ts';

const LIMIT = 5000;
const NOW = 100_000;

function waiting(over: Partial<WaitingStage> = {}): WaitingStage {
  return { stageId: 's1', deviceId: 'edge1', readyAtMs: NOW - LIMIT, dueAtMs: NOW - LIMIT + 40, ...over };
}

function device(load: Partial<DeviceLoad> | undefined, activity?: Partial<DeviceActivity>): () => { load: DeviceLoad | undefined; activity: DeviceActivity | undefined } {
  return () => ({
    load: load === undefined ? undefined : { alive: true, workers: 2, inHand: 0, placedPending: 0, statusAtMs: NOW - 100, ...load },
    activity: activity === undefined ? undefined : { reports: 10, lastReportAtMs: -Infinity, ...activity },
  });
}

const none = (): number => 0;
const cases: Array<{ name: string; stages: WaitingStage[]; device: ReturnType<typeof device>; overtaken?: number; stuck: boolean; because?: RegExp }> = [
  { name: 'queued behind other work on a busy device that keeps reporting', stages: [waiting()], device: device({ inHand: 6 }, { lastReportAtMs: NOW - 200 }), stuck: false },
  { name: 'queued behind work this planner placed there', stages: [waiting()], device: device({ placedPending: 4 }, { lastReportAtMs: NOW - 1000 }), stuck: false },
  { name: 'the device is offline', stages: [waiting()], device: device({ alive: false, inHand: 3 }), stuck: true, because: /offline/ },
  { name: 'the device is unknown', stages: [waiting()], device: device(undefined), stuck: true, because: /offline/ },
  { name: 'overtaken by more stages due after it than executors explain (its input was lost)', stages: [waiting()], device: device({ inHand: 2 }, { lastReportAtMs: NOW - 10 }), overtaken: overtakeAllowance(2) + 1, stuck: true, because: /overtaken/ },
  { name: 'overtaken by no more than executors running side by side explain', stages: [waiting()], device: device({ inHand: 2 }, { lastReportAtMs: NOW - 10 }), overtaken: overtakeAllowance(2), stuck: false },
  { name: 'a busy device that reported nothing for the whole limit and HANG_MS hangs', stages: [waiting({ readyAtMs: NOW - HANG_MS - 1 })], device: device({ inHand: 2 }, { lastReportAtMs: NOW - HANG_MS - 1 }), stuck: true, because: /reported nothing/ },
  { name: 'a busy device silent past the limit but not HANG_MS runs one long stage', stages: [waiting()], device: device({ inHand: 2 }, { lastReportAtMs: NOW - LIMIT - 1 }), stuck: false },
  { name: 'a busy device that never reported, counted from when the stage was ready', stages: [waiting({ readyAtMs: NOW - 100 })], device: device({ inHand: 2 }), stuck: false },
  { name: 'an idle device the input never reached', stages: [waiting()], device: device({}, { lastReportAtMs: NOW - 50 }), stuck: true, because: /never reached/ },
  { name: 'an idle device, the input sent only just now', stages: [waiting({ readyAtMs: NOW - 300 })], device: device({}), stuck: false },
  { name: 'a device idle by a status older than the stage may have taken it since', stages: [waiting()], device: device({ statusAtMs: NOW - LIMIT - 10 }, { lastReportAtMs: NOW - 50 }), stuck: false },
  { name: 'every stage reported but no result came', stages: [], device: device({}), stuck: true, because: /no result/ },
];

for (const c of cases) {
  test(`planner progress — ${c.name}: ${c.stuck ? 'stuck' : 'queued'}`, () => {
    const verdict = judgeQuietJob(c.stages, c.device, () => c.overtaken ?? 0, NOW, LIMIT);
    assert.equal(verdict.stuck, c.stuck, JSON.stringify(verdict));
    if (verdict.stuck && c.because) assert.match(verdict.reason, c.because);
  });
}

test('planner progress — a lost result is told apart from a stuck device', () => {
  const lost = judgeQuietJob([], device({}), none, NOW, LIMIT);
  assert.deepEqual(lost.stuck && [lost.resultLost, lost.deviceId], [true, undefined]);
  const hung = judgeQuietJob([waiting()], device({}, { lastReportAtMs: NOW - 50 }), none, NOW, LIMIT);
  assert.deepEqual(hung.stuck && [hung.resultLost, hung.deviceId], [undefined, 'edge1'], 'the device to blame');
});

test('planner progress — one stuck stage of several makes the job stuck', () => {
  const devices: Record<string, ReturnType<ReturnType<typeof device>>> = {
    edge1: device({ inHand: 3 }, { lastReportAtMs: NOW - 10 })(),
    cloud1: device({ alive: false })(),
  };
  const verdict = judgeQuietJob([waiting({ deviceId: 'edge1' }), waiting({ stageId: 's2', deviceId: 'cloud1' })], (id) => devices[id]!, none, NOW, LIMIT);
  assert.equal(verdict.stuck, true);
});

test('planner progress — the frontier moves as stages report; joins wait for every producer', () => {
  const stages = [
    { stageId: 'a', deviceId: 'car1', producers: [], transferMs: 0 },
    { stageId: 'b', deviceId: 'edge1', producers: ['a'], transferMs: 30 },
    { stageId: 'c', deviceId: 'cloud1', producers: ['a'], transferMs: 200 },
    { stageId: 'd', deviceId: 'edge1', producers: ['b', 'c'], transferMs: 10 },
  ];
  const f = new JobFrontier(stages, 1000);
  assert.deepEqual(f.waiting().map((s) => s.stageId), ['a']);
  assert.deepEqual(f.reported('a', 1100), { stageId: 'a', deviceId: 'car1', readyAtMs: 1000, dueAtMs: 1000 }, 'how it waited');
  assert.deepEqual(f.waiting().map((s) => s.stageId).sort(), ['b', 'c']);
  assert.deepEqual(f.waiting().find((s) => s.stageId === 'c'), { stageId: 'c', deviceId: 'cloud1', readyAtMs: 1100, dueAtMs: 1300 }, 'due after its predicted transfer');
  assert.equal(f.reported('a', 1200), undefined, 'a second report of the same stage changes nothing');
  assert.equal(f.reported('zz', 1200), undefined, 'a stage not in the plan changes nothing');
  f.reported('b', 1300);
  assert.deepEqual(f.waiting().map((s) => s.stageId), ['c'], 'd waits for c too');
  f.reported('c', 1400);
  assert.deepEqual(f.waiting().map((s) => [s.stageId, s.readyAtMs]), [['d', 1400]]);
  assert.equal(f.pendingOn('edge1'), true);
  assert.equal(f.pendingOn('cloud1'), false);
  f.reported('d', 1500);
  assert.deepEqual(f.waiting(), []);
});

test('planner progress — the fleet counts the stages that overtook a waiting one, and pending placements per job', () => {
  const fleet = new FleetProgress();
  const stage: WaitingStage = { stageId: 's1', deviceId: 'edge1', readyAtMs: 1000, dueAtMs: 1100 };
  const slack = overtakeSlackMs(stage);
  fleet.completed('edge1', 900, 1200); // due before it
  fleet.completed('edge1', 1100 + slack + 1, 1300); // due after it, by more than the slack
  fleet.completed('edge1', 1100 + slack - 1, 1300); // within the slack
  fleet.completed('edge1', 5000, 900); // completed before it was even ready
  fleet.completed('cloud1', 5000, 1300); // another device
  assert.equal(fleet.overtaking(stage), 1);

  fleet.placed('edge1', 'car1/j1', 's1');
  fleet.placed('edge1', 'car1/j1', 's2');
  fleet.placed('edge1', 'car2/j1', 's1');
  assert.equal(fleet.pendingOn('edge1'), 3);
  assert.equal(fleet.pendingOn('edge1', 'car1/j1'), 1, 'other jobs than car1/j1');
  fleet.settled('edge1', 'car1/j1', 's1');
  assert.equal(fleet.pendingOn('edge1'), 2);
  fleet.forgetJob('car2/j1');
  assert.equal(fleet.pendingOn('edge1'), 1);
  assert.equal(fleet.activityOf('edge1'), undefined);
  fleet.reported('edge1', 50);
  fleet.reported('edge1', 60);
  assert.deepEqual(fleet.activityOf('edge1'), { reports: 2, lastReportAtMs: 60 });
});
