/** The job client's keep-alive rules, on faked time: when a job is submitted again. */
import { afterEach, beforeEach, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { JobKeepAlive, PLANNER_GRACE_MS, type KeptJob } from '../../node-runtime/client-keepalive.ts';
import { JobPlan, type JobRequestInit } from '../../schemas/generated/edgeweave.ts';

beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: 1_000_000 }));
afterEach(() => mock.timers.reset());

/** Advances the faked clock a millisecond at a time (a timer set by a callback then starts from that callback's time, as it would). */
function advance(ms: number): void {
  for (let i = 0; i < ms; i++) mock.timers.tick(1);
}

interface Rig {
  keepAlive: JobKeepAlive;
  jobs: Map<string, KeptJob>;
  job: KeptJob;
  sent: JobRequestInit[];
  link: { up: boolean };
}

function rig(options: { retryAfterMs?: number; silenceAfterPlanMs?: number } = {}): Rig {
  const jobs = new Map<string, KeptJob>();
  const sent: JobRequestInit[] = [];
  const link = { up: true };
  const keepAlive = new JobKeepAlive(jobs, {
    retryAfterMs: options.retryAfterMs ?? 1000, silenceAfterPlanMs: options.silenceAfterPlanMs, log: pino({ level: 'silent' }),
    connected: () => link.up, send: (request) => sent.push(request),
  });
  const job: KeptJob = { request: { jobId: 'j1', originDevice: 'car1' }, resubmissions: 0, retry: undefined, lastActivityAtMs: Date.now(), plan: undefined, plannerIncarnation: '' };
  jobs.set('j1', job);
  keepAlive.arm('j1', job);
  return { keepAlive, jobs, job, sent, link };
}

const planOf = (attempt: number, plannerId = 'p1', predictedLatencyMs = 100): JobPlan => JobPlan.create({ jobId: 'j1', attempt, plannerId, predictedLatencyMs });

test('client keep-alive — an unplanned job is submitted again after retryAfterMs of silence, counting its resubmissions', () => {
  const { keepAlive, sent } = rig();
  advance(999);
  assert.equal(sent.length, 0);
  advance(1);
  assert.deepEqual(sent.map((r) => r.resubmission), [1]);
  advance(1000);
  assert.deepEqual(sent.map((r) => r.resubmission), [1, 2]);
  assert.equal(keepAlive.resubmitted, 2);
});

test('client keep-alive — nothing is submitted while disconnected; the wait resumes on the link', () => {
  const { sent, link } = rig();
  link.up = false;
  advance(10_000);
  assert.equal(sent.length, 0);
  link.up = true;
  advance(50);
  assert.equal(sent.length, 1);
});

test('client keep-alive — a planned job is left to its planner; a sign of life postpones the long silence', () => {
  const { keepAlive, job, sent } = rig();
  keepAlive.planned('j1', job, planOf(1, 'p1', 5000));
  // Ten times the predicted 5 s: 50 s of silence.
  advance(40_000);
  keepAlive.active(job);
  advance(49_999);
  assert.equal(sent.length, 0);
  advance(1);
  assert.equal(sent.length, 1);
  assert.equal(job.plan, undefined, 'the next planner starts over');
  const configured = rig({ silenceAfterPlanMs: 2000 });
  configured.keepAlive.planned('j1', configured.job, planOf(1));
  advance(2000);
  assert.equal(configured.sent.length, 1, 'silenceAfterPlanMs when given');
});

test('client keep-alive — a plan of an older attempt does not replace the newer one', () => {
  const { keepAlive, job } = rig();
  keepAlive.planned('j1', job, planOf(2, 'p2'));
  keepAlive.planned('j1', job, planOf(1, 'p1'));
  assert.equal(job.plan?.plannerId, 'p2');
});

test('client keep-alive — a restarted planner\'s jobs are submitted again at once', () => {
  const { keepAlive, job, sent } = rig();
  keepAlive.plannerStatus('p1', true, 'inc1');
  keepAlive.planned('j1', job, planOf(1));
  assert.equal(job.plannerIncarnation, 'inc1');
  keepAlive.plannerStatus('p1', true, 'inc1');
  keepAlive.plannerStatus('p2', true, 'other');
  assert.equal(sent.length, 0);
  keepAlive.plannerStatus('p1', true, 'inc2');
  assert.equal(sent.length, 1);
});

test('client keep-alive — an offline planner has PLANNER_GRACE_MS to come back as itself', () => {
  const { keepAlive, job, sent } = rig();
  keepAlive.plannerStatus('p1', true, 'inc1');
  keepAlive.planned('j1', job, planOf(1));
  keepAlive.plannerStatus('p1', false, 'inc1');
  keepAlive.plannerStatus('p1', true, 'inc1');
  advance(PLANNER_GRACE_MS);
  assert.equal(sent.length, 0, 'back in time');
  keepAlive.plannerStatus('p1', false, 'inc1');
  advance(PLANNER_GRACE_MS - 1);
  assert.equal(sent.length, 0);
  advance(1);
  assert.equal(sent.length, 1, 'gone for good');
});

test('client keep-alive — a job no longer pending, or released, is left alone', () => {
  const { keepAlive, jobs, job, sent } = rig();
  jobs.delete('j1');
  advance(5000);
  const other = rig();
  other.keepAlive.release(other.job);
  advance(5000);
  assert.equal(sent.length + other.sent.length, 0);
  keepAlive.plannerStatus('p1', false, '');
  advance(PLANNER_GRACE_MS);
  assert.equal(job.resubmissions, 0);
});
