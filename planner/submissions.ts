/**
 * Job submissions as a planner takes them from its share of `$share/planners`: each request
 * checked whole (request-check.ts) and its model resolved (models.ts) before a job is made of
 * it; anything wrong is answered at once with a typed REJECTED result. A job the planner knows
 * that its origin submits again is not planned twice (its plan is sent again as a sign of
 * life), unless it ended here without its origin hearing of it.
 */
import type { Logger } from 'pino';
import type { Received, Refused } from '../transport/mqtt-transport.ts';
import type { Dispatcher } from './dispatch.ts';
import type { FleetMix } from './fleet-mix.ts';
import { newJob, type JobRecord } from './job-book.ts';
import type { JobManager } from './jobs.ts';
import type { PlannerModels } from './models.ts';
import { inputsProblem, requestProblem } from './request-check.ts';
import type { JobRequest } from '../schemas/generated/edgeweave.ts';
import { toEdgeweaveError } from '../schemas/errors.ts';

export class Submissions {
  constructor(
    private readonly jobs: JobManager,
    private readonly models: PlannerModels,
    private readonly dispatcher: Dispatcher,
    private readonly mix: FleetMix,
    private readonly log: Logger,
  ) {}

  /** A submission (acknowledged once it is planned or answered). */
  onSubmit(m: Received<'jobSubmit'>): void {
    const receivedAtMs = Date.now();
    const request = m.message;
    this.submit(request, m.topic.originId, receivedAtMs)
      .catch((err: unknown) => this.log.error({ err, jobId: request.jobId }, 'planning failed unexpectedly'))
      .finally(() => m.ack());
  }

  /** A submission that is not a JobRequest: refused on its origin's rejected topic. */
  onUnreadable(r: Refused): void {
    const origin = r.topic?.kind === 'jobSubmit' ? r.topic.originId : '';
    void this.dispatcher.refuse(origin, undefined, 'E_DECODE', `the submission is not a JobRequest (${r.bytes} bytes): ${r.error.message}`).finally(() => r.ack());
  }

  private async submit(request: JobRequest, topicOrigin: string, receivedAtMs: number): Promise<void> {
    const problem = requestProblem(request, topicOrigin);
    if (problem) return this.dispatcher.refuse(topicOrigin, request, problem.code, problem.message);
    const existing = this.jobs.book.get(request.originDevice, request.jobId);
    if (existing) return this.resubmitted(existing, request);
    let resolved: Awaited<ReturnType<PlannerModels['resolve']>>;
    try {
      resolved = await this.models.resolve(request, receivedAtMs);
    } catch (err) {
      const e = toEdgeweaveError(err, 'E_BAD_DAG');
      return this.dispatcher.refuse(topicOrigin, request, e.code, e.message);
    }
    const inputs = inputsProblem(request, resolved.graph);
    if (inputs) return this.dispatcher.refuse(topicOrigin, request, inputs.code, inputs.message);
    const job = newJob(request, resolved.model, resolved.graph, receivedAtMs);
    this.mix.record(job, receivedAtMs);
    await this.jobs.first(job, receivedAtMs);
  }

  /**
   * The origin submitted a job this planner knows again: it heard nothing for a while. A job
   * under way is not planned twice for that (the watchdog judges progress): its plan is sent
   * again as a sign of life. A job that ended here without its origin hearing of it runs again.
   */
  private async resubmitted(job: JobRecord, request: JobRequest): Promise<void> {
    const log = this.log.child({ jobId: request.jobId, origin: request.originDevice });
    if (request.resubmission <= job.resubmission) {
      log.info('duplicate submission ignored');
      return;
    }
    job.resubmission = request.resubmission;
    switch (job.state.phase) {
      case 'dispatched':
        log.info({ attempt: job.attempt }, 'submitted again while under way: plan sent again');
        return this.dispatcher.resendPlan(job);
      case 'planning':
      case 'waiting':
        log.info({ phase: job.state.phase }, 'submitted again while it waits');
        // The latest plan as a sign of life: the job is known here and will run when it can.
        if (job.attempt > 0) await this.dispatcher.resendPlan(job);
        return;
      case 'finished':
        job.resultMaybeLost = true;
        return this.jobs.replan(job, 'the origin submitted the job again after it ended', true);
    }
  }
}
