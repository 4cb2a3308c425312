import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import {
  INITIAL_JOB_STATE, JOB_TRANSITIONS, nextJobState, type JobEvent, type JobEventType, type JobPhase, type JobState,
} from '../../planner/job-lifecycle.ts';
import { JobBook, newJob } from '../../planner/job-book.ts';
import { JobFrontier } from '../../planner/progress.ts';
import { JobRequest } from '../../schemas/generated/edgeweave.ts';

const frontier = new JobFrontier([{ stageId: 's1', deviceId: 'edge1', transferMs: 5, producers: [] }], 1000);

/** One state of every phase, and one event of every type. */
const STATES: Record<JobPhase, JobState> = {
  planning: { phase: 'planning' },
  dispatched: { phase: 'dispatched', attempt: 2, frontier, lastProgressAtMs: 1000 },
  waiting: { phase: 'waiting', reason: 'no online device holds model m', sinceMs: 900 },
  finished: { phase: 'finished', ending: 'failed' },
};
const EVENTS: Record<JobEventType, JobEvent> = {
  dispatched: { type: 'dispatched', attempt: 3, frontier, atMs: 2000 },
  progress: { type: 'progress', atMs: 2500 },
  wait: { type: 'wait', reason: 'the origin car1 is offline', atMs: 2600 },
  retry: { type: 'retry' },
  replan: { type: 'replan' },
  ended: { type: 'ended', ending: 'timeout' },
  resultArrived: { type: 'resultArrived' },
};

/** The whole table, written out: phase x event -> next phase, or undefined when the event is refused. */
const EXPECTED: Record<JobPhase, Record<JobEventType, JobPhase | undefined>> = {
  planning: { dispatched: 'dispatched', progress: undefined, wait: 'waiting', retry: undefined, replan: undefined, ended: 'finished', resultArrived: 'finished' },
  dispatched: { dispatched: undefined, progress: 'dispatched', wait: undefined, retry: undefined, replan: 'planning', ended: 'finished', resultArrived: 'finished' },
  waiting: { dispatched: undefined, progress: undefined, wait: undefined, retry: 'planning', replan: undefined, ended: 'finished', resultArrived: 'finished' },
  finished: { dispatched: undefined, progress: undefined, wait: undefined, retry: undefined, replan: 'planning', ended: undefined, resultArrived: undefined },
};

for (const phase of Object.keys(EXPECTED) as JobPhase[]) {
  for (const type of Object.keys(EVENTS) as JobEventType[]) {
    const expected = EXPECTED[phase][type];
    test(`job lifecycle — ${phase} + ${type} ${expected ? `-> ${expected}` : 'is refused'}`, () => {
      const next = nextJobState(STATES[phase], EVENTS[type]);
      assert.equal(next?.phase, expected);
      assert.equal(JOB_TRANSITIONS[phase][type], expected, 'the published table says the same');
    });
  }
}

test('job lifecycle — each new state carries what its event says', () => {
  assert.deepEqual(nextJobState(STATES.planning, EVENTS.dispatched), { phase: 'dispatched', attempt: 3, frontier, lastProgressAtMs: 2000 });
  assert.deepEqual(nextJobState(STATES.dispatched, EVENTS.progress), { phase: 'dispatched', attempt: 2, frontier, lastProgressAtMs: 2500 });
  assert.deepEqual(nextJobState(STATES.planning, EVENTS.wait), { phase: 'waiting', reason: 'the origin car1 is offline', sinceMs: 2600 });
  assert.deepEqual(nextJobState(STATES.dispatched, EVENTS.ended), { phase: 'finished', ending: 'timeout' });
  assert.deepEqual(nextJobState(STATES.waiting, EVENTS.resultArrived), { phase: 'finished', ending: 'done' });
  assert.deepEqual(nextJobState(STATES.finished, EVENTS.replan), { phase: 'planning' });
  assert.deepEqual(INITIAL_JOB_STATE, { phase: 'planning' });
});

test('job lifecycle — the book applies legal events and leaves the job as it was on a refused one', () => {
  const lines: string[] = [];
  const log = pino({ level: 'error' }, { write: (line: string) => { lines.push(line); } });
  const book = new JobBook(log, () => undefined);
  const request = JobRequest.create({ jobId: 'j1', originDevice: 'car1' });
  const job = newJob(request, { id: 'm', sha256: '' }, { modelId: 'm', tasks: [], inputs: [], outputs: [] } as never, 0);
  book.remember(job);
  assert.equal(book.get('car1', 'j1'), job);
  assert.equal(book.apply(job, EVENTS.progress), false);
  assert.equal(job.state.phase, 'planning');
  assert.match(lines.join(''), /not legal in its phase/);
  assert.equal(book.apply(job, EVENTS.dispatched), true);
  assert.equal(job.state.phase, 'dispatched');
  assert.equal(book.apply(job, EVENTS.resultArrived), true);
  assert.deepEqual(job.state, { phase: 'finished', ending: 'done' });
  assert.equal(book.apply(job, EVENTS.ended), false, 'a finished job does not end twice');
});
