/**
 * The jobs a planner knows, by (origin, job), each with its lifecycle state
 * (planner/job-lifecycle.ts) and what every attempt of it shares. Bounded: the oldest job is
 * forgotten past MAX_JOBS.
 */
import type { Logger } from 'pino';
import type { TaskGraph } from '../schemas/graph.ts';
import { JobPlan, type JobRequest } from '../schemas/generated/edgeweave.ts';
import type { PlannedModel } from './device-registry.ts';
import { INITIAL_JOB_STATE, nextJobState, type JobEvent, type JobState } from './job-lifecycle.ts';

export interface JobRecord {
  /** origin/job: job ids are unique per origin. */
  key: string;
  request: JobRequest;
  /** The model it runs, resolved once: every attempt runs the same content. */
  model: PlannedModel;
  graph: TaskGraph;
  state: JobState;
  /** The latest attempt number given out (0: none yet). */
  attempt: number;
  /** Attempts this planner dispatched. */
  attemptsPlanned: number;
  /** The latest attempt's plan (an empty plan before the first). */
  plan: JobPlan;
  /** How much later than the core predicted the latest plan's times were set (dispatch). */
  dispatchMs: number;
  /** The highest resubmission number seen from the origin. */
  resubmission: number;
  watchdog: NodeJS.Timeout | undefined;
  /** Planner clock when the job first arrived. */
  firstSeenAtMs: number;
  /** Re-plans the planner decided on (device lost, no progress); the job fails at maxAttempts. */
  replans: number;
  /** Devices the job got stuck on: its next attempts go elsewhere where they can. */
  avoid: Set<string>;
  /** A result of the job may have been lost on its way: the next attempts send theirs whatever their device sent before. */
  resultMaybeLost: boolean;
  /** Each device's load factor when the latest attempt was planned: what its predictions were made with. */
  plannedLoad: Map<string, number>;
}

const MAX_JOBS = 20_000;

export function jobKey(origin: string, jobId: string): string {
  return `${origin}/${jobId}`;
}

/** A job as it arrives, before its first attempt. */
export function newJob(request: JobRequest, model: PlannedModel, graph: TaskGraph, receivedAtMs: number): JobRecord {
  return {
    key: jobKey(request.originDevice, request.jobId), request, model, graph, state: INITIAL_JOB_STATE,
    attempt: 0, attemptsPlanned: 0, plan: JobPlan.create({ jobId: request.jobId }), dispatchMs: 0,
    resubmission: request.resubmission, watchdog: undefined, firstSeenAtMs: receivedAtMs, replans: 0, avoid: new Set(),
    // Submitted again to a planner that does not know it: its origin has no result.
    resultMaybeLost: request.resubmission > 0, plannedLoad: new Map(),
  };
}

/**
 * How long ago `job` was submitted, as far as the planner can tell at `now`: from its origin's
 * submission time on the reference clock when the origin sent one (a time ahead of now, a clock
 * off, counts as none), else from when the job first arrived here.
 */
export function spentMs(job: JobRecord, now: number): number {
  const here = Math.max(0, now - job.firstSeenAtMs);
  const ref = job.request.submittedAtRefMs;
  return ref > 0 && ref <= now ? Math.max(here, now - ref) : here;
}

export class JobBook {
  private readonly jobs = new Map<string, JobRecord>();

  constructor(private readonly log: Logger, private readonly forgotten: (job: JobRecord) => void) {}

  get(origin: string, jobId: string): JobRecord | undefined {
    return this.jobs.get(jobKey(origin, jobId));
  }

  all(): IterableIterator<JobRecord> {
    return this.jobs.values();
  }

  remember(job: JobRecord): void {
    this.jobs.set(job.key, job);
    if (this.jobs.size <= MAX_JOBS) return;
    const oldest = this.jobs.values().next().value as JobRecord;
    this.jobs.delete(oldest.key);
    this.forgotten(oldest);
  }

  forget(job: JobRecord): void {
    this.jobs.delete(job.key);
  }

  /**
   * Moves the job on by `event`. Returns false, and logs, when the event is not legal in the
   * job's phase: the job stays as it was.
   */
  apply(job: JobRecord, event: JobEvent): boolean {
    const next = nextJobState(job.state, event);
    if (!next) {
      this.log.error({ jobId: job.request.jobId, phase: job.state.phase, event: event.type }, 'job event not legal in its phase; ignored');
      return false;
    }
    job.state = next;
    return true;
  }
}
