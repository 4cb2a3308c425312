/**
 * The origin's side of keeping a submitted job alive: when to submit it again. Before any plan,
 * after `retryAfterMs` of silence (the submission or its planner may be lost). Once planned, its
 * planner watches its progress and re-plans it when it is stuck, so the origin does not: it
 * submits again only when that planner goes offline or restarts (its retained status), or after a
 * long silence (`silenceAfterPlanMs`). A job queued behind others is not submitted twice.
 */
import type { Logger } from 'pino';
import type { JobPlan, JobRequestInit } from '../schemas/generated/edgeweave.ts';

/** What the keep-alive reads and updates of a pending job. */
export interface KeptJob {
  readonly request: JobRequestInit;
  resubmissions: number;
  retry: NodeJS.Timeout | undefined;
  /** This client's clock at the job's last sign of life (submitted, planned, a stage reported). */
  lastActivityAtMs: number;
  plan: JobPlan | undefined;
  /** The incarnation of the planner that planned it, when the plan came. */
  plannerIncarnation: string;
}

export interface KeepAliveOptions {
  /** Submit again when no plan has come this long after submitting. */
  retryAfterMs: number;
  /** Once planned: submit again after this long without a sign of life (default: the longer of 30 s and ten times the predicted latency). */
  silenceAfterPlanMs: number | undefined;
  /** Whether a submission can go out now (while not, a quiet job waits). */
  connected: () => boolean;
  /** Publishes the request again (`resubmission` set). */
  send: (request: JobRequestInit) => void;
  log: Logger;
}

/** A planner that said OFFLINE has this long to be back, as the same incarnation, before its jobs are submitted again. */
export const PLANNER_GRACE_MS = 3000;

export class JobKeepAlive {
  /** Planners as their retained statuses say: online, and which incarnation. */
  private readonly planners = new Map<string, { online: boolean; incarnation: string }>();
  private resubmissionCount = 0;

  /** `jobs`: the pending jobs by id (a job no longer there is left alone). */
  constructor(private readonly jobs: ReadonlyMap<string, KeptJob>, private readonly options: KeepAliveOptions) {}

  /** Submissions made again (nobody kept the job alive). */
  get resubmitted(): number {
    return this.resubmissionCount;
  }

  /** Starts (or restarts) watching a job: it was submitted, or its wait changed. */
  arm(jobId: string, job: KeptJob): void {
    if (job.retry) clearTimeout(job.retry);
    const predicted = job.plan?.predictedLatencyMs ?? 0;
    const wait = job.plan ? (this.options.silenceAfterPlanMs ?? Math.max(30_000, 10 * predicted)) : this.options.retryAfterMs;
    const quietFor = Date.now() - job.lastActivityAtMs;
    job.retry = setTimeout(() => {
      if (!this.jobs.has(jobId)) return;
      if (!this.options.connected() || Date.now() - job.lastActivityAtMs < wait) {
        this.arm(jobId, job);
        return;
      }
      this.resubmit(jobId, job, 'no sign of life');
    }, Math.max(50, wait - quietFor));
    job.retry.unref();
  }

  /** Stops watching a job (it finished). */
  release(job: KeptJob): void {
    if (job.retry) clearTimeout(job.retry);
  }

  /** A sign of life of the job (a stage reported). */
  active(job: KeptJob): void {
    job.lastActivityAtMs = Date.now();
  }

  /** A plan of the job came: a newer attempt's plan hands the job to its planner. */
  planned(jobId: string, job: KeptJob, plan: JobPlan): void {
    job.lastActivityAtMs = Date.now();
    if (job.plan && plan.attempt <= job.plan.attempt) return;
    job.plan = plan;
    job.plannerIncarnation = this.planners.get(plan.plannerId)?.incarnation ?? '';
    this.arm(jobId, job);
  }

  /** A planner's retained status (from its own topic): whether the jobs it planned still have a keeper. */
  plannerStatus(plannerId: string, online: boolean, incarnation: string): void {
    this.planners.set(plannerId, { online, incarnation });
    // Restarted: it forgot its jobs. Offline: give it a moment — a broker restart or a link drop
    // publishes its last will, and it is back ONLINE as the same incarnation in a second or two.
    this.orphaned(plannerId, (job) => job.plannerIncarnation !== '' && online && incarnation !== job.plannerIncarnation, 'restarted');
    if (!online) {
      setTimeout(() => {
        const now = this.planners.get(plannerId);
        this.orphaned(plannerId, (job) => !now?.online || (job.plannerIncarnation !== '' && now.incarnation !== job.plannerIncarnation), 'went offline');
      }, PLANNER_GRACE_MS).unref();
    }
  }

  /** Submits again the pending jobs planned by `plannerId` that `lost` says nobody keeps any more. */
  private orphaned(plannerId: string, lost: (job: KeptJob) => boolean, why: string): void {
    for (const [jobId, job] of this.jobs) {
      if (job.plan?.plannerId === plannerId && lost(job)) this.resubmit(jobId, job, `its planner ${plannerId} ${why}`);
    }
  }

  private resubmit(jobId: string, job: KeptJob, why: string): void {
    job.resubmissions++;
    this.resubmissionCount++;
    this.options.log.info({ jobId, resubmission: job.resubmissions, why }, 'submitting the job again');
    this.options.send({ ...job.request, resubmission: job.resubmissions });
    job.lastActivityAtMs = Date.now();
    // The next planner starts over: until its plan comes, silence means the submission is lost.
    job.plan = undefined;
    this.arm(jobId, job);
  }
}
