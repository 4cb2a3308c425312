/**
 * The planner service: the pure planner core behind MQTT. It takes job submissions from its
 * share of the `$share/planners` group, follows device statuses and profiles, plans each job
 * over the live devices (their queues, learned speeds and links included), publishes the plan,
 * one assignment per device and the job's first inputs, answers clock pings, and learns from
 * every stage report. It also keeps jobs alive: when a device of a job goes offline, when a
 * job overruns its prediction, or when its origin submits it again, the job is planned anew
 * as a new attempt (the old one cancelled); after a few attempts it fails with a clear result.
 */
import type { Logger } from 'pino';
import { pino } from 'pino';
import { Transport, type IncomingMessage } from '../transport/mqtt-transport.ts';
import { planJob } from './core/registry.ts';
import type { Objective, PlanRequest, Plan, CostModelOptions } from './core/types.ts';
import type { TaskGraph } from '../schemas/graph.ts';
import { getTaskGraph } from '../models/task-graph.ts';
import { DeviceRegistry } from './device-registry.ts';
import { toWirePlan, initialInputs } from './wire-plan.ts';
import { statusProblem, profileProblem } from './validate-status.ts';
import { constraintsOf, graphFromSpecs, graphOptions, inputAsUint8, inputTaskOf, objectiveOf, shiftPlan } from './request.ts';
import {
  JobRequest, JobPlan, Assignment, StageInput, StageReport, JobResult, DeviceStatus, DeviceProfile, ClockPing, ClockPong, PlannerStatus,
  JobStatus, StageStatus, PlannerState, DeviceState, type JobPlanInit, type StageTiming,
} from '../schemas/generated/edgeweave.ts';
import { topics, filters, parseTopic, isValidId } from '../schemas/topics.ts';
import { generatePlannerKeys, signCapability, type PlannerKeys } from '../schemas/capability.ts';
import { EdgeweaveError, toEdgeweaveError, type ErrorCode } from '../schemas/errors.ts';

export interface PlannerServiceOptions {
  id: string;
  brokerUrl: string;
  username?: string;
  password?: string;
  ca?: string;
  /** Default algorithm for jobs that name none. */
  algorithm: string;
  /** Default objective for jobs that give none. */
  objective?: Objective;
  /** Model references (zoo names or model.json paths) beyond the zoo, by name. */
  models?: string[];
  cost?: CostModelOptions;
  /** Share group of the planners (default "planners"). */
  group?: string;
  /** Re-plans the planner starts on its own (device lost, no progress) before a job fails (default 3); an origin submitting again is bounded by its own deadline. */
  maxAttempts?: number;
  /** A job that shows no progress (no stage reported) for twice its prediction plus this long is planned anew (default 5 s). */
  overrunMs?: number;
  /** The signing key; default: a fresh one per start. */
  keys?: PlannerKeys;
  /** Mirror every published message as JSON under edgeweave/v1/debug/. */
  debugJson?: boolean;
  log?: Logger;
}

interface JobRecord {
  request: JobRequest;
  graph: TaskGraph;
  attempt: number;
  plan: JobPlan;
  /** How much later than the core predicted the plan's times were set (dispatch). */
  dispatchMs: number;
  finished: boolean;
  /** Stages of the current attempt that reported OK. */
  done: Set<string>;
  resubmission: number;
  /** Planner clock when the current attempt was dispatched. */
  dispatchedAtMs: number;
  watchdog: NodeJS.Timeout | undefined;
  /** Waiting for a device to come (back) online before it can be planned again. */
  waiting: boolean;
  /** Planner clock when the job first arrived. */
  firstSeenAtMs: number;
  /** Planner clock of the current attempt's last sign of progress (dispatch, a stage report). */
  lastProgressAtMs: number;
  /** Re-plans the planner decided on (device lost, no progress); the job fails at maxAttempts. */
  replans: number;
}

const MAX_JOBS = 20_000;
/** How long a job without its own timeout may wait for devices to come back. */
const DEFAULT_JOB_TIMEOUT_MS = 120_000;
/** The planner republishes its status (with its device estimates) every this many seconds. */
const STATUS_EVERY_TICKS = 2;

export class PlannerService {
  readonly registry = new DeviceRegistry();
  private transport: Transport | undefined;
  private readonly log: Logger;
  private readonly jobs = new Map<string, JobRecord>();
  private readonly modelRefs = new Map<string, string>();
  private jobsPlanned = 0;
  private replans = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly keys: PlannerKeys;
  /** Learned time from receiving a job to its first stage starting: added to every prediction. */
  private dispatchMs = 5;
  private ticks = 0;
  private stopped = false;

  constructor(private readonly options: PlannerServiceOptions) {
    this.log = (options.log ?? pino({ level: 'silent' })).child({ component: 'planner', plannerId: options.id });
    this.keys = options.keys ?? generatePlannerKeys();
    for (const ref of options.models ?? []) this.modelRefs.set(ref, ref);
  }

  get planned(): number {
    return this.jobsPlanned;
  }

  /** Jobs planned again (device lost, overrun, resubmission). */
  get replanned(): number {
    return this.replans;
  }

  private statusPayload(state: PlannerState): Uint8Array {
    const o = this.options;
    return PlannerStatus.encode({
      plannerId: o.id, state, algorithm: o.algorithm, publicKey: this.keys.publicKeyRaw, jobsPlanned: this.jobsPlanned, sentAtMs: Date.now(), version: '1',
      estimates: state === PlannerState.PLANNER_STATE_ONLINE ? this.registry.estimates(Date.now()) : [],
    });
  }

  async start(): Promise<void> {
    const o = this.options;
    const conn: Parameters<typeof Transport.connect>[0] = {
      url: o.brokerUrl, clientId: `${o.id}.planner`, clean: false, log: this.log, username: o.username ?? o.id, debugJson: o.debugJson ?? false,
      will: { topic: topics.plannerStatus(o.id), payload: this.statusPayload(PlannerState.PLANNER_STATE_OFFLINE), qos: 1, retain: true },
    };
    if (o.password !== undefined) conn.password = o.password;
    if (o.ca !== undefined) conn.ca = o.ca;
    this.transport = await Transport.connect(conn);
    const t = this.transport;
    await t.subscribe(filters.allDeviceStatus(), 1, (m) => this.onStatus(m));
    await t.subscribe(filters.allDeviceProfiles(), 1, (m) => this.onProfile(m));
    await t.subscribe(filters.jobReports(), 1, (m) => this.onReport(m));
    await t.subscribe(filters.jobResults(), 1, (m) => this.onResult(m));
    await t.subscribe(filters.allClockPings(), 0, (m) => this.onPing(m));
    await t.publish(topics.plannerStatus(o.id), this.statusPayload(PlannerState.PLANNER_STATE_ONLINE), { qos: 1, retain: true });
    // Submissions last: by now the devices' retained statuses and profiles are in.
    await t.subscribe(filters.sharedJobSubmits(o.group ?? 'planners'), 1, (m) => this.onSubmit(m), { manualAck: true });
    this.timer = setInterval(() => {
      this.expireDevices();
      if (++this.ticks % STATUS_EVERY_TICKS === 0) this.publishStatus();
    }, 1000);
    this.timer.unref();
    this.log.info({ algorithm: o.algorithm }, 'planner ready');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    for (const job of this.jobs.values()) if (job.watchdog) clearTimeout(job.watchdog);
    try {
      await this.transport?.publish(topics.plannerStatus(this.options.id), this.statusPayload(PlannerState.PLANNER_STATE_OFFLINE), { qos: 1, retain: true });
    } catch {
      // best effort
    }
    await this.transport?.close();
  }

  /** Stops at once as a crash would: no offline status (the broker publishes the last will). */
  async kill(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    for (const job of this.jobs.values()) if (job.watchdog) clearTimeout(job.watchdog);
    this.transport?.client.stream.destroy();
    await this.transport?.close(true);
  }

  private publishStatus(): void {
    void this.transport?.publish(topics.plannerStatus(this.options.id), this.statusPayload(PlannerState.PLANNER_STATE_ONLINE), { qos: 1, retain: true }).catch(() => undefined);
  }

  // ---- devices -----------------------------------------------------------------

  private onStatus(m: IncomingMessage): void {
    try {
      const status = DeviceStatus.decode(m.payload);
      const topic = parseTopic(m.topic);
      if (topic?.kind !== 'deviceStatus' || status.deviceId !== topic.deviceId) throw new EdgeweaveError('E_TOPIC', `status for ${JSON.stringify(status.deviceId)} on ${m.topic}`);
      const problem = statusProblem(status);
      if (problem) throw new EdgeweaveError('E_DECODE', `device status of ${topic.deviceId} refused: ${problem}`);
      const change = this.registry.updateStatus(status, Date.now());
      if (change !== 'unchanged') this.log.info({ deviceId: status.deviceId, change }, 'device status');
      if (change === 'offline' || status.state === DeviceState.DEVICE_STATE_OFFLINE) this.deviceLost(status.deviceId);
      else if (change === 'online') this.deviceBack();
    } catch (err) {
      this.log.warn({ err: toEdgeweaveError(err, 'E_DECODE'), topic: m.topic }, 'device status refused');
    }
  }

  private onProfile(m: IncomingMessage): void {
    try {
      const profile = DeviceProfile.decode(m.payload);
      const topic = parseTopic(m.topic);
      if (topic?.kind !== 'deviceProfile' || profile.deviceId !== topic.deviceId) throw new EdgeweaveError('E_TOPIC', `profile for ${JSON.stringify(profile.deviceId)} on ${m.topic}`);
      const problem = profileProblem(profile);
      if (problem) throw new EdgeweaveError('E_DECODE', `device profile of ${topic.deviceId} refused: ${problem}`);
      this.registry.updateProfile(profile);
    } catch (err) {
      this.log.warn({ err: toEdgeweaveError(err, 'E_DECODE'), topic: m.topic }, 'device profile refused');
    }
  }

  private expireDevices(): void {
    for (const id of this.registry.expire(Date.now())) {
      this.log.warn({ deviceId: id }, 'device missed its heartbeats; presumed offline');
      this.deviceLost(id);
    }
  }

  /** Every unfinished job with work still to do on a lost device is planned anew without it. */
  private deviceLost(deviceId: string): void {
    for (const job of this.jobs.values()) {
      if (job.finished) continue;
      const pending = job.plan.stages.some((s) => s.deviceId === deviceId && !job.done.has(s.stageId));
      if (pending) void this.replan(job, `device ${deviceId} went offline`);
    }
  }

  private onPing(m: IncomingMessage): void {
    const t1 = Date.now();
    try {
      const ping = ClockPing.decode(m.payload);
      const topic = parseTopic(m.topic);
      if (topic?.kind !== 'clockPing') return;
      const pong = ClockPong.encode({ deviceId: topic.deviceId, seq: ping.seq, t0Ms: ping.t0Ms, t1Ms: t1, t2Ms: Date.now(), plannerId: this.options.id });
      void this.transport?.publish(topics.clockPong(topic.deviceId), pong, { qos: 0 }).catch(() => undefined);
    } catch {
      // malformed ping: nothing to answer
    }
  }

  // ---- jobs --------------------------------------------------------------------

  private onSubmit(m: IncomingMessage): void {
    const receivedAtMs = Date.now();
    let request: JobRequest;
    try {
      request = JobRequest.decode(m.payload);
    } catch (err) {
      this.log.warn({ err: toEdgeweaveError(err, 'E_DECODE'), topic: m.topic, bytes: m.payload.byteLength }, 'job submission refused');
      m.ack();
      return;
    }
    const topic = parseTopic(m.topic);
    this.submit(request, topic?.kind === 'jobSubmit' ? topic.originId : '', receivedAtMs)
      .catch((err: unknown) => this.log.error({ err, jobId: request.jobId }, 'planning failed unexpectedly'))
      .finally(() => m.ack());
  }

  private async submit(request: JobRequest, topicOrigin: string, receivedAtMs: number): Promise<void> {
    const log = this.log.child({ jobId: request.jobId, origin: request.originDevice });
    if (topicOrigin === '' || request.originDevice !== topicOrigin) {
      log.warn({ code: 'E_TOPIC', topicOrigin }, 'job submission refused: origin_device does not match the topic');
      return;
    }
    if (!isValidId(request.jobId)) {
      log.warn({ code: 'E_TOPIC' }, 'job submission refused: invalid job id');
      return;
    }
    const existing = this.jobs.get(this.jobKey(request.originDevice, request.jobId));
    if (existing) {
      if (request.resubmission > existing.resubmission) {
        existing.resubmission = request.resubmission;
        existing.finished = false;
        await this.replan(existing, 'the origin submitted the job again', true);
      } else log.info('duplicate submission ignored');
      return;
    }
    const modelName = request.model?.name ?? '';
    let graph: TaskGraph;
    try {
      graph = request.tasks.length > 0 ? graphFromSpecs(modelName, request) : await getTaskGraph(this.modelRefs.get(modelName) ?? modelName, graphOptions(request));
    } catch (err) {
      const e = toEdgeweaveError(err, 'E_BAD_DAG');
      return this.fail(request, 1, JobStatus.JOB_STATUS_REJECTED, e.code, e.message);
    }
    for (const input of request.inputs) {
      const task = inputTaskOf(input, graph);
      if (!graph.inputs.includes(task)) return this.fail(request, 1, JobStatus.JOB_STATUS_REJECTED, 'E_INPUT', `input names ${JSON.stringify(input.taskId)}, not an input of ${modelName} (${graph.inputs.join(', ')})`);
    }
    const job: JobRecord = {
      request, graph, attempt: 0, plan: JobPlan.create({ jobId: request.jobId }), dispatchMs: 0, finished: false,
      done: new Set(), resubmission: request.resubmission, dispatchedAtMs: receivedAtMs, watchdog: undefined, waiting: false,
      firstSeenAtMs: receivedAtMs, lastProgressAtMs: receivedAtMs, replans: 0,
    };
    this.remember(job);
    await this.planAttempt(job, receivedAtMs, false);
    // A job refused at once is not kept (one waiting for its devices is).
    if (job.attempt === 0 && !job.waiting) this.jobs.delete(this.jobKey(request.originDevice, request.jobId));
  }

  /**
   * Plans the job's next attempt over the live devices and dispatches it. A new job that cannot be
   * placed fails at once, with the reason; a job being planned again (`again`) whose devices are
   * gone waits for one to come back (a broker restart, a link drop) until its attempts run out.
   */
  private async planAttempt(job: JobRecord, receivedAtMs: number, again: boolean): Promise<void> {
    const { request, graph } = job;
    const attempt = job.attempt + 1;
    const modelName = request.model?.name ?? '';
    const now = Date.now();
    const devices = this.registry.aliveIds(now)
      .map((id) => this.registry.get(id)!)
      .filter((r) => !request.excludeDevices.includes(r.status.deviceId))
      .filter((r) => r.status.models.includes(modelName) || r.status.models.includes(this.modelRefs.get(modelName) ?? modelName));
    // The origin is a device that is gone for now (its link dropped, the broker restarted; the job
    // may be one it queued while offline): its inputs and its result live there, so the job waits.
    const originRecord = this.registry.get(request.originDevice);
    if (originRecord && !this.registry.isAlive(originRecord, now) && originRecord.status.models.includes(modelName)) {
      return this.wait(job, `the origin ${request.originDevice} is offline`);
    }
    if (devices.length === 0) {
      if (again || this.registry.recentlyLost(modelName, now).length > 0) return this.wait(job, `no online device holds model ${modelName}`);
      return this.fail(request, attempt, JobStatus.JOB_STATUS_REJECTED, 'E_NO_DEVICES', `no online device holds model ${modelName}`);
    }
    const pins: Record<string, string> = {};
    for (const input of request.inputs) {
      if (input.source === 'sourceDevice' && input.sourceDevice) pins[inputTaskOf(input, graph)] = input.sourceDevice;
    }
    const originIsDevice = devices.some((d) => d.status.deviceId === request.originDevice);
    const planRequest: PlanRequest = {
      graph,
      devices: devices.map((r) => this.registry.spec(r, modelName, request.fused, now)),
      origin: originIsDevice ? request.originDevice : devices[0]!.status.deviceId,
      algorithm: request.algorithm !== '' ? request.algorithm : this.options.algorithm,
      objective: objectiveOf(request) ?? this.options.objective ?? { kind: 'latency' },
      constraints: constraintsOf(request),
      transport: { allowLossy: request.allowLossy, inputAsUint8: inputAsUint8(request) },
      pins,
      ...(this.options.cost ? { cost: this.options.cost } : {}),
    };
    let outcome = planJob(planRequest);
    if (!outcome.ok && again && outcome.issues[0]?.reason === 'not-applicable') {
      // The strategy asked for no longer fits the devices left (no edge any more): plan for the best.
      outcome = planJob({ ...planRequest, algorithm: 'auto' });
    }
    if (!outcome.ok) {
      const first = outcome.issues[0]!;
      const message = outcome.issues.map((i) => i.message).join('; ');
      // Devices that just dropped off (a broker restart, a link drop) may make it possible again.
      const transient = first.reason === 'pin' || first.reason === 'no-device' || first.reason === 'not-applicable' || first.code === 'E_NO_DEVICES';
      if (transient && (again || this.registry.recentlyLost(modelName, now).length > 0)) return this.wait(job, message);
      return this.fail(request, attempt, JobStatus.JOB_STATUS_REJECTED, first.code, message);
    }
    job.waiting = false;
    // The baseline a speed-up is measured against: everything on the origin, pins and limits aside.
    const unpinned = { ...graph, tasks: graph.tasks.map(({ pinned: _pinned, ...t }) => t) };
    const local = originIsDevice ? planJob({ ...planRequest, graph: unpinned, pins: {}, algorithm: 'local', constraints: {} }) : outcome;
    const localMs = local.ok ? local.plan.predictedLatencyMs + this.dispatchMs : 0;
    await this.dispatch(job, shiftPlan(outcome.plan, this.dispatchMs), attempt, receivedAtMs, localMs);
  }

  private async dispatch(job: JobRecord, core: Plan, attempt: number, receivedAtMs: number, localMs: number): Promise<void> {
    const t = this.transport!;
    const { request, graph } = job;
    const now = Date.now();
    const workers = new Map<string, string[]>();
    for (const id of Object.values(core.placement)) workers.set(id, this.registry.get(id)?.status.workers ?? []);
    const wire = toWirePlan(core, {
      request, attempt, plannerId: this.options.id, workers, modelHash: this.registry.modelHash(request.model?.name ?? ''),
      submittedAtMs: receivedAtMs, inputTaskIds: graph.inputs, outputTaskIds: graph.outputs, denseShards: { ...request.denseShards },
    });
    const plan = JobPlan.create({ ...wire.plan, predictedLocalLatencyMs: localMs } as JobPlanInit);
    const capability = signCapability(this.keys, plan.jobId, attempt);
    this.registry.clearBusy(request.jobId);
    for (const task of core.tasks) this.registry.addBusy(task.device, request.jobId, task.worker, now + task.startMs, now + task.finishMs);
    Object.assign(job, { attempt, plan, dispatchMs: this.dispatchMs, done: new Set<string>(), dispatchedAtMs: now });
    this.jobsPlanned++;
    this.armWatchdog(job, core.predictedLatencyMs);
    // The published plan carries the DAG for viewers; the copies in assignments and inputs do not.
    const published = [t.publish(topics.jobPlan(request.originDevice, request.jobId), JobPlan.encode({ ...plan, tasks: graph.tasks.map((x) => ({ ...x, pinnedDevice: x.pinned ?? '' })) }), { qos: 1 })];
    for (const [deviceId, stageIds] of wire.devices) {
      published.push(t.publish(topics.deviceAssign(deviceId), Assignment.encode({ jobId: plan.jobId, attempt, deviceId, plan, stageIds, capability, issuedAtMs: Date.now() }), { qos: 1 }));
    }
    for (const { deviceId, worker, message } of initialInputs(plan, request, graph.inputs)) {
      published.push(t.publish(worker !== '' ? topics.workerInbox(deviceId, worker) : topics.deviceInbox(deviceId), StageInput.encode({ ...message, capability }), { qos: 1 }));
    }
    await Promise.all(published);
    this.log.info({ jobId: plan.jobId, attempt, algorithm: core.algorithm, stages: plan.stages.length, predictedMs: Math.round(core.predictedLatencyMs), planningMs: +core.diagnostics.planningMs.toFixed(2) }, 'job planned');
  }

  /**
   * A job that shows no progress (no stage reported) for well past its prediction is planned
   * again: a lost message, a hung executor. A slow job that keeps reporting is left alone, so
   * a busy system does not run its jobs twice.
   */
  private armWatchdog(job: JobRecord, predictedMs: number): void {
    if (job.watchdog) clearTimeout(job.watchdog);
    const limit = Math.min(2_147_000_000, 2 * predictedMs + (this.options.overrunMs ?? 5000));
    job.lastProgressAtMs = Date.now();
    const check = (): void => {
      job.watchdog = undefined;
      if (job.finished || this.stopped) return;
      const quietMs = Date.now() - job.lastProgressAtMs;
      if (quietMs < limit && !job.waiting) {
        job.watchdog = setTimeout(check, limit - quietMs);
        job.watchdog.unref();
        return;
      }
      void this.replan(job, `no progress for ${Math.round(quietMs)} ms`);
    };
    job.watchdog = setTimeout(check, limit);
    job.watchdog.unref();
  }

  /** Cancels the job's current attempt and plans the next, or fails the job after the last attempt. */
  private async replan(job: JobRecord, reason: string, byOrigin = false): Promise<void> {
    if (this.stopped) return;
    const log = this.log.child({ jobId: job.request.jobId, attempt: job.attempt });
    const old = job.plan;
    this.cancel(old);
    // The planner's own re-plans are bounded; the origin asking again is bounded by its deadline.
    if (!byOrigin) job.replans++;
    if (job.replans >= (this.options.maxAttempts ?? 3)) {
      log.warn({ reason }, 'job failed after its last attempt');
      job.finished = true;
      this.registry.clearBusy(job.request.jobId);
      return this.fail(job.request, job.attempt, JobStatus.JOB_STATUS_FAILED, 'E_TIMEOUT', `gave up after ${job.replans} re-plans: ${reason}`);
    }
    log.warn({ reason }, 'planning the job anew');
    this.replans++;
    await this.planAttempt(job, Date.now(), true);
  }

  /** Keeps a job whose devices are gone until one comes back; the watchdog bounds the wait. */
  private wait(job: JobRecord, reason: string): void {
    const limitMs = job.request.timeoutMs > 0 ? job.request.timeoutMs : DEFAULT_JOB_TIMEOUT_MS;
    if (Date.now() - job.firstSeenAtMs > limitMs) {
      job.finished = true;
      void this.fail(job.request, job.attempt, JobStatus.JOB_STATUS_FAILED, 'E_NO_DEVICES', `waited ${Math.round(limitMs / 1000)} s for a device: ${reason}`);
      return;
    }
    if (!job.waiting) this.log.warn({ jobId: job.request.jobId, reason }, 'job waits for a device');
    job.waiting = true;
    this.armWatchdog(job, 0);
  }

  /** A device came (back) online: jobs waiting for one are planned again. */
  private deviceBack(): void {
    for (const job of this.jobs.values()) {
      if (job.waiting && !job.finished) {
        job.waiting = false;
        void this.planAttempt(job, Date.now(), true);
      }
    }
  }

  /** Tells the devices of an attempt to drop it (pending joins, stage inputs still to come). */
  private cancel(plan: JobPlan): void {
    if (plan.attempt === 0) return;
    const devices = new Set(plan.stages.map((s) => s.deviceId));
    for (const deviceId of devices) {
      const capability = signCapability(this.keys, plan.jobId, plan.attempt);
      void this.transport?.publish(topics.deviceAssign(deviceId), Assignment.encode({ jobId: plan.jobId, attempt: plan.attempt, deviceId, cancel: true, capability, issuedAtMs: Date.now() }), { qos: 1 }).catch(() => undefined);
    }
  }

  private jobKey(origin: string, jobId: string): string {
    return `${origin}/${jobId}`;
  }

  private remember(rec: JobRecord): void {
    this.jobs.set(this.jobKey(rec.request.originDevice, rec.request.jobId), rec);
    if (this.jobs.size > MAX_JOBS) {
      const oldest = this.jobs.keys().next().value as string;
      const gone = this.jobs.get(oldest);
      if (gone?.watchdog) clearTimeout(gone.watchdog);
      this.jobs.delete(oldest);
    }
  }

  /** A result that says why the job cannot run, signed like any other. */
  private async fail(request: Pick<JobRequest, 'jobId' | 'originDevice'>, attempt: number, status: JobStatus, code: ErrorCode, message: string): Promise<void> {
    this.log.warn({ jobId: request.jobId, origin: request.originDevice, code, message }, 'job not run');
    if (!isValidId(request.jobId) || !isValidId(request.originDevice)) return;
    const payload = JobResult.encode({
      jobId: request.jobId, attempt, status, error: { code, message }, producedBy: `planner:${this.options.id}`, finishedAtMs: Date.now(),
      capability: signCapability(this.keys, request.jobId, attempt),
    });
    await this.transport?.publish(topics.jobResult(request.originDevice, request.jobId), payload, { qos: 1 }).catch(() => undefined);
  }

  // ---- reports and results -------------------------------------------------------

  private onReport(m: IncomingMessage): void {
    let report: StageReport;
    try {
      report = StageReport.decode(m.payload);
    } catch (err) {
      this.log.debug({ err: toEdgeweaveError(err, 'E_DECODE'), topic: m.topic }, 'stage report refused');
      return;
    }
    const topic = parseTopic(m.topic);
    if (topic?.kind !== 'jobReport') return;
    const job = this.jobs.get(this.jobKey(topic.originId, report.jobId));
    if (!job || job.plan.attempt !== report.attempt) return;
    if (report.status === StageStatus.STAGE_STATUS_OK && report.timing) {
      job.done.add(report.stageId);
      job.lastProgressAtMs = Date.now();
      this.registry.learnCompute(report.deviceId, report.timing);
      this.learnDispatch(job, report.timing);
      const stage = job.plan.stages.find((s) => s.stageId === report.stageId);
      const remote = stage?.inputs.filter((i) => i.fromDevice !== report.deviceId && i.fromStage !== '') ?? [];
      const producers = new Set(remote.map((i) => i.fromStage));
      if (stage && producers.size === 1 && stage.inputs.every((i) => i.fromDevice !== report.deviceId) && report.timing.transferInMs > 0) {
        this.registry.learnTransfer(remote[0]!.fromDevice, report.deviceId, report.timing.bytesIn, report.timing.transferInMs);
      }
    } else if (report.status === StageStatus.STAGE_STATUS_FAILED && !job.finished) {
      job.finished = true;
      if (job.watchdog) clearTimeout(job.watchdog);
      this.registry.clearBusy(report.jobId);
      const code = (report.error?.code ?? 'E_EXECUTION') as ErrorCode;
      void this.fail(job.request, job.plan.attempt, JobStatus.JOB_STATUS_FAILED, code, `stage ${report.stageId} on ${report.deviceId} failed: ${report.error?.message ?? 'unknown error'}`);
    }
  }

  /** A first stage (fed by nobody but the job's inputs) shows how long dispatching took. */
  private learnDispatch(job: JobRecord, timing: StageTiming): void {
    const stage = job.plan.stages.find((s) => s.stageId === timing.stageId);
    if (!stage || stage.inputs.some((i) => i.fromStage !== '') || !timing.predicted || job.attempt > 1) return;
    const late = timing.startAtMs - job.plan.submittedAtMs - (timing.predicted.startMs - job.dispatchMs);
    if (!Number.isFinite(late) || late < 0 || late > 10_000) return;
    this.dispatchMs = 0.7 * this.dispatchMs + 0.3 * late;
  }

  private onResult(m: IncomingMessage): void {
    const topic = parseTopic(m.topic);
    if (topic?.kind !== 'jobResult') return;
    const job = this.jobs.get(this.jobKey(topic.originId, topic.jobId));
    if (!job || job.finished) return;
    let result: JobResult;
    try {
      result = JobResult.decode(m.payload);
    } catch {
      return;
    }
    if (result.status !== JobStatus.JOB_STATUS_OK) return;
    job.finished = true;
    if (job.watchdog) clearTimeout(job.watchdog);
    this.registry.clearBusy(topic.jobId);
    // A result from an older attempt makes the current one pointless.
    if (result.attempt !== job.attempt) this.cancel(job.plan);
  }
}
