/**
 * A job's lifecycle at its planner, as one explicit state machine. Pure: the planner's job
 * manager (planner/jobs.ts) applies events and acts on the state it gets back; the table of
 * transitions is tested whole (test/unit/planner-job-lifecycle.test.ts).
 *
 *   planning ──dispatched──▶ dispatched ──progress──▶ dispatched
 *      │  ▲                     │  │
 *      │  └──────replan─────────┘  │
 *     wait        ▲                │
 *      ▼          │ retry          │
 *   waiting ──────┘                │
 *      │                           │
 *      └──ended / resultArrived────┴──▶ finished ──replan──▶ planning
 *
 * - planning: the next attempt is being planned (a new job, or one planned anew).
 * - dispatched: an attempt is under way; its frontier says which stages it waits on.
 * - waiting: no device can run it now (its devices or its origin are gone); it is tried again
 *   when a device comes back, or by its watchdog, until its deadline.
 * - finished: over here — its result arrived, or it was answered with why it did not run.
 *   The origin may still submit it again (its answer was lost): then it is planned anew.
 */
import type { JobFrontier } from './progress.ts';

/** How a job ended at its planner. */
export type JobEnding = 'done' | 'failed' | 'rejected' | 'timeout';

export type JobState =
  | { phase: 'planning' }
  | {
    phase: 'dispatched';
    /** The attempt under way. */
    attempt: number;
    /** Its stages that reported, and those it waits on. */
    frontier: JobFrontier;
    /** Planner clock of its last sign of progress (dispatch, a stage report). */
    lastProgressAtMs: number;
  }
  | { phase: 'waiting'; reason: string; sinceMs: number }
  | { phase: 'finished'; ending: JobEnding };

export type JobPhase = JobState['phase'];

export type JobEvent =
  /** An attempt was planned and sent to its devices. */
  | { type: 'dispatched'; attempt: number; frontier: JobFrontier; atMs: number }
  /** A stage of the attempt under way reported. */
  | { type: 'progress'; atMs: number }
  /** No device can run it now. */
  | { type: 'wait'; reason: string; atMs: number }
  /** A device came back, or the watchdog fired: plan it again. */
  | { type: 'retry' }
  /** The attempt under way (or the ended job) is given up: plan the next. */
  | { type: 'replan' }
  /** Answered with why it did not run (failed, rejected, timed out). */
  | { type: 'ended'; ending: Exclude<JobEnding, 'done'> }
  /** Its result reached the origin. */
  | { type: 'resultArrived' };

export type JobEventType = JobEvent['type'];

/** Every legal transition: phase -> event -> next phase. Anything else is refused. */
export const JOB_TRANSITIONS: Readonly<Record<JobPhase, Readonly<Partial<Record<JobEventType, JobPhase>>>>> = {
  planning: { dispatched: 'dispatched', wait: 'waiting', ended: 'finished', resultArrived: 'finished' },
  dispatched: { progress: 'dispatched', replan: 'planning', ended: 'finished', resultArrived: 'finished' },
  waiting: { retry: 'planning', ended: 'finished', resultArrived: 'finished' },
  finished: { replan: 'planning' },
};

export const INITIAL_JOB_STATE: JobState = { phase: 'planning' };

/** The state after `event`, or undefined when the event is not legal in `state`'s phase. */
export function nextJobState(state: JobState, event: JobEvent): JobState | undefined {
  if (JOB_TRANSITIONS[state.phase][event.type] === undefined) return undefined;
  switch (event.type) {
    case 'dispatched':
      return { phase: 'dispatched', attempt: event.attempt, frontier: event.frontier, lastProgressAtMs: event.atMs };
    case 'progress':
      return state.phase === 'dispatched' ? { ...state, lastProgressAtMs: event.atMs } : undefined;
    case 'wait':
      return { phase: 'waiting', reason: event.reason, sinceMs: event.atMs };
    case 'retry':
    case 'replan':
      return { phase: 'planning' };
    case 'ended':
      return { phase: 'finished', ending: event.ending };
    case 'resultArrived':
      return { phase: 'finished', ending: 'done' };
  }
}
