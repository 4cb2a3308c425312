/**
 * Submitting jobs and receiving their results, for programs on a device (`submitJob`) and
 * for `edgeweave run`. One connection serves many jobs. The end-to-end latency is measured
 * here, on one clock (submission -> result); stage times from other devices are corrected
 * to this clock by an offset estimated against the planner. The first result per job wins;
 * later ones (a re-planned attempt, a duplicate) are ignored. When to submit a job again is
 * decided in client-keepalive.ts, the local fallback and the lossy check run in local-run.ts.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { pino } from 'pino';
import { Transport, brokerConnectionOf, type BrokerConnection, type Received, type Refused } from '../transport/mqtt-transport.ts';
import { ClockSync } from './clock-sync.ts';
import { JobKeepAlive, type KeptJob } from './client-keepalive.ts';
import { JobReports } from './client-reports.ts';
import { JobHandover } from './client-handover.ts';
import { lossyDeviation, runLocally, usedLossyCuts } from './local-run.ts';
import {
  JobResult, JobStatus, PlannerState, type JobPlan, type StageReport, type DeviceStatus, type JobRequestInit,
} from '../schemas/generated/edgeweave.ts';
import { PlannerKeyRing } from '../schemas/capability.ts';
import { topics, filters, assertValidId } from '../schemas/topics.ts';
import { EdgeweaveError, toEdgeweaveError } from '../schemas/errors.ts';

export interface JobClientOptions extends BrokerConnection {
  /** The device the jobs are submitted as (their origin). */
  origin: string;
  clientId?: string;
  /** Mirror the job requests this client publishes as JSON under edgeweave/v1/debug/. */
  debugJson?: boolean;
  /**
   * When a plan sent cuts in a lossy encoding (float16, int8), run the model here on the same
   * inputs in float32 and report the output's deviation in the result (needs the model here).
   */
  checkLossy?: boolean;
  /**
   * Where this host keeps models a job may name (id or hash -> zoo name or model.json path), for
   * the local fallback and the lossy check; a model not listed is looked up by its id.
   */
  modelPaths?: ReadonlyMap<string, string>;
  /** Submit again when no plan has come this long after submitting (default 5000 ms). */
  retryAfterMs?: number;
  /**
   * Once planned, a job is kept alive by its planner; the origin submits it again only when that
   * planner goes offline or restarts, or after this long without a sign of life (default: the
   * longer of 30 s and ten times the predicted latency).
   */
  silenceAfterPlanMs?: number;
  log?: Logger;
}

export interface JobOutcome {
  result: JobResult;
  plan: JobPlan | undefined;
  reports: StageReport[];
  /** Submission -> result, measured here. */
  latencyMs: number;
  /** This client's clock at submission. */
  submittedAtMs: number;
  /** Reference clock minus this client's clock, when the result arrived. */
  clockOffsetMs: number;
}

interface Pending extends KeptJob {
  submittedAtMs: number;
  reports: StageReport[];
  resolve: (o: JobOutcome) => void;
  timer: NodeJS.Timeout | undefined;
}

/** How the client treats results: the lossy check, and where this host keeps models. */
interface ResultSettings {
  checkLossy: boolean;
  modelPaths: ReadonlyMap<string, string>;
}

export const DEFAULT_TIMEOUT_MS = 120_000;

export class JobClient {
  private readonly pending = new Map<string, Pending>();
  private readonly done = new Set<string>();
  private readonly reports = new JobReports();
  private readonly keepAlive: JobKeepAlive;
  private readonly keys = new PlannerKeyRing();
  private readonly handover: JobHandover;
  originStatus: DeviceStatus | undefined;

  private constructor(
    private readonly transport: Transport,
    readonly origin: string,
    private readonly clockSync: ClockSync,
    private readonly log: Logger,
    private readonly settings: ResultSettings,
    retry: { retryAfterMs: number; silenceAfterPlanMs: number | undefined },
  ) {
    this.handover = new JobHandover(transport, origin, () => this.originStatus, log);
    this.keepAlive = new JobKeepAlive(this.pending, {
      ...retry, log, connected: () => this.transport.connected,
      send: (request) => void this.handover.submit(request).catch((err: unknown) => this.log.warn({ err, jobId: request.jobId }, 'job not submitted again')),
    });
  }

  static async connect(options: JobClientOptions): Promise<JobClient> {
    const log = (options.log ?? pino({ level: 'silent' })).child({ component: 'client', origin: options.origin });
    const transport = await Transport.connect({
      // A persistent session: results published while the link is down wait for it at the broker.
      ...brokerConnectionOf(options), username: options.username ?? options.origin,
      clientId: options.clientId ?? `${options.origin}.client-${randomUUID().slice(0, 8)}`, clean: false, log, debugJson: options.debugJson ?? false,
    });
    const quiet = { onRefused: (r: Refused) => { log.debug({ topic: r.rawTopic, err: r.error }, 'message ignored'); r.ack(); } };
    const loud = (what: string) => ({ onRefused: (r: Refused) => { log.warn({ topic: r.rawTopic, err: r.error }, `malformed ${what} ignored`); r.ack(); } });
    const clockSync = await ClockSync.attach(transport, options.origin, quiet);
    const client = new JobClient(
      transport, options.origin, clockSync, log,
      { checkLossy: options.checkLossy ?? false, modelPaths: options.modelPaths ?? new Map() },
      { retryAfterMs: options.retryAfterMs ?? 5000, silenceAfterPlanMs: options.silenceAfterPlanMs },
    );
    await transport.on('plannerStatus', filters.allPlannerStatus(), (m) => client.onPlannerStatus(m), quiet);
    await transport.on('jobResult', filters.jobResults(options.origin), (m) => client.onResult(m), loud('job result'));
    await transport.on('jobRejected', filters.jobRejections(options.origin), (m) => client.onRejected(m), loud('rejection'));
    await transport.on('jobPlan', filters.jobPlans(options.origin), (m) => client.onPlan(m), quiet);
    await transport.on('jobReport', filters.jobReports(options.origin), (m) => client.onReport(m), quiet);
    await transport.on('deviceStatus', topics.deviceStatus(options.origin), (m) => { client.originStatus = m.message; }, quiet);
    await client.syncClock();
    await client.originKnown(500);
    return client;
  }

  /** Waits up to `ms` for the origin's retained status (where its device takes job data). */
  private async originKnown(ms: number): Promise<void> {
    for (let waited = 0; this.originStatus === undefined && waited < ms; waited += 20) await new Promise((r) => setTimeout(r, 20));
  }

  /** Whether job data goes to the origin's device over its local socket (it runs on this host). */
  get handsOverLocally(): boolean {
    return this.handover.usesLocalSocket;
  }

  /** Estimates the clock offset against the planner (a few ping/pong exchanges; quiet if none answers). */
  async syncClock(rounds = 4, waitMs = 300): Promise<void> {
    await this.clockSync.syncClock(rounds, waitMs);
  }

  get clockOffsetMs(): number {
    return this.clockSync.clock.offsetMs;
  }

  /** Submissions this client made again (nobody kept the job alive). */
  get resubmitted(): number {
    return this.keepAlive.resubmitted;
  }

  /**
   * Submits a job and resolves with its outcome: the result, or a TIMEOUT result after
   * `timeoutMs` (never hangs).
   */
  async submit(init: Omit<JobRequestInit, 'originDevice'>): Promise<JobOutcome> {
    const jobId = init.jobId && init.jobId !== '' ? init.jobId : `${Date.now().toString(36)}-${randomUUID().slice(0, 8)}`;
    assertValidId('job', jobId);
    if (this.pending.has(jobId) || this.done.has(jobId)) throw new EdgeweaveError('E_CONFIG', `job id ${jobId} was already used by this client`);
    const timeoutMs = init.timeoutMs && init.timeoutMs > 0 ? init.timeoutMs : DEFAULT_TIMEOUT_MS;
    const submittedAtMs = Date.now();
    // On the reference clock too, once a clock exchange measured this client's offset to it.
    const clock = this.clockSync.clock;
    const submittedAtRefMs = Number.isFinite(clock.uncertaintyMs) ? submittedAtMs + clock.offsetMs : 0;
    const request: JobRequestInit = { ...init, jobId, originDevice: this.origin, submittedAtMs, submittedAtRefMs, timeoutMs };
    const outcome = new Promise<JobOutcome>((resolve) => {
      const reports = this.reports.open(jobId);
      const p: Pending = { request, submittedAtMs, resubmissions: 0, retry: undefined, lastActivityAtMs: submittedAtMs, plan: undefined, plannerIncarnation: '', reports, resolve, timer: undefined };
      p.timer = setTimeout(() => void this.timedOut(jobId, timeoutMs), timeoutMs);
      this.pending.set(jobId, p);
    });
    const p = this.pending.get(jobId)!;
    if (!this.transport.connected && request.fallbackLocal) {
      // No link: run it here rather than queue it for a link that may not come back in time.
      this.log.warn({ jobId }, 'not connected: running the job here');
      if (p.timer) clearTimeout(p.timer);
      void this.timedOut(jobId, 0);
      return outcome;
    }
    this.keepAlive.arm(jobId, p);
    // The data to the origin's device, then the submission (published now, or queued by the client and sent when the link is back).
    void this.handover.submit(request).then(
      () => this.log.debug({ jobId }, 'job submitted'),
      (err: unknown) => {
        this.log.warn({ err, jobId }, 'job not submitted');
        const e = toEdgeweaveError(err, 'E_INPUT');
        if (e.code !== 'E_LOCAL') this.finish(jobId, JobResult.create({ jobId, status: JobStatus.JOB_STATUS_REJECTED, error: { code: e.code, message: e.message } }));
      },
    );
    return outcome;
  }

  /** A planner's retained status: its key, and whether the jobs it planned still have a keeper. */
  private onPlannerStatus({ message: s, topic }: Received<'plannerStatus'>): void {
    // Only a planner's own topic speaks for it (the broker's ACL lets planners alone publish there).
    if (topic.plannerId !== s.plannerId) {
      this.log.debug({ topic: topic.plannerId, plannerId: s.plannerId }, 'planner status on another planner\'s topic ignored');
      return;
    }
    this.keys.update(s.plannerId, s.publicKey);
    this.keepAlive.plannerStatus(s.plannerId, s.state === PlannerState.PLANNER_STATE_ONLINE, s.incarnation);
  }

  /** The deadline passed: run the job here when the request allows it, else report the timeout. */
  private async timedOut(jobId: string, timeoutMs: number): Promise<void> {
    const p = this.pending.get(jobId);
    if (!p) return;
    this.keepAlive.release(p);
    if (p.request.fallbackLocal) {
      this.log.warn({ jobId }, 'no result in time: running the job here');
      try {
        const outputs = await runLocally(p.request, this.settings.modelPaths);
        this.finish(jobId, JobResult.create({ jobId, status: JobStatus.JOB_STATUS_OK, outputs, ranLocally: true, producedBy: this.origin, error: { code: 'E_TIMEOUT', message: `no result within ${timeoutMs} ms; ran on the origin` } }));
        return;
      } catch (err) {
        this.log.warn({ err, jobId }, 'cannot run the job here either');
      }
    }
    this.finish(jobId, JobResult.create({ jobId, status: JobStatus.JOB_STATUS_TIMEOUT, error: { code: 'E_TIMEOUT', message: `no result within ${timeoutMs} ms` } }));
  }

  async close(): Promise<void> {
    for (const [jobId] of this.pending) {
      this.finish(jobId, JobResult.create({ jobId, status: JobStatus.JOB_STATUS_FAILED, error: { code: 'E_CANCELLED', message: 'the client closed before the result arrived' } }));
    }
    this.handover.close();
    // The session was kept only for this client's jobs: end it at the broker too.
    await this.transport.close(false, { endSession: true });
  }

  private finish(jobId: string, result: JobResult, arrivedAtMs = Date.now()): void {
    const p = this.pending.get(jobId);
    if (!p) return;
    this.pending.delete(jobId);
    this.done.add(jobId);
    if (this.done.size > 100_000) this.done.delete(this.done.values().next().value as string);
    if (p.timer) clearTimeout(p.timer);
    this.keepAlive.release(p);
    this.handover.release(jobId);
    const latencyMs = arrivedAtMs - p.submittedAtMs;
    p.resolve({ result: { ...result, latencyMs: result.status === JobStatus.JOB_STATUS_OK || result.ranLocally ? latencyMs : result.latencyMs }, plan: p.plan, reports: p.reports, latencyMs, submittedAtMs: p.submittedAtMs, clockOffsetMs: this.clockOffsetMs });
  }

  private onResult({ message: result, topic }: Received<'jobResult'>): void {
    if (!this.pending.has(topic.jobId)) {
      this.log.debug({ jobId: topic.jobId, known: this.done.has(topic.jobId) }, 'result of a job not pending here ignored');
      return;
    }
    if (result.jobId !== topic.jobId) return;
    if (!this.keys.accepts(this.origin, result.jobId, result.attempt, result.capability)) {
      this.log.warn({ code: 'E_CAPABILITY', jobId: result.jobId, producedBy: result.producedBy }, 'job result refused: no valid capability');
      return;
    }
    const p = this.pending.get(topic.jobId)!;
    const unplaceable = result.error?.code === 'E_NO_DEVICES' || result.error?.code === 'E_OVERLOADED';
    if (p.request.fallbackLocal && (result.status === JobStatus.JOB_STATUS_FAILED || (result.status === JobStatus.JOB_STATUS_REJECTED && unplaceable))) {
      if (p.timer) clearTimeout(p.timer);
      void this.timedOut(topic.jobId, 0);
      return;
    }
    if (this.settings.checkLossy && result.status === JobStatus.JOB_STATUS_OK && p.plan && usedLossyCuts(p.plan, p.request)) {
      // Measure the deviation before handing the result over; latency is taken at arrival.
      const arrivedAtMs = Date.now();
      void lossyDeviation(p.request, result, this.settings.modelPaths).then(
        (dev) => this.finish(topic.jobId, { ...result, lossyMaxAbsDeviation: dev.maxAbs, lossyMaxRelDeviation: dev.maxRel }, arrivedAtMs),
        (err: unknown) => {
          this.log.warn({ err, jobId: topic.jobId }, 'cannot measure the lossy deviation here');
          this.finish(topic.jobId, result, arrivedAtMs);
        },
      );
      return;
    }
    this.finish(topic.jobId, result);
  }

  /** A submission refused before its job id could name a topic: matched to a pending job by the id it echoes. */
  private onRejected({ message: result }: Received<'jobRejected'>): void {
    if (!this.keys.accepts(this.origin, result.jobId, result.attempt, result.capability)) return;
    this.log.warn({ jobId: result.jobId, code: result.error?.code, message: result.error?.message }, 'a submission of this origin was refused');
    if (this.pending.has(result.jobId)) this.finish(result.jobId, result);
  }

  private onPlan({ message: plan, topic }: Received<'jobPlan'>): void {
    const p = this.pending.get(topic.jobId);
    if (!p) return;
    this.keepAlive.planned(topic.jobId, p, plan);
    if (plan.jobId === topic.jobId && this.keys.accepts(this.origin, plan.jobId, plan.attempt, plan.capability)) this.handover.planned(plan);
  }

  private onReport({ message: report, topic }: Received<'jobReport'>): void {
    if (!this.reports.add(topic.jobId, report)) return;
    const p = this.pending.get(topic.jobId);
    if (p) this.keepAlive.active(p);
  }

  /** Resolves when the job's reports satisfy `predicate` (reports may arrive after the result); rejects after `timeoutMs`. */
  waitForReports(jobId: string, predicate: (reports: readonly StageReport[]) => boolean, timeoutMs = 10_000): Promise<StageReport[]> {
    return this.reports.waitFor(jobId, predicate, timeoutMs);
  }
}

/**
 * Submits one job and waits for its outcome: connect, submit, close. For programs on a device
 * that run one job now and then; keep a JobClient open to submit many.
 */
export async function submitJob(options: JobClientOptions, job: Omit<JobRequestInit, 'originDevice'>): Promise<JobOutcome> {
  const client = await JobClient.connect(options);
  try {
    return await client.submit(job);
  } finally {
    await client.close();
  }
}
