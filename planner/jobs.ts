/**
 * The jobs of a planner through their lifecycle (planner/job-lifecycle.ts): each attempt
 * placed (placement.ts) and sent (dispatch.ts), followed by its stage reports and watchdog
 * (watchdog.ts), planned anew when a device of it is lost or it is stuck, kept waiting while
 * no device can run it, and ended — with its result, or with a signed answer that says why not.
 */
import type { Logger } from 'pino';
import type { DeviceRegistry } from './device-registry.ts';
import { JobBook, type JobRecord } from './job-book.ts';
import type { Dispatcher } from './dispatch.ts';
import type { PlannerLearning } from './learning.ts';
import { YardstickPlans, placeAttempt, type PlacementDefaults } from './placement.ts';
import { JobWatchdog } from './watchdog.ts';
import { JobFrontier, type FleetProgress } from './progress.ts';
import { deadlineOf } from './options.ts';
import { ATTEMPTS_PER_SUBMISSION } from './request.ts';
import type { Plan } from './core/types.ts';
import type { Received } from '../transport/mqtt-transport.ts';
import { JobStatus, StageStatus } from '../schemas/generated/edgeweave.ts';
import type { ErrorCode } from '../schemas/errors.ts';

export interface JobRules extends PlacementDefaults {
  maxAttempts: number;
  overrunMs: number;
}

export class JobManager {
  readonly book: JobBook;
  private readonly watchdog: JobWatchdog;
  /** Yardstick plans (the speed-up baseline, the idle-fleet check of a refusal), kept a few seconds. */
  private readonly yardsticks = new YardstickPlans();
  private plannedCount = 0;
  private replannedCount = 0;

  constructor(
    private readonly registry: DeviceRegistry,
    private readonly fleet: FleetProgress,
    private readonly dispatcher: Dispatcher,
    private readonly learning: PlannerLearning,
    private readonly rules: JobRules,
    private readonly isStopped: () => boolean,
    private readonly log: Logger,
  ) {
    this.book = new JobBook(log, (job) => {
      this.watchdog.disarm(job);
      this.fleet.forgetJob(job.key);
    });
    this.watchdog = new JobWatchdog(registry, fleet, rules.overrunMs, {
      retry: (job) => this.retry(job),
      replan: (job, reason) => void this.replan(job, reason),
      timedOut: (job, message) => void this.end(job, job.attempt, 'timeout', 'E_TIMEOUT', message),
    }, isStopped, log);
  }

  /** Attempts dispatched. */
  get planned(): number {
    return this.plannedCount;
  }

  /** Jobs planned again (device lost, overrun, resubmission). */
  get replanned(): number {
    return this.replannedCount;
  }

  /** A new job: plans its first attempt. One refused at once is not kept (one waiting for its devices is). */
  async first(job: JobRecord, receivedAtMs: number): Promise<void> {
    this.book.remember(job);
    await this.planAttempt(job, receivedAtMs, false);
    if (job.attempt === 0 && job.state.phase !== 'waiting') this.book.forget(job);
  }

  /**
   * Plans the job's next attempt over the live devices and dispatches it; or keeps it waiting
   * for a device, or ends it with the reason it cannot run.
   */
  private async planAttempt(job: JobRecord, receivedAtMs: number, again: boolean, retried = false): Promise<void> {
    const attempt = this.nextAttempt(job);
    const placement = placeAttempt(this.registry, job, again, this.rules, this.learning.dispatchMs, Date.now(), this.yardsticks, this.learning.spareShare);
    switch (placement.kind) {
      case 'wait': return this.wait(job, placement.reason, retried);
      case 'refuse': return this.end(job, attempt, 'rejected', placement.code, placement.message);
      case 'plan': return this.dispatch(job, placement.core, attempt, receivedAtMs, placement.localMs);
    }
  }

  /** The first attempt number of a submission: attempts stay unique across planners when an origin submits again. */
  private nextAttempt(job: JobRecord): number {
    return Math.max(job.attempt + 1, job.resubmission * ATTEMPTS_PER_SUBMISSION + 1);
  }

  private async dispatch(job: JobRecord, core: Plan, attempt: number, receivedAtMs: number, localMs: number): Promise<void> {
    const now = Date.now();
    const sent = this.dispatcher.prepare(job, core, attempt, receivedAtMs, localMs);
    const { plan } = sent;
    this.registry.clearBusy(job.key);
    this.fleet.forgetJob(job.key);
    // The data it sends holds the links, in the order the plan sends it. A stage reports once its
    // outputs are off its device's uplink: its report is due then.
    const transfers = [
      ...core.edges.map((e) => ({ from: e.fromDevice, to: e.toDevice, stage: e.fromStage, bytes: e.bytes, sendMs: e.sendMs })),
      ...core.results.map((r) => ({ from: r.fromDevice, to: job.request.originDevice, stage: r.fromStage, bytes: r.bytes, sendMs: r.sendMs })),
    ].sort((x, y) => x.sendMs - y.sendMs);
    const reportDue = new Map<string, number>(core.stages.map((st) => [st.id, now + st.finishMs]));
    for (const x of transfers) {
      const offUplink = this.registry.addTransfer(job.key, x.stage, x.from, x.to, x.bytes, now + x.sendMs, now);
      reportDue.set(x.stage, Math.max(reportDue.get(x.stage) ?? 0, offUplink));
    }
    for (const task of core.tasks) {
      this.registry.addBusy(task.device, job.key, task.stage, task.worker, now + task.startMs, now + task.finishMs, reportDue.get(task.stage) ?? now + task.finishMs);
    }
    for (const stage of plan.stages) this.fleet.placed(stage.deviceId, job.key, stage.stageId);
    job.plannedLoad = new Map(plan.stages.map((s) => [s.deviceId, this.registry.get(s.deviceId)?.loadFactor ?? 1]));
    const frontier = new JobFrontier(plan.stages.map((s) => ({
      stageId: s.stageId, deviceId: s.deviceId, transferMs: s.predicted?.transferInMs ?? 0,
      producers: [...new Set(s.inputs.filter((i) => i.fromStage !== '').map((i) => i.fromStage))],
    })), now);
    if (!this.book.apply(job, { type: 'dispatched', attempt, frontier, atMs: now })) return;
    Object.assign(job, { attempt, plan, dispatchMs: this.learning.dispatchMs, attemptsPlanned: job.attemptsPlanned + 1 });
    this.plannedCount++;
    this.watchdog.arm(job, core.predictedLatencyMs);
    await this.dispatcher.send(job, sent);
    this.log.info({ jobId: plan.jobId, attempt, algorithm: core.algorithm, stages: plan.stages.length, predictedMs: Math.round(core.predictedLatencyMs), planningMs: +core.diagnostics.planningMs.toFixed(2) }, 'job planned');
  }

  /** Cancels the job's current attempt and plans the next, or fails the job after the last attempt. */
  async replan(job: JobRecord, reason: string, byOrigin = false): Promise<void> {
    if (this.isStopped()) return;
    const log = this.log.child({ jobId: job.request.jobId, attempt: job.attempt });
    if (!this.book.apply(job, { type: 'replan' })) return;
    this.dispatcher.cancel(job.plan);
    // The planner's own re-plans are bounded; the origin asking again is bounded by its deadline.
    if (!byOrigin) job.replans++;
    if (job.replans >= this.rules.maxAttempts) {
      log.warn({ reason }, 'job failed after its last attempt');
      return this.end(job, job.attempt, 'failed', 'E_NO_PROGRESS', `gave up after ${job.replans} re-plans: ${reason}`);
    }
    log.warn({ reason }, 'planning the job anew');
    this.replannedCount++;
    await this.planAttempt(job, Date.now(), true);
  }

  /** A waiting job is tried again (a device came back, or its watchdog fired). */
  private retry(job: JobRecord): void {
    if (this.isStopped() || !this.book.apply(job, { type: 'retry' })) return;
    void this.planAttempt(job, Date.now(), true, true);
  }

  /** Keeps a job whose devices are gone until one comes back, bounded by the job's deadline (`again`: it waited already). */
  private wait(job: JobRecord, reason: string, again: boolean): void {
    const limitMs = deadlineOf(job.request);
    if (Date.now() - job.firstSeenAtMs > limitMs) {
      void this.end(job, job.attempt, 'timeout', 'E_TIMEOUT', `waited ${Math.round(limitMs / 1000)} s for a device: ${reason}`);
      return;
    }
    if (!again) this.log.warn({ jobId: job.request.jobId, reason }, 'job waits for a device');
    if (!this.book.apply(job, { type: 'wait', reason, atMs: Date.now() })) return;
    this.watchdog.arm(job, 0);
  }

  /** Every unfinished job with work still to do on a lost device is planned anew without it. */
  deviceLost(deviceId: string, why: string): void {
    for (const job of this.book.all()) {
      if (job.state.phase !== 'dispatched' || !job.state.frontier.pendingOn(deviceId)) continue;
      // An origin that is only away keeps its attempt: its inputs and its result live there, so a
      // new attempt could not run any sooner, and the one under way may still finish when it is back.
      if (deviceId === job.request.originDevice && why !== 'restarted') continue;
      void this.replan(job, `device ${deviceId} ${why}`);
    }
  }

  /** A device came (back) online: jobs waiting for one are planned again. */
  deviceBack(): void {
    for (const job of this.book.all()) if (job.state.phase === 'waiting') this.retry(job);
  }

  /** The job is over here (done, or answered with why not): it holds nothing any more. */
  private settle(job: JobRecord): void {
    this.watchdog.disarm(job);
    this.registry.clearBusy(job.key);
    this.fleet.forgetJob(job.key);
  }

  /** Ends a job with a result that says why it did not run, signed like any other. */
  async end(job: JobRecord, attempt: number, ending: 'failed' | 'rejected' | 'timeout', code: ErrorCode, message: string): Promise<void> {
    if (!this.book.apply(job, { type: 'ended', ending })) return;
    this.settle(job);
    this.log.warn({ jobId: job.request.jobId, origin: job.request.originDevice, code, message }, 'job not run');
    const status = ending === 'failed' ? JobStatus.JOB_STATUS_FAILED : ending === 'rejected' ? JobStatus.JOB_STATUS_REJECTED : JobStatus.JOB_STATUS_TIMEOUT;
    await this.dispatcher.fail(job.request.originDevice, job.request.jobId, attempt, status, code, message);
  }

  /** A stage report: progress of the attempt under way (and what it teaches), its failure, or its refusal. */
  onReport({ message: report, topic }: Received<'jobReport'>): void {
    const now = Date.now();
    // Every report shows its device at work, whichever job and planner it is for.
    if (this.registry.get(report.deviceId)) this.fleet.reported(report.deviceId, now);
    const job = this.book.get(topic.originId, report.jobId);
    if (!job || job.state.phase !== 'dispatched' || job.plan.attempt !== report.attempt) return;
    const frontier = job.state.frontier;
    const stage = job.plan.stages.find((s) => s.stageId === report.stageId);
    if (!stage) return;
    switch (report.status) {
      case StageStatus.STAGE_STATUS_OK: {
        const timing = report.timing;
        if (!timing) return;
        this.fleet.settled(stage.deviceId, job.key, stage.stageId);
        this.registry.stageDone(stage.deviceId, job.key, stage.stageId);
        const waited = frontier.reported(report.stageId, now);
        if (!waited) return;
        this.fleet.completed(stage.deviceId, waited.dueAtMs, now);
        this.book.apply(job, { type: 'progress', atMs: now });
        this.learning.fromReport(job, stage, { ...report, timing });
        return;
      }
      case StageStatus.STAGE_STATUS_FAILED: {
        const code = (report.error?.code ?? 'E_EXECUTION') as ErrorCode;
        void this.end(job, job.plan.attempt, 'failed', code, `stage ${report.stageId} on ${report.deviceId} failed: ${report.error?.message ?? 'unknown error'}`);
        return;
      }
      case StageStatus.STAGE_STATUS_REJECTED:
        // The device refused this attempt's input (it restarted since, a bad capability): it cannot finish.
        void this.replan(job, `stage ${report.stageId} refused by ${report.deviceId}: ${report.error?.code ?? ''} ${report.error?.message ?? ''}`);
        return;
      default:
        // DUPLICATE: a redelivery of a stage that ran; its own report counts.
        return;
    }
  }

  /** A job's result reached its origin: the job is done here; an older attempt's result makes the current one pointless. */
  onResult({ message: result, topic }: Received<'jobResult'>): void {
    const job = this.book.get(topic.originId, topic.jobId);
    if (!job || job.state.phase === 'finished' || result.status !== JobStatus.JOB_STATUS_OK) return;
    if (result.attempt === job.attempt) this.learning.fromResult(job, Date.now());
    this.book.apply(job, { type: 'resultArrived' });
    this.settle(job);
    if (result.attempt !== job.attempt) this.dispatcher.cancel(job.plan);
  }

  /** Stops every watchdog (the planner is stopping). */
  stop(): void {
    for (const job of this.book.all()) this.watchdog.disarm(job);
  }
}
