/**
 * Submitting jobs and receiving their results, for programs on a device (`submitJob`) and
 * for `edgeweave run`. One connection serves many jobs. The end-to-end latency is measured
 * here, on one clock (submission -> result); stage times from other devices are corrected
 * to this clock by an offset estimated against the planner. The first result per job wins;
 * later ones (a re-planned attempt, a duplicate) are ignored.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { pino } from 'pino';
import { Transport, brokerConnectionOf, type BrokerConnection, type Received, type Refused } from '../transport/mqtt-transport.ts';
import { ClockOffsetEstimator } from './clock.ts';
import {
  JobRequest, JobResult, ClockPing, JobStatus, Encoding, Tensor, PlannerState,
  type JobPlan, type StageReport, type DeviceStatus, type JobRequestInit, type JobResultInit, type TensorInit,
} from '../schemas/generated/edgeweave.ts';
import { decodeTensor, encodeTensor, maxDeviation, type TensorData } from '../schemas/tensor-codec.ts';
import { PlannerKeyRing } from '../schemas/capability.ts';
import type { Tensor as TfTensor } from '@tensorflow/tfjs';
import { topics, filters, assertValidId } from '../schemas/topics.ts';
import { EdgeweaveError } from '../schemas/errors.ts';

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

interface Pending {
  request: JobRequestInit;
  submittedAtMs: number;
  resubmissions: number;
  retry: NodeJS.Timeout | undefined;
  /** This client's clock at the job's last sign of life (submitted, planned, a stage reported). */
  lastActivityAtMs: number;
  plan: JobPlan | undefined;
  /** The incarnation of the planner that planned it, when the plan came. */
  plannerIncarnation: string;
  reports: StageReport[];
  resolve: (o: JobOutcome) => void;
  timer: NodeJS.Timeout | undefined;
}

export const DEFAULT_TIMEOUT_MS = 120_000;
/** A planner that said OFFLINE has this long to be back, as the same incarnation, before its jobs are submitted again. */
export const PLANNER_GRACE_MS = 3000;

export class JobClient {
  private readonly pending = new Map<string, Pending>();
  private readonly done = new Set<string>();
  /** Stage reports per job, kept for recent jobs after their result (reports may trail it). */
  private readonly reports = new Map<string, StageReport[]>();
  private readonly clock = new ClockOffsetEstimator();
  private readonly pings = new Map<number, number>();
  private pingSeq = 0;
  originStatus: DeviceStatus | undefined;

  private readonly keys = new PlannerKeyRing();
  /** Planners as their retained statuses say: online, and which incarnation. */
  private readonly planners = new Map<string, { online: boolean; incarnation: string }>();

  private constructor(
    private readonly transport: Transport,
    readonly origin: string,
    private readonly log: Logger,
    private readonly checkLossy: boolean,
    private readonly retryAfterMs: number,
    private readonly silenceAfterPlanMs: number | undefined,
    private readonly modelPaths: ReadonlyMap<string, string> = new Map(),
  ) {}

  static async connect(options: JobClientOptions): Promise<JobClient> {
    const log = (options.log ?? pino({ level: 'silent' })).child({ component: 'client', origin: options.origin });
    const transport = await Transport.connect({
      // A persistent session: results published while the link is down wait for it at the broker.
      ...brokerConnectionOf(options), username: options.username ?? options.origin,
      clientId: options.clientId ?? `${options.origin}.client-${randomUUID().slice(0, 8)}`, clean: false, log, debugJson: options.debugJson ?? false,
    });
    const client = new JobClient(transport, options.origin, log, options.checkLossy ?? false, options.retryAfterMs ?? 5000, options.silenceAfterPlanMs, options.modelPaths);
    const quiet = { onRefused: (r: Refused) => { log.debug({ topic: r.rawTopic, err: r.error }, 'message ignored'); r.ack(); } };
    const loud = (what: string) => ({ onRefused: (r: Refused) => { log.warn({ topic: r.rawTopic, err: r.error }, `malformed ${what} ignored`); r.ack(); } });
    await transport.on('plannerStatus', filters.allPlannerStatus(), (m) => client.onPlannerStatus(m), quiet);
    await transport.on('jobResult', filters.jobResults(options.origin), (m) => client.onResult(m), loud('job result'));
    await transport.on('jobRejected', filters.jobRejections(options.origin), (m) => client.onRejected(m), loud('rejection'));
    await transport.on('jobPlan', filters.jobPlans(options.origin), (m) => client.onPlan(m), quiet);
    await transport.on('jobReport', filters.jobReports(options.origin), (m) => client.onReport(m), quiet);
    await transport.on('clockPong', topics.clockPong(options.origin), (m) => client.onPong(m), { ...quiet, qos: 0 });
    await transport.on('deviceStatus', topics.deviceStatus(options.origin), (m) => { client.originStatus = m.message; }, quiet);
    await client.syncClock();
    return client;
  }

  /** Estimates the clock offset against the planner (a few ping/pong exchanges; quiet if none answers). */
  async syncClock(rounds = 4, waitMs = 300): Promise<void> {
    for (let i = 0; i < rounds; i++) {
      const seq = ++this.pingSeq;
      const t0 = Date.now();
      this.pings.set(seq, t0);
      await this.transport.publish(topics.clockPing(this.origin), ClockPing.encode({ deviceId: this.origin, seq, t0Ms: t0 }), { qos: 0 });
    }
    const until = Date.now() + waitMs;
    while (Date.now() < until && this.clock.sampleCount < rounds) await new Promise((r) => setTimeout(r, 20));
  }

  get clockOffsetMs(): number {
    return this.clock.offsetMs;
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
    const request: JobRequestInit = { ...init, jobId, originDevice: this.origin, submittedAtMs, timeoutMs };
    const outcome = new Promise<JobOutcome>((resolve) => {
      const reports: StageReport[] = [];
      this.reports.set(jobId, reports);
      if (this.reports.size > 2000) this.reports.delete(this.reports.keys().next().value as string);
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
    this.armRetry(jobId, p);
    // Published now, or queued by the client and sent when the link is back.
    void this.transport.publish(topics.jobSubmit(this.origin), JobRequest.encode(request), { qos: 1 }).catch((err: unknown) => this.log.warn({ err, jobId }, 'job submission not sent'));
    this.log.debug({ jobId }, 'job submitted');
    return outcome;
  }

  /**
   * Submits the job again when nobody keeps it alive. Before any plan: after `retryAfterMs` of
   * silence (the submission or its planner may be lost). Once planned, its planner watches its
   * progress and re-plans it when it is stuck, so the origin does not: it submits again only when
   * that planner goes offline or restarts (`onPlannerStatus`), or after a long silence
   * (`silenceAfterPlanMs`). A job queued behind others is not submitted twice.
   */
  private armRetry(jobId: string, p: Pending): void {
    if (p.retry) clearTimeout(p.retry);
    const predicted = p.plan?.predictedLatencyMs ?? 0;
    const wait = p.plan ? (this.silenceAfterPlanMs ?? Math.max(30_000, 10 * predicted)) : this.retryAfterMs;
    const quietFor = Date.now() - p.lastActivityAtMs;
    p.retry = setTimeout(() => {
      if (!this.pending.has(jobId)) return;
      if (!this.transport.connected || Date.now() - p.lastActivityAtMs < wait) {
        this.armRetry(jobId, p);
        return;
      }
      this.resubmit(jobId, p, 'no sign of life');
    }, Math.max(50, wait - quietFor));
    p.retry.unref();
  }

  /** Submissions this client made again (nobody kept the job alive). */
  get resubmitted(): number {
    return this.resubmissionCount;
  }

  private resubmissionCount = 0;

  private resubmit(jobId: string, p: Pending, why: string): void {
    p.resubmissions++;
    this.resubmissionCount++;
    this.log.info({ jobId, resubmission: p.resubmissions, why }, 'submitting the job again');
    void this.transport.publish(topics.jobSubmit(this.origin), JobRequest.encode({ ...p.request, resubmission: p.resubmissions }), { qos: 1 }).catch(() => undefined);
    p.lastActivityAtMs = Date.now();
    // The next planner starts over: until its plan comes, silence means the submission is lost.
    p.plan = undefined;
    this.armRetry(jobId, p);
  }

  /** A planner's retained status: its key, and whether the jobs it planned still have a keeper. */
  private onPlannerStatus({ message: s, topic }: Received<'plannerStatus'>): void {
    // Only a planner's own topic speaks for it (the broker's ACL lets planners alone publish there).
    if (topic.plannerId !== s.plannerId) {
      this.log.debug({ topic: topic.plannerId, plannerId: s.plannerId }, 'planner status on another planner\'s topic ignored');
      return;
    }
    this.keys.update(s.plannerId, s.publicKey);
    const online = s.state === PlannerState.PLANNER_STATE_ONLINE;
    this.planners.set(s.plannerId, { online, incarnation: s.incarnation });
    // Restarted: it forgot its jobs. Offline: give it a moment — a broker restart or a link drop
    // publishes its last will, and it is back ONLINE as the same incarnation in a second or two.
    this.orphaned(s.plannerId, (p) => p.plannerIncarnation !== '' && online && s.incarnation !== p.plannerIncarnation, 'restarted');
    if (!online) {
      setTimeout(() => {
        const now = this.planners.get(s.plannerId);
        this.orphaned(s.plannerId, (p) => !now?.online || (p.plannerIncarnation !== '' && now.incarnation !== p.plannerIncarnation), 'went offline');
      }, PLANNER_GRACE_MS).unref();
    }
  }

  /** Submits again the pending jobs planned by `plannerId` that `lost` says nobody keeps any more. */
  private orphaned(plannerId: string, lost: (p: Pending) => boolean, why: string): void {
    for (const [jobId, p] of this.pending) {
      if (p.plan?.plannerId === plannerId && lost(p)) this.resubmit(jobId, p, `its planner ${plannerId} ${why}`);
    }
  }

  /** The deadline passed: run the job here when the request allows it, else report the timeout. */
  private async timedOut(jobId: string, timeoutMs: number): Promise<void> {
    const p = this.pending.get(jobId);
    if (!p) return;
    if (p.retry) clearTimeout(p.retry);
    if (p.request.fallbackLocal) {
      this.log.warn({ jobId }, 'no result in time: running the job here');
      try {
        const outputs = await runLocally(p.request, this.modelPaths);
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
    if (p.retry) clearTimeout(p.retry);
    const latencyMs = arrivedAtMs - p.submittedAtMs;
    p.resolve({ result: { ...result, latencyMs: result.status === JobStatus.JOB_STATUS_OK || result.ranLocally ? latencyMs : result.latencyMs }, plan: p.plan, reports: p.reports, latencyMs, submittedAtMs: p.submittedAtMs, clockOffsetMs: this.clock.offsetMs });
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
    if (p.request.fallbackLocal && (result.status === JobStatus.JOB_STATUS_FAILED || (result.status === JobStatus.JOB_STATUS_REJECTED && result.error?.code === 'E_NO_DEVICES'))) {
      if (p.timer) clearTimeout(p.timer);
      void this.timedOut(topic.jobId, 0);
      return;
    }
    if (this.checkLossy && result.status === JobStatus.JOB_STATUS_OK && p.plan && usedLossyCuts(p.plan, p.request)) {
      // Measure the deviation before handing the result over; latency is taken at arrival.
      const arrivedAtMs = Date.now();
      void lossyDeviation(p.request, result, this.modelPaths).then(
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
    const jobId = topic.jobId;
    const p = this.pending.get(jobId);
    if (!p) return;
    p.lastActivityAtMs = Date.now();
    if (!p.plan || plan.attempt > p.plan.attempt) {
      p.plan = plan;
      p.plannerIncarnation = this.planners.get(plan.plannerId)?.incarnation ?? '';
      this.armRetry(jobId, p);
    }
  }

  private onReport({ message: report, topic }: Received<'jobReport'>): void {
    const list = this.reports.get(topic.jobId);
    if (!list) return;
    list.push(report);
    const p = this.pending.get(topic.jobId);
    if (p) p.lastActivityAtMs = Date.now();
    for (const w of this.reportWaiters) w();
  }

  private readonly reportWaiters = new Set<() => void>();

  /** Resolves when the job's reports satisfy `predicate` (reports may arrive after the result); rejects after `timeoutMs`. */
  waitForReports(jobId: string, predicate: (reports: readonly StageReport[]) => boolean, timeoutMs = 10_000): Promise<StageReport[]> {
    const list = this.reports.get(jobId);
    if (!list) return Promise.reject(new EdgeweaveError('E_CONFIG', `no job ${jobId} was submitted by this client`));
    if (predicate(list)) return Promise.resolve(list);
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!predicate(list)) return;
        this.reportWaiters.delete(check);
        clearTimeout(timer);
        resolve(list);
      };
      const timer = setTimeout(() => {
        this.reportWaiters.delete(check);
        reject(new EdgeweaveError('E_TIMEOUT', `reports of job ${jobId} did not arrive within ${timeoutMs} ms`));
      }, timeoutMs);
      this.reportWaiters.add(check);
    });
  }

  private onPong({ message: pong }: Received<'clockPong'>): void {
    const t3 = Date.now();
    const t0 = this.pings.get(pong.seq);
    if (t0 === undefined || t0 !== pong.t0Ms) return;
    this.pings.delete(pong.seq);
    this.clock.addExchange(t0, pong.t1Ms, pong.t2Ms, t3);
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

/** Whether a plan sent any cut in a lossy encoding (8-bit pixels of an input that came as 8-bit pixels are exact). */
export function usedLossyCuts(plan: JobPlan, request: JobRequestInit): boolean {
  const pixelInputs = new Set((request.inputs ?? []).filter((i) => i.tensor?.encoding === Encoding.ENCODING_UINT8).map((i) => i.taskId ?? ''));
  return plan.stages.some((s) => s.outputs.some((r) => r.encoding === Encoding.ENCODING_FLOAT16 || r.encoding === Encoding.ENCODING_INT8
    || (r.encoding === Encoding.ENCODING_UINT8 && !pixelInputs.has(r.tensor))));
}

/** Runs the whole model here, in float32, on the job's own inline inputs; its outputs by name. */
async function predictHere(request: JobRequestInit, paths: ReadonlyMap<string, string>): Promise<Map<string, TensorData>> {
  const [{ resolveModel, predictNamed }, tf] = await Promise.all([import('../models/index.ts'), import('@tensorflow/tfjs')]);
  const name = request.model?.name ?? '';
  const model = await resolveModel(paths.get(request.model?.sha256 ?? '') ?? paths.get(name) ?? name);
  if (request.model?.sha256 && !model.modelHash.startsWith(request.model.sha256)) {
    throw new EdgeweaveError('E_MODEL_NOT_FOUND', `the copy of ${name} here has another hash than the job's model`);
  }
  const feed: Record<string, TfTensor> = {};
  try {
    for (const [i, input] of (request.inputs ?? []).entries()) {
      if (!input.tensor) throw new EdgeweaveError('E_INPUT', 'an input held by another device cannot be replayed here');
      const data = decodeTensor(Tensor.create(input.tensor));
      const name = input.taskId || model.inputs[i]?.name || '';
      feed[name] = tf.tensor(data.dtype === 'uint8' ? Float32Array.from(data.values) : data.values, data.shape, data.dtype === 'int32' ? 'int32' : 'float32');
    }
    const out = predictNamed(model, feed);
    const result = new Map<string, TensorData>();
    for (const [name, t] of Object.entries(out)) result.set(name, { dtype: 'float32', shape: t.shape, values: t.dataSync() as Float32Array });
    tf.dispose(Object.values(out));
    return result;
  } finally {
    tf.dispose(Object.values(feed));
  }
}

/** The fallback: the job's outputs computed on the origin itself. */
async function runLocally(request: JobRequestInit, paths: ReadonlyMap<string, string>): Promise<TensorInit[]> {
  const outputs = await predictHere(request, paths);
  return [...outputs].map(([name, t]) => encodeTensor(t, { name }));
}

/** Runs the model here in float32 on the job's own inputs and compares its outputs with the result's. */
async function lossyDeviation(request: JobRequestInit, result: JobResult, paths: ReadonlyMap<string, string>): Promise<{ maxAbs: number; maxRel: number }> {
  const reference = await predictHere(request, paths);
  let maxAbs = 0;
  let maxRel = 0;
  for (const out of result.outputs) {
    const ref = reference.get(out.name);
    if (!ref) continue;
    const d = maxDeviation(ref.values, decodeTensor(out).values);
    maxAbs = Math.max(maxAbs, d.maxAbs);
    maxRel = Math.max(maxRel, d.maxRel);
  }
  return { maxAbs, maxRel };
}

/** Adds the origin's waiting energy to a result's bill: idle power while it neither computed nor sent. */
export function withOriginIdleEnergy(result: JobResultInit, origin: string, idleW: number, latencyMs: number): JobResultInit {
  const energy = (result.energy ?? []).map((e) => ({ ...e }));
  let entry = energy.find((e) => e.deviceId === origin);
  if (!entry) {
    entry = { deviceId: origin, predictedJ: 0, measuredJ: 0, computeJ: 0, radioJ: 0, idleJ: 0 };
    energy.push(entry);
  }
  const busyMs = (result.trace ?? []).filter((t) => t.deviceId === origin).reduce((s, t) => s + (t.computeMs ?? 0), 0);
  entry.idleJ = (idleW * Math.max(0, latencyMs - busyMs)) / 1000;
  entry.measuredJ = (entry.computeJ ?? 0) + (entry.radioJ ?? 0) + entry.idleJ;
  return { ...result, energy };
}
