import { test } from 'node:test';
import assert from 'node:assert/strict';
import { topics, filters, parseTopic, parseSharedFilter, topicMatches, TOPIC_ROOT } from '../../schemas/topics.ts';
import { EdgeweaveError } from '../../schemas/errors.ts';

test('topics — every builder parses back to its kind and ids', () => {
  const cases = [
    [topics.deviceStatus('car1'), { kind: 'deviceStatus', deviceId: 'car1' }],
    [topics.deviceProfile('edge-1'), { kind: 'deviceProfile', deviceId: 'edge-1' }],
    [topics.deviceAssign('cloud.1'), { kind: 'deviceAssign', deviceId: 'cloud.1' }],
    [topics.deviceInbox('car_1'), { kind: 'deviceInbox', deviceId: 'car_1' }],
    [topics.workerInbox('car1', 'w2'), { kind: 'workerInbox', deviceId: 'car1', workerId: 'w2' }],
    [topics.jobSubmit('car1'), { kind: 'jobSubmit', originId: 'car1' }],
    [topics.jobPlan('car1', 'j-42'), { kind: 'jobPlan', originId: 'car1', jobId: 'j-42' }],
    [topics.jobReport('car1', 'j-42'), { kind: 'jobReport', originId: 'car1', jobId: 'j-42' }],
    [topics.jobResult('car1', 'j-42'), { kind: 'jobResult', originId: 'car1', jobId: 'j-42' }],
    [topics.clockPing('car1'), { kind: 'clockPing', deviceId: 'car1' }],
    [topics.clockPong('car1'), { kind: 'clockPong', deviceId: 'car1' }],
    [topics.plannerStatus('p1'), { kind: 'plannerStatus', plannerId: 'p1' }],
    [topics.debug(topics.jobPlan('car1', 'j1')), { kind: 'debug', path: 'jobs/car1/j1/plan' }],
  ] as const;
  for (const [topic, parsed] of cases) {
    assert.ok(topic.startsWith(`${TOPIC_ROOT}/`), topic);
    assert.deepEqual(parseTopic(topic), parsed, topic);
  }
});

test('topics — builders refuse ids that would break the tree', () => {
  for (const bad of ['', 'a/b', 'a+b', '#', 'x'.repeat(65), 'car 1', '$sys', 'é']) {
    assert.throws(() => topics.deviceInbox(bad), (e: unknown) => e instanceof EdgeweaveError && e.code === 'E_TOPIC', JSON.stringify(bad));
  }
  assert.throws(() => topics.debug('other/tree'), (e: unknown) => e instanceof EdgeweaveError && e.code === 'E_TOPIC');
});

test('topics — parseTopic returns undefined for anything not in the tree', () => {
  for (const t of [
    '', 'edgeweave', 'edgeweave/v1', 'edgeweave/v2/devices/a/status', 'edgeweave/v1/devices/a', 'edgeweave/v1/devices/a/status/x',
    'edgeweave/v1/devices/+/status', 'edgeweave/v1/devices/a b/status', 'edgeweave/v1/devices/a/workers/w/outbox',
    'edgeweave/v1/jobs/a/b/c/plan', 'edgeweave/v1/jobs/a/b/x', 'edgeweave/v1/jobs//submit', 'edgeweave/v1/clock/a/tick',
    'edgeweave/v1/planners/p/x', 'edgeweave/v1/debug', 'edgeweave/v1/debug//x', 'edgeweave/v1/unknown/a',
  ]) {
    assert.equal(parseTopic(t), undefined, t);
  }
});

test('topics — shared filters split into group and filter', () => {
  assert.deepEqual(parseSharedFilter(filters.sharedDeviceInbox('car1')), { group: 'car1', filter: topics.deviceInbox('car1') });
  assert.deepEqual(parseSharedFilter(filters.sharedJobSubmits()), { group: 'planners', filter: `${TOPIC_ROOT}/jobs/+/submit` });
  for (const f of ['a/b', '$share/', '$share/g', '$share/g/', '$share//a', '$share/g+/a', '$share/#/a']) assert.equal(parseSharedFilter(f), undefined, f);
});

test('topics — MQTT filter matching', () => {
  const yes: Array<[string, string]> = [
    ['a/b', 'a/b'], ['a/+', 'a/b'], ['a/#', 'a/b/c'], ['a/#', 'a'], ['#', 'a/b'], ['+/+', 'a/b'], ['a/+/c', 'a/x/c'],
    [filters.jobResults('car1'), topics.jobResult('car1', 'j1')], [filters.allJobSubmits(), topics.jobSubmit('car9')],
  ];
  const no: Array<[string, string]> = [
    ['a/b', 'a/c'], ['a/+', 'a/b/c'], ['a/+', 'a'], ['a/b/c', 'a/b'], ['#', '$SYS/x'], ['+/x', '$SYS/x'],
    [filters.jobResults('car1'), topics.jobResult('car2', 'j1')],
  ];
  for (const [f, t] of yes) assert.ok(topicMatches(f, t), `${f} should match ${t}`);
  for (const [f, t] of no) assert.ok(!topicMatches(f, t), `${f} should not match ${t}`);
});
