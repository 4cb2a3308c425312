/**
 * The planner service: the pure planner core behind MQTT. It takes job submissions from its
 * share of the `$share/planners` group, follows device statuses and profiles, plans each job
 * over the live devices (their queues, learned speeds and links included), publishes the plan,
 * one assignment per device and the job's first inputs, answers clock pings, and learns from
 * every stage report. It also keeps jobs alive: when a device of a job goes offline, when a
 * job overruns its prediction, or when its origin submits it again, the job is planned anew
 * as a new attempt (the old one cancelled); after a few attempts it fails with a clear result.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { pino } from 'pino';
import { Transport, brokerConnectionOf, type BrokerConnection, type Received, type Refused } from '../transport/mqtt-transport.ts';
import { planJob } from './core/registry.ts';
import type { Objective, PlanRequest, Plan, CostModelOptions } from './core/types.ts';
import type { TaskGraph } from '../schemas/graph.ts';
import { DeviceRegistry, holdsModel, type PlannedModel } from './device-registry.ts';
import { PlannerModels } from './models.ts';
import { modelLabel } from '../models/model-card.ts';
import { toWirePlan, initialInputs } from './wire-plan.ts';
import { statusProblem, profileProblem } from './validate-status.ts';
import { FleetProgress, JobFrontier, judgeQuietJob, type DeviceLoad } from './progress.ts';
import { inputsProblem, requestProblem } from './request-check.ts';
import { ATTEMPTS_PER_SUBMISSION, constraintsOf, inputAsUint8, inputTaskOf, objectiveOf, shiftPlan } from './request.ts';
import {
  JobPlan, Assignment, StageInput, JobResult, ClockPong, PlannerStatus,
  JobStatus, StageStatus, PlannerState, DeviceState, type JobRequest, type JobPlanInit, type StageTiming,
} from '../schemas/generated/edgeweave.ts';
import { topics, filters, isValidId } from '../schemas/topics.ts';
import { generatePlannerKeys, signCapability, type PlannerKeys } from '../schemas/capability.ts';
import { EdgeweaveError, toEdgeweaveError, type ErrorCode } from '../schemas/errors.ts';

export interface PlannerServiceOptions extends BrokerConnection {
  id: string;
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
  /** A job that shows no progress (no stage reported) for twice its prediction plus this long is judged (default 5 s). */
  overrunMs?: number;
  /** A device that says OFFLINE has this long to be back (same incarnation) before its jobs are planned anew (default 3 s). */
  lostGraceMs?: number;
  /** The signing key; default: a fresh one per start. */
  keys?: PlannerKeys;
  /** Mirror every published message as JSON under edgeweave/v1/debug/. */
  debugJson?: boolean;
  log?: Logger;
}

/** Where a job is: being planned, under way, waiting for a device to come back, or over here. */
type JobPhase = 'planning' | 'dispatched' | 'waiting' | 'finished';

interface JobRecord {
  /** origin/job: job ids are unique per origin. */
  key: string;
  request: JobRequest;
  /** The model it runs, resolved once: every attempt runs the same content. */
  model: PlannedModel;
  graph: TaskGraph;
  phase: JobPhase;
  attempt: number;
  /** Attempts this planner dispatched. */
  attemptsPlanned: number;
  plan: JobPlan;
  /** The current attempt's stages that reported, and those it waits on. */
  frontier: JobFrontier | undefined;
  /** How much later than the core predicted the plan's times were set (dispatch). */
  dispatchMs: number;
  resubmission: number;
  watchdog: NodeJS.Timeout | undefined;
  /** Planner clock when the job first arrived. */
  firstSeenAtMs: number;
  /** Planner clock of the current attempt's last sign of progress (dispatch, a stage report). */
  lastProgressAtMs: number;
  /** Re-plans the planner decided on (device lost, no progress); the job fails at maxAttempts. */
  replans: number;
  /** Devices the job got stuck on: its next attempts go elsewhere where they can. */
  avoid: Set<string>;
  /** A result of the job may have been lost on its way: the next attempts send theirs whatever their device sent before. */
  resultMaybeLost: boolean;
}

const MAX_JOBS = 20_000;
/** A device that says OFFLINE has this long to be back as the same incarnation before its jobs move. */
const DEFAULT_LOST_GRACE_MS = 3000;
/** A job id that cannot be a topic level is echoed on jobs/{origin}/rejected up to this long. */
const MAX_REJECTED_ID_CHARS = 200;
/** How long a job without its own timeout may wait for devices to come back. */
const DEFAULT_JOB_TIMEOUT_MS = 120_000;
/** The planner republishes its status (with its device estimates) every this many seconds. */
const STATUS_EVERY_TICKS = 2;

/** How long a job may take in all, by its own timeout or the default. */
function deadlineOf(request: JobRequest): number {
  return request.timeoutMs > 0 ? request.timeoutMs : DEFAULT_JOB_TIMEOUT_MS;
}

export class PlannerService {
  readonly registry = new DeviceRegistry();
  private readonly fleet = new FleetProgress();
  private readonly incarnation = randomBytes(6).toString('hex');
  private transport: Transport | undefined;
  private readonly log: Logger;
  private readonly jobs = new Map<string, JobRecord>();
  private readonly models: PlannerModels;
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
    this.models = new PlannerModels(this.registry, options.models ?? [], this.log);
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
      plannerId: o.id, state, algorithm: o.algorithm, publicKey: this.keys.publicKeyRaw, jobsPlanned: this.jobsPlanned, sentAtMs: Date.now(), version: '1', incarnation: this.incarnation,
      estimates: state === PlannerState.PLANNER_STATE_ONLINE ? this.registry.estimates(Date.now()) : [],
    });
  }

  async start(): Promise<void> {
    const o = this.options;
    this.transport = await Transport.connect({
      ...brokerConnectionOf(o), username: o.username ?? o.id, clientId: `${o.id}.planner`, clean: false, log: this.log, debugJson: o.debugJson ?? false,
      will: { topic: topics.plannerStatus(o.id), payload: this.statusPayload(PlannerState.PLANNER_STATE_OFFLINE), qos: 1, retain: true },
    });
    const t = this.transport;
    // Back after a broker restart or a link drop: say ONLINE at once (the broker may hold our last will).
    t.onReconnect(() => this.publishStatus());
    await t.on('deviceStatus', filters.allDeviceStatus(), (m) => this.onStatus(m));
    await t.on('deviceProfile', filters.allDeviceProfiles(), (m) => this.onProfile(m));
    await t.on('modelCard', filters.allModelCards(), (m) => this.models.onCard(m.topic.sha256, m.bytes === 0 ? undefined : m.message), {
      onRefused: (r) => { this.log.warn({ err: r.error, topic: r.rawTopic }, 'model card refused'); r.ack(); },
    });
    await t.on('jobReport', filters.jobReports(), (m) => this.onReport(m));
    await t.on('jobResult', filters.jobResults(), (m) => this.onResult(m));
    await t.on('clockPing', filters.allClockPings(), (m) => this.onPing(m), { qos: 0 });
    await t.publish(topics.plannerStatus(o.id), this.statusPayload(PlannerState.PLANNER_STATE_ONLINE), { qos: 1, retain: true });
    // Submissions last: by now the devices' retained statuses and profiles are in.
    await t.on('jobSubmit', filters.sharedJobSubmits(o.group ?? 'planners'), (m) => this.onSubmit(m), { manualAck: true, onRefused: (r) => this.onUnreadableSubmit(r) });
    this.timer = setInterval(() => {
      this.expireDevices();
      if (++this.ticks % STATUS_EVERY_TICKS === 0) this.publishStatus();
    }, 1000);
    this.timer.unref();
    this.log.info({ algorithm: o.algorithm }, 'planner ready');
  }

  /**
   * Stops within about 1.5 s whether the broker is there or not. The OFFLINE status is sent
   * only while connected and waited for at most 500 ms; when the broker has not taken it, the
   * connection is dropped rather than closed, so the broker (if there) publishes the last will.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    for (const job of this.jobs.values()) if (job.watchdog) clearTimeout(job.watchdog);
    const t = this.transport;
    if (!t) return;
    const sent = await t.publishBestEffort(topics.plannerStatus(this.options.id), this.statusPayload(PlannerState.PLANNER_STATE_OFFLINE), { qos: 1, retain: true }, 500);
    await t.close(!sent);
  }

  /** Stops at once as a crash would: no offline status (the broker publishes the last will). */
  async kill(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    for (const job of this.jobs.values()) if (job.watchdog) clearTimeout(job.watchdog);
    await this.transport?.kill();
  }

  private publishStatus(): void {
    void this.transport?.publish(topics.plannerStatus(this.options.id), this.statusPayload(PlannerState.PLANNER_STATE_ONLINE), { qos: 1, retain: true }).catch(() => undefined);
  }

  // ---- devices -----------------------------------------------------------------

  private onStatus({ message: status, topic }: Received<'deviceStatus'>): void {
    try {
      if (status.deviceId !== topic.deviceId) throw new EdgeweaveError('E_TOPIC', `status for ${JSON.stringify(status.deviceId)} on the topic of ${topic.deviceId}`);
      const problem = statusProblem(status);
      if (problem) throw new EdgeweaveError('E_DECODE', `device status of ${topic.deviceId} refused: ${problem}`);
      const change = this.registry.updateStatus(status, Date.now());
      if (change !== 'unchanged') this.log.info({ deviceId: status.deviceId, change }, 'device status');
      if (change === 'offline' || status.state === DeviceState.DEVICE_STATE_OFFLINE) this.deviceOffline(status.deviceId, status.incarnation);
      else if (change === 'restarted') {
        // A new incarnation lost whatever the old one held: its jobs run elsewhere (or on it, anew).
        this.deviceLost(status.deviceId, 'restarted');
        this.deviceBack();
      } else if (change === 'online') this.deviceBack();
    } catch (err) {
      this.log.warn({ err: toEdgeweaveError(err, 'E_DECODE'), deviceId: topic.deviceId }, 'device status refused');
    }
  }

  private onProfile({ message: profile, topic }: Received<'deviceProfile'>): void {
    try {
      if (profile.deviceId !== topic.deviceId) throw new EdgeweaveError('E_TOPIC', `profile for ${JSON.stringify(profile.deviceId)} on the topic of ${topic.deviceId}`);
      const problem = profileProblem(profile);
      if (problem) throw new EdgeweaveError('E_DECODE', `device profile of ${topic.deviceId} refused: ${problem}`);
      this.registry.updateProfile(profile);
    } catch (err) {
      this.log.warn({ err: toEdgeweaveError(err, 'E_DECODE'), deviceId: topic.deviceId }, 'device profile refused');
    }
  }

  private expireDevices(): void {
    for (const id of this.registry.expire(Date.now())) {
      this.log.warn({ deviceId: id }, 'device missed its heartbeats; presumed offline');
      this.deviceLost(id, 'missed its heartbeats');
    }
  }

  /**
   * A device said OFFLINE (its last will, or a clean stop). Its jobs are planned anew unless it is
   * back, as the same incarnation, within a short grace: a broker restart or a link that drops
   * for a moment publishes the will too, and such a device still holds its work (its executors'
   * sessions keep their queued inputs). A device that died comes back, if at all, as a new one.
   */
  private deviceOffline(deviceId: string, incarnation: string): void {
    const grace = this.options.lostGraceMs ?? DEFAULT_LOST_GRACE_MS;
    const check = (): void => {
      if (this.stopped) return;
      const rec = this.registry.get(deviceId);
      if (rec && this.registry.isAlive(rec, Date.now()) && rec.status.incarnation === incarnation) return;
      this.deviceLost(deviceId, 'went offline');
    };
    if (grace <= 0) check();
    else setTimeout(check, grace).unref();
  }

  /** Every unfinished job with work still to do on a lost device is planned anew without it. */
  private deviceLost(deviceId: string, why: string): void {
    for (const job of this.jobs.values()) {
      if (job.phase !== 'dispatched' || !job.frontier?.pendingOn(deviceId)) continue;
      // An origin that is only away keeps its attempt: its inputs and its result live there, so a
      // new attempt could not run any sooner, and the one under way may still finish when it is back.
      if (deviceId === job.request.originDevice && why !== 'restarted') continue;
      void this.replan(job, `device ${deviceId} ${why}`);
    }
  }

  /** The origin of the job is away (same incarnation): its job waits for it rather than being judged. */
  private originAway(job: JobRecord): boolean {
    const rec = this.registry.get(job.request.originDevice);
    return rec !== undefined && !this.registry.isAlive(rec, Date.now()) && rec.status.incarnation === job.plan.stages.find((s) => s.deviceId === job.request.originDevice)?.deviceIncarnation;
  }

  private onPing({ message: ping, topic }: Received<'clockPing'>): void {
    const t1 = Date.now();
    const pong = ClockPong.encode({ deviceId: topic.deviceId, seq: ping.seq, t0Ms: ping.t0Ms, t1Ms: t1, t2Ms: Date.now(), plannerId: this.options.id });
    void this.transport?.publish(topics.clockPong(topic.deviceId), pong, { qos: 0 }).catch(() => undefined);
  }

  // ---- jobs --------------------------------------------------------------------

  /** A submission that is not a JobRequest: refused on its origin's rejected topic. */
  private onUnreadableSubmit(r: Refused): void {
    void this.reject(r.topic?.kind === 'jobSubmit' ? r.topic.originId : '', undefined, 'E_DECODE', `the submission is not a JobRequest (${r.bytes} bytes): ${r.error.message}`).finally(() => r.ack());
  }

  private onSubmit(m: Received<'jobSubmit'>): void {
    const receivedAtMs = Date.now();
    const request = m.message;
    this.submit(request, m.topic.originId, receivedAtMs)
      .catch((err: unknown) => this.log.error({ err, jobId: request.jobId }, 'planning failed unexpectedly'))
      .finally(() => m.ack());
  }

  private async submit(request: JobRequest, topicOrigin: string, receivedAtMs: number): Promise<void> {
    const problem = requestProblem(request, topicOrigin);
    if (problem) return this.reject(topicOrigin, request, problem.code, problem.message);
    const key = this.jobKey(request.originDevice, request.jobId);
    const existing = this.jobs.get(key);
    if (existing) return this.resubmitted(existing, request);
    let model: PlannedModel;
    let graph: TaskGraph;
    try {
      ({ model, graph } = await this.models.resolve(request, receivedAtMs));
    } catch (err) {
      const e = toEdgeweaveError(err, 'E_BAD_DAG');
      return this.reject(topicOrigin, request, e.code, e.message);
    }
    const inputs = inputsProblem(request, graph);
    if (inputs) return this.reject(topicOrigin, request, inputs.code, inputs.message);
    const job: JobRecord = {
      key, request, model, graph, phase: 'planning', attempt: 0, attemptsPlanned: 0, plan: JobPlan.create({ jobId: request.jobId }), frontier: undefined,
      dispatchMs: 0, resubmission: request.resubmission, watchdog: undefined,
      firstSeenAtMs: receivedAtMs, lastProgressAtMs: receivedAtMs, replans: 0, avoid: new Set(),
      // Submitted again to a planner that does not know it: its origin has no result.
      resultMaybeLost: request.resubmission > 0,
    };
    this.remember(job);
    await this.planAttempt(job, receivedAtMs, false);
    // A job refused at once is not kept (one waiting for its devices is).
    if (job.attempt === 0 && job.phase !== 'waiting') this.jobs.delete(key);
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
    switch (job.phase) {
      case 'dispatched':
        log.info({ attempt: job.attempt }, 'submitted again while under way: plan sent again');
        await this.transport?.publish(topics.jobPlan(request.originDevice, request.jobId), this.publishedPlan(job), { qos: 1 }).catch(() => undefined);
        return;
      case 'planning':
      case 'waiting':
        log.info({ phase: job.phase }, 'submitted again while it waits');
        // The latest plan as a sign of life: the job is known here and will run when it can.
        if (job.attempt > 0) await this.transport?.publish(topics.jobPlan(request.originDevice, request.jobId), this.publishedPlan(job), { qos: 1 }).catch(() => undefined);
        return;
      case 'finished':
        job.resultMaybeLost = true;
        await this.replan(job, 'the origin submitted the job again after it ended', true);
        return;
    }
  }

  /** The plan as published to the origin: with the DAG, for viewers (assignments and inputs carry it without). */
  private publishedPlan(job: JobRecord): Uint8Array {
    return JobPlan.encode({ ...job.plan, tasks: job.graph.tasks.map((x) => ({ ...x, pinnedDevice: x.pinned ?? '' })) });
  }

  /** The first attempt number of a submission: attempts stay unique across planners when an origin submits again. */
  private nextAttempt(job: JobRecord): number {
    return Math.max(job.attempt + 1, job.resubmission * ATTEMPTS_PER_SUBMISSION + 1);
  }

  /**
   * Plans the job's next attempt over the live devices and dispatches it. A new job that cannot be
   * placed fails at once, with the reason; a job being planned again (`again`) whose devices are
   * gone waits for one to come back (a broker restart, a link drop) until its deadline.
   */
  private async planAttempt(job: JobRecord, receivedAtMs: number, again: boolean): Promise<void> {
    const { request, graph, model } = job;
    const attempt = this.nextAttempt(job);
    const now = Date.now();
    const devices = this.registry.aliveIds(now)
      .map((id) => this.registry.get(id)!)
      .filter((r) => !request.excludeDevices.includes(r.status.deviceId) && !job.avoid.has(r.status.deviceId))
      .filter((r) => holdsModel(r.status, model));
    // The origin is a device that is gone for now (its link dropped, the broker restarted; the job
    // may be one it queued while offline): its inputs and its result live there, so the job waits.
    const originRecord = this.registry.get(request.originDevice);
    if (originRecord && !this.registry.isAlive(originRecord, now) && holdsModel(originRecord.status, model)) {
      return this.wait(job, `the origin ${request.originDevice} is offline`);
    }
    if (devices.length === 0) {
      const none = `no online device holds model ${modelLabel({ name: model.id, sha256: model.sha256 })}`;
      if (again || this.registry.recentlyLost(model, now).length > 0) return this.wait(job, none);
      return this.end(job, attempt, JobStatus.JOB_STATUS_REJECTED, 'E_NO_DEVICES', none);
    }
    const pins: Record<string, string> = {};
    for (const input of request.inputs) {
      if (input.source === 'sourceDevice' && input.sourceDevice) pins[inputTaskOf(input, graph)] = input.sourceDevice;
    }
    const originIsDevice = devices.some((d) => d.status.deviceId === request.originDevice);
    const planRequest: PlanRequest = {
      graph,
      devices: devices.map((r) => this.registry.spec(r, model, request.fused, now)),
      origin: originIsDevice ? request.originDevice : devices[0]!.status.deviceId,
      algorithm: request.algorithm !== '' ? request.algorithm : this.options.algorithm,
      objective: objectiveOf(request) ?? this.options.objective ?? { kind: 'latency' },
      constraints: constraintsOf(request),
      transport: { allowLossy: request.allowLossy, inputAsUint8: inputAsUint8(request) },
      pins,
      ...(this.options.cost ? { cost: this.options.cost } : {}),
    };
    let outcome = planJob(planRequest);
    const unfit = outcome.ok ? undefined : outcome.issues[0]?.reason;
    if (again && (unfit === 'not-applicable' || unfit === 'no-device') && planRequest.algorithm !== 'auto') {
      // The strategy asked for no longer fits the devices left (no edge any more): plan for the best.
      outcome = planJob({ ...planRequest, algorithm: 'auto' });
    }
    if (!outcome.ok) {
      const first = outcome.issues[0]!;
      const message = outcome.issues.map((i) => i.message).join('; ');
      // Devices that just dropped off (a broker restart, a link drop) may make it possible again.
      const transient = first.reason === 'pin' || first.reason === 'no-device' || first.reason === 'not-applicable' || first.code === 'E_NO_DEVICES';
      if (transient && (again || this.registry.recentlyLost(model, now).length > 0)) return this.wait(job, message);
      return this.end(job, attempt, JobStatus.JOB_STATUS_REJECTED, first.code, message);
    }
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
      request, attempt, plannerId: this.options.id, workers, model: job.model,
      submittedAtMs: receivedAtMs, inputTaskIds: graph.inputs, outputTaskIds: graph.outputs, denseShards: { ...request.denseShards },
    });
    const plan = JobPlan.create({ ...wire.plan, predictedLocalLatencyMs: localMs, resendResult: job.resultMaybeLost } as JobPlanInit);
    // Each stage names the incarnation of its device: a device that restarts since refuses it.
    for (const stage of plan.stages) stage.deviceIncarnation = this.registry.get(stage.deviceId)?.status.incarnation ?? '';
    const capability = signCapability(this.keys, request.originDevice, plan.jobId, attempt);
    this.registry.clearBusy(job.key);
    this.fleet.forgetJob(job.key);
    for (const task of core.tasks) this.registry.addBusy(task.device, job.key, task.worker, now + task.startMs, now + task.finishMs);
    for (const stage of plan.stages) this.fleet.placed(stage.deviceId, job.key, stage.stageId);
    const frontier = new JobFrontier(plan.stages.map((s) => ({
      stageId: s.stageId, deviceId: s.deviceId, transferMs: s.predicted?.transferInMs ?? 0,
      producers: [...new Set(s.inputs.filter((i) => i.fromStage !== '').map((i) => i.fromStage))],
    })), now);
    Object.assign(job, { phase: 'dispatched', attempt, plan, frontier, dispatchMs: this.dispatchMs, attemptsPlanned: job.attemptsPlanned + 1 });
    this.jobsPlanned++;
    this.armWatchdog(job, core.predictedLatencyMs);
    const published = [t.publish(topics.jobPlan(request.originDevice, request.jobId), this.publishedPlan(job), { qos: 1 })];
    for (const [deviceId, stageIds] of wire.devices) {
      published.push(t.publish(topics.deviceAssign(deviceId), Assignment.encode({ jobId: plan.jobId, attempt, deviceId, originDevice: request.originDevice, plan, stageIds, capability, issuedAtMs: Date.now() }), { qos: 1 }));
    }
    for (const { deviceId, worker, message } of initialInputs(plan, request, graph.inputs)) {
      published.push(t.publish(worker !== '' ? topics.workerInbox(deviceId, worker) : topics.deviceInbox(deviceId), StageInput.encode({ ...message, capability }), { qos: 1 }));
    }
    await Promise.all(published);
    this.log.info({ jobId: plan.jobId, attempt, algorithm: core.algorithm, stages: plan.stages.length, predictedMs: Math.round(core.predictedLatencyMs), planningMs: +core.diagnostics.planningMs.toFixed(2) }, 'job planned');
  }

  /** A device as the watchdog sees it: alive, its executors, what it holds, what this planner placed there (other jobs than `exceptJob`). */
  private loadOf(deviceId: string, exceptJob: string): DeviceLoad | undefined {
    const rec = this.registry.get(deviceId);
    if (!rec) return undefined;
    const workers = Math.max(1, rec.status.workers.length);
    return {
      alive: this.registry.isAlive(rec, Date.now()), workers, statusAtMs: rec.seenAtMs,
      inHand: rec.status.queuedStages + Math.ceil(rec.status.load * workers),
      placedPending: this.fleet.pendingOn(deviceId, exceptJob),
    };
  }

  /**
   * A job that shows no progress for well past its prediction is judged (planner/progress.ts):
   * one merely queued behind other work on a live device is left alone, so a busy fleet does
   * not run its jobs twice; a lost message or a hung device gets it planned again.
   */
  private armWatchdog(job: JobRecord, predictedMs: number): void {
    if (job.watchdog) clearTimeout(job.watchdog);
    const limit = Math.min(2_147_000_000, 2 * predictedMs + (this.options.overrunMs ?? 5000));
    job.lastProgressAtMs = Date.now();
    const again = (ms: number): void => {
      job.watchdog = setTimeout(check, ms);
      job.watchdog.unref();
    };
    const check = (): void => {
      job.watchdog = undefined;
      if (this.stopped) return;
      if (job.phase === 'waiting') {
        // Its devices are still gone: try again (wait() fails it at its deadline).
        void this.planAttempt(job, Date.now(), true);
        return;
      }
      if (job.phase !== 'dispatched') return;
      const now = Date.now();
      const quietMs = now - job.lastProgressAtMs;
      if (quietMs < limit) return again(limit - quietMs);
      if (this.originAway(job)) {
        if (now - job.firstSeenAtMs > deadlineOf(job.request)) return void this.end(job, job.attempt, JobStatus.JOB_STATUS_TIMEOUT, 'E_TIMEOUT', `its origin ${job.request.originDevice} was away past the job's deadline`);
        return again(Math.max(1000, limit / 2));
      }
      const verdict = judgeQuietJob(job.frontier?.waiting() ?? [], (id) => ({ load: this.loadOf(id, job.key), activity: this.fleet.activityOf(id) }), (s) => this.fleet.overtaking(s), now, limit);
      if (!verdict.stuck) {
        this.log.debug({ jobId: job.request.jobId, quietMs, waitingOn: verdict.waitingOn }, 'quiet job is queued, not stuck');
        return again(Math.max(1000, limit / 2));
      }
      // A device that held the job up is left out of its next attempts (the origin and pins cannot be).
      const pinned = new Set(job.request.inputs.map((i) => i.sourceDevice ?? '').filter((d) => d !== ''));
      if (verdict.deviceId && verdict.deviceId !== job.request.originDevice && !pinned.has(verdict.deviceId)) job.avoid.add(verdict.deviceId);
      if (verdict.resultLost) job.resultMaybeLost = true;
      void this.replan(job, verdict.reason);
    };
    again(limit);
  }

  /** Cancels the job's current attempt and plans the next, or fails the job after the last attempt. */
  private async replan(job: JobRecord, reason: string, byOrigin = false): Promise<void> {
    if (this.stopped) return;
    const log = this.log.child({ jobId: job.request.jobId, attempt: job.attempt });
    this.cancel(job.plan);
    // The planner's own re-plans are bounded; the origin asking again is bounded by its deadline.
    if (!byOrigin) job.replans++;
    if (job.replans >= (this.options.maxAttempts ?? 3)) {
      log.warn({ reason }, 'job failed after its last attempt');
      return this.end(job, job.attempt, JobStatus.JOB_STATUS_FAILED, 'E_NO_PROGRESS', `gave up after ${job.replans} re-plans: ${reason}`);
    }
    log.warn({ reason }, 'planning the job anew');
    this.replans++;
    job.phase = 'planning';
    await this.planAttempt(job, Date.now(), true);
  }

  /** Keeps a job whose devices are gone until one comes back, bounded by the job's deadline. */
  private wait(job: JobRecord, reason: string): void {
    const limitMs = deadlineOf(job.request);
    if (Date.now() - job.firstSeenAtMs > limitMs) {
      void this.end(job, job.attempt, JobStatus.JOB_STATUS_TIMEOUT, 'E_TIMEOUT', `waited ${Math.round(limitMs / 1000)} s for a device: ${reason}`);
      return;
    }
    if (job.phase !== 'waiting') this.log.warn({ jobId: job.request.jobId, reason }, 'job waits for a device');
    job.phase = 'waiting';
    this.armWatchdog(job, 0);
  }

  /** A device came (back) online: jobs waiting for one are planned again. */
  private deviceBack(): void {
    for (const job of this.jobs.values()) {
      if (job.phase === 'waiting') void this.planAttempt(job, Date.now(), true);
    }
  }

  /** Tells the devices of an attempt to drop it (pending joins, stage inputs still to come). */
  private cancel(plan: JobPlan): void {
    if (plan.attempt === 0) return;
    const devices = new Set(plan.stages.map((s) => s.deviceId));
    const capability = signCapability(this.keys, plan.originDevice, plan.jobId, plan.attempt);
    for (const deviceId of devices) {
      const cancel = Assignment.encode({ jobId: plan.jobId, attempt: plan.attempt, deviceId, originDevice: plan.originDevice, cancel: true, capability, issuedAtMs: Date.now() });
      void this.transport?.publish(topics.deviceAssign(deviceId), cancel, { qos: 1 }).catch(() => undefined);
    }
  }

  private jobKey(origin: string, jobId: string): string {
    return `${origin}/${jobId}`;
  }

  private remember(rec: JobRecord): void {
    this.jobs.set(rec.key, rec);
    if (this.jobs.size > MAX_JOBS) {
      const oldest = this.jobs.keys().next().value as string;
      const gone = this.jobs.get(oldest);
      if (gone?.watchdog) clearTimeout(gone.watchdog);
      this.fleet.forgetJob(oldest);
      this.jobs.delete(oldest);
    }
  }

  /** The job is over here (done, or answered with why not): it holds nothing any more. */
  private settle(job: JobRecord): void {
    job.phase = 'finished';
    if (job.watchdog) clearTimeout(job.watchdog);
    job.watchdog = undefined;
    this.registry.clearBusy(job.key);
    this.fleet.forgetJob(job.key);
  }

  /** Ends a job with a result that says why it cannot run, signed like any other. */
  private async end(job: JobRecord, attempt: number, status: JobStatus, code: ErrorCode, message: string): Promise<void> {
    this.settle(job);
    this.log.warn({ jobId: job.request.jobId, origin: job.request.originDevice, code, message }, 'job not run');
    await this.publishFailure(job.request.originDevice, job.request.jobId, attempt, status, code, message);
  }

  /**
   * Refuses a submission before planning it. The answer goes to the origin the topic names:
   * on the job's result topic, or — when the job id cannot be a topic level or was unreadable —
   * on jobs/{origin}/rejected. A submission no origin can be found for is only logged.
   */
  private async reject(topicOrigin: string, request: JobRequest | undefined, code: ErrorCode, message: string): Promise<void> {
    const jobId = request?.jobId ?? '';
    this.log.warn({ jobId: jobId.slice(0, 80), origin: topicOrigin, code, message }, 'job submission refused');
    if (!isValidId(topicOrigin)) return;
    if (isValidId(jobId)) return this.publishFailure(topicOrigin, jobId, 0, JobStatus.JOB_STATUS_REJECTED, code, message);
    const shown = jobId.slice(0, MAX_REJECTED_ID_CHARS);
    return this.publishFailure(topicOrigin, shown, 0, JobStatus.JOB_STATUS_REJECTED, code, message, topics.jobRejected(topicOrigin));
  }

  /** A signed result that says why a job did not run, on the job's result topic unless another is given. */
  private async publishFailure(origin: string, jobId: string, attempt: number, status: JobStatus, code: ErrorCode, message: string, topic = topics.jobResult(origin, jobId)): Promise<void> {
    const payload = JobResult.encode({
      jobId, attempt, status, error: { code, message }, producedBy: `planner:${this.options.id}`, finishedAtMs: Date.now(),
      capability: signCapability(this.keys, origin, jobId, attempt),
    });
    await this.transport?.publish(topic, payload, { qos: 1 }).catch(() => undefined);
  }

  // ---- reports and results -------------------------------------------------------

  private onReport({ message: report, topic }: Received<'jobReport'>): void {
    const now = Date.now();
    // Every report shows its device at work, whichever job and planner it is for.
    if (this.registry.get(report.deviceId)) this.fleet.reported(report.deviceId, now);
    const job = this.jobs.get(this.jobKey(topic.originId, report.jobId));
    if (!job || job.phase !== 'dispatched' || job.plan.attempt !== report.attempt) return;
    const stage = job.plan.stages.find((s) => s.stageId === report.stageId);
    if (!stage) return;
    switch (report.status) {
      case StageStatus.STAGE_STATUS_OK: {
        if (!report.timing) return;
        this.fleet.settled(stage.deviceId, job.key, stage.stageId);
        const waited = job.frontier?.reported(report.stageId, now);
        if (!waited) return;
        this.fleet.completed(stage.deviceId, waited.dueAtMs, now);
        job.lastProgressAtMs = now;
        this.registry.learnCompute(report.deviceId, report.timing);
        this.learnDispatch(job, report.timing);
        const remote = stage.inputs.filter((i) => i.fromDevice !== report.deviceId && i.fromStage !== '');
        const producers = new Set(remote.map((i) => i.fromStage));
        if (producers.size === 1 && stage.inputs.every((i) => i.fromDevice !== report.deviceId) && report.timing.transferInMs > 0) {
          this.registry.learnTransfer(remote[0]!.fromDevice, report.deviceId, report.timing.bytesIn, report.timing.transferInMs);
        }
        return;
      }
      case StageStatus.STAGE_STATUS_FAILED: {
        const code = (report.error?.code ?? 'E_EXECUTION') as ErrorCode;
        void this.end(job, job.plan.attempt, JobStatus.JOB_STATUS_FAILED, code, `stage ${report.stageId} on ${report.deviceId} failed: ${report.error?.message ?? 'unknown error'}`);
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

  /** A first stage (fed by nobody but the job's inputs) shows how long dispatching took. */
  private learnDispatch(job: JobRecord, timing: StageTiming): void {
    const stage = job.plan.stages.find((s) => s.stageId === timing.stageId);
    if (!stage || stage.inputs.some((i) => i.fromStage !== '') || !timing.predicted || job.attemptsPlanned > 1) return;
    const late = timing.startAtMs - job.plan.submittedAtMs - (timing.predicted.startMs - job.dispatchMs);
    if (!Number.isFinite(late) || late < 0 || late > 10_000) return;
    this.dispatchMs = 0.7 * this.dispatchMs + 0.3 * late;
  }

  private onResult({ message: result, topic }: Received<'jobResult'>): void {
    const job = this.jobs.get(this.jobKey(topic.originId, topic.jobId));
    if (!job || job.phase === 'finished') return;
    if (result.status !== JobStatus.JOB_STATUS_OK) return;
    this.settle(job);
    // A result from an older attempt makes the current one pointless.
    if (result.attempt !== job.attempt) this.cancel(job.plan);
  }
}
