/**
 * The planner service: the pure planner core behind MQTT. It takes job submissions from
 * its share of the `$share/planners` group, follows device statuses and profiles, plans each
 * job over the live devices (their queues, learned speeds and links included), publishes the
 * plan, one assignment per device and the job's first inputs, answers clock pings, and
 * learns from every stage report.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { pino } from 'pino';
import { Transport, type IncomingMessage } from '../transport/mqtt-transport.ts';
import { planJob } from './core/registry.ts';
import type { Objective, Constraints, PlanRequest, Plan, CostModelOptions } from './core/types.ts';
import type { TaskGraph, TaskNode } from '../schemas/graph.ts';
import { getTaskGraph } from '../models/task-graph.ts';
import { DeviceRegistry } from './device-registry.ts';
import { toWirePlan, initialInputs } from './wire-plan.ts';
import {
  JobRequest, JobPlan, Assignment, StageInput, StageReport, JobResult, DeviceStatus, DeviceProfile, ClockPing, ClockPong, PlannerStatus,
  JobStatus, StageStatus, ObjectiveKind, PlannerState, Encoding, type JobPlanInit, type StageTiming,
} from '../schemas/generated/edgeweave.ts';
import { topics, filters, parseTopic } from '../schemas/topics.ts';
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
  /** Mirror every published message as JSON under edgeweave/v1/debug/. */
  debugJson?: boolean;
  log?: Logger;
}

interface JobRecord {
  request: JobRequest;
  plan: JobPlan;
  /** How much later than the core predicted the plan's times were set (dispatch). */
  dispatchMs: number;
  graph: TaskGraph;
  finished: boolean;
}

const MAX_JOBS = 20_000;
/** The planner republishes its status (with its device estimates) every this many seconds. */
const STATUS_EVERY_TICKS = 2;

export class PlannerService {
  readonly registry = new DeviceRegistry();
  private transport: Transport | undefined;
  private readonly log: Logger;
  private readonly jobs = new Map<string, JobRecord>();
  private readonly modelRefs = new Map<string, string>();
  private jobsPlanned = 0;
  private expiryTimer: NodeJS.Timeout | undefined;
  private readonly publicKey = randomBytes(32);
  /**
   * Learned time from receiving a job to its first stage starting (decoding, planning,
   * publishing the plan, assignments and inputs, delivery): added to every prediction.
   */
  private dispatchMs = 5;
  private ticks = 0;
  private statusPayload: ((state: PlannerState) => Uint8Array) | undefined;

  constructor(private readonly options: PlannerServiceOptions) {
    this.log = (options.log ?? pino({ level: 'silent' })).child({ component: 'planner', plannerId: options.id });
    for (const ref of options.models ?? []) this.modelRefs.set(ref, ref);
  }

  get planned(): number {
    return this.jobsPlanned;
  }

  async start(): Promise<void> {
    const o = this.options;
    const status = (state: PlannerState): Uint8Array => PlannerStatus.encode({
      plannerId: o.id, state, algorithm: o.algorithm, publicKey: this.publicKey, jobsPlanned: this.jobsPlanned, sentAtMs: Date.now(), version: '1',
      estimates: state === PlannerState.PLANNER_STATE_ONLINE ? this.registry.estimates(Date.now()) : [],
    });
    const conn: Parameters<typeof Transport.connect>[0] = {
      url: o.brokerUrl, clientId: `planner.${o.id}`, clean: false, log: this.log, username: o.username ?? o.id, debugJson: o.debugJson ?? false,
      will: { topic: topics.plannerStatus(o.id), payload: status(PlannerState.PLANNER_STATE_OFFLINE), qos: 1, retain: true },
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
    await t.subscribe(filters.sharedJobSubmits(o.group ?? 'planners'), 1, (m) => this.onSubmit(m), { manualAck: true });
    await t.publish(topics.plannerStatus(o.id), status(PlannerState.PLANNER_STATE_ONLINE), { qos: 1, retain: true });
    this.statusPayload = status;
    this.expiryTimer = setInterval(() => {
      this.expireDevices();
      if (++this.ticks % STATUS_EVERY_TICKS === 0) this.publishStatus();
    }, 1000);
    this.expiryTimer.unref();
    this.log.info({ algorithm: o.algorithm }, 'planner ready');
  }

  async stop(): Promise<void> {
    if (this.expiryTimer) clearInterval(this.expiryTimer);
    const o = this.options;
    try {
      await this.transport?.publish(topics.plannerStatus(o.id), PlannerStatus.encode({ plannerId: o.id, state: PlannerState.PLANNER_STATE_OFFLINE, sentAtMs: Date.now() }), { qos: 1, retain: true });
    } catch {
      // best effort
    }
    await this.transport?.close();
  }

  // ---- devices -----------------------------------------------------------------

  private onStatus(m: IncomingMessage): void {
    try {
      const status = DeviceStatus.decode(m.payload);
      const topic = parseTopic(m.topic);
      if (topic?.kind !== 'deviceStatus' || status.deviceId !== topic.deviceId) throw new EdgeweaveError('E_TOPIC', `status for ${status.deviceId} on ${m.topic}`);
      const change = this.registry.updateStatus(status, Date.now());
      if (change !== 'unchanged') this.log.info({ deviceId: status.deviceId, change }, 'device status');
    } catch (err) {
      this.log.warn({ err: toEdgeweaveError(err, 'E_DECODE'), topic: m.topic }, 'device status refused');
    }
  }

  private onProfile(m: IncomingMessage): void {
    try {
      const profile = DeviceProfile.decode(m.payload);
      const topic = parseTopic(m.topic);
      if (topic?.kind !== 'deviceProfile' || profile.deviceId !== topic.deviceId) throw new EdgeweaveError('E_TOPIC', `profile for ${profile.deviceId} on ${m.topic}`);
      this.registry.updateProfile(profile);
    } catch (err) {
      this.log.warn({ err: toEdgeweaveError(err, 'E_DECODE'), topic: m.topic }, 'device profile refused');
    }
  }

  private publishStatus(): void {
    const payload = this.statusPayload?.(PlannerState.PLANNER_STATE_ONLINE);
    if (payload) void this.transport?.publish(topics.plannerStatus(this.options.id), payload, { qos: 1, retain: true }).catch(() => undefined);
  }

  private expireDevices(): void {
    for (const id of this.registry.expire(Date.now())) this.log.warn({ deviceId: id }, 'device missed its heartbeats; presumed offline');
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
    this.planAndDispatch(request, topic?.kind === 'jobSubmit' ? topic.originId : '', receivedAtMs)
      .catch((err: unknown) => this.log.error({ err, jobId: request.jobId }, 'planning failed unexpectedly'))
      .finally(() => m.ack());
  }

  private async planAndDispatch(request: JobRequest, topicOrigin: string, receivedAtMs: number): Promise<void> {
    const log = this.log.child({ jobId: request.jobId, origin: request.originDevice });
    const reject = (code: ErrorCode, message: string): Promise<void> => {
      log.warn({ code, message }, 'job rejected');
      return this.publishFailure(request, 1, JobStatus.JOB_STATUS_REJECTED, code, message);
    };
    if (topicOrigin === '' || request.originDevice !== topicOrigin) {
      // Without a valid origin there is nobody to tell; just log.
      log.warn({ topicOrigin }, 'job submission refused: origin_device does not match the topic');
      return;
    }
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(request.jobId)) return void log.warn('job submission refused: invalid job id');
    const existing = this.jobs.get(this.jobKey(request.originDevice, request.jobId));
    if (existing) {
      log.info('duplicate submission ignored');
      return;
    }
    const modelName = request.model?.name ?? '';
    let graph: TaskGraph;
    try {
      graph = request.tasks.length > 0 ? graphFromSpecs(modelName, request) : await getTaskGraph(this.modelRefs.get(modelName) ?? modelName, graphOptions(request));
    } catch (err) {
      const e = toEdgeweaveError(err, 'E_BAD_DAG');
      return reject(e.code, e.message);
    }
    const now = Date.now();
    const devices = this.registry.aliveIds(now)
      .map((id) => this.registry.get(id)!)
      .filter((r) => !request.excludeDevices.includes(r.status.deviceId))
      .filter((r) => r.status.models.length === 0 || r.status.models.includes(modelName) || r.status.deviceId === request.originDevice);
    if (devices.length === 0) return reject('E_NO_DEVICES', `no online device holds model ${modelName}`);
    const inputTasks = new Set(graph.inputs);
    const pins: Record<string, string> = {};
    for (const input of request.inputs) {
      const task = input.taskId !== '' ? input.taskId : graph.inputs.length === 1 ? graph.inputs[0]! : '';
      if (!inputTasks.has(task)) return reject('E_INPUT', `input names ${JSON.stringify(input.taskId)}, not an input of ${modelName} (${graph.inputs.join(', ')})`);
      if (input.source === 'sourceDevice' && input.sourceDevice) pins[task] = input.sourceDevice;
    }
    const originIsDevice = devices.some((d) => d.status.deviceId === request.originDevice);
    const planRequest: PlanRequest = {
      graph,
      devices: devices.map((r) => this.registry.spec(r, modelName, request.fused, now)),
      origin: originIsDevice ? request.originDevice : devices[0]!.status.deviceId,
      algorithm: request.algorithm !== '' ? request.algorithm : this.options.algorithm,
      objective: objectiveOf(request) ?? this.options.objective ?? { kind: 'latency' },
      constraints: constraintsOf(request),
      // Input data travels as 8-bit pixels only when it came that way (lossless) or loss is allowed.
      transport: { allowLossy: request.allowLossy, inputAsUint8: request.allowLossy || request.inputs.some((i) => i.tensor?.encoding === Encoding.ENCODING_UINT8) },
      pins,
      ...(this.options.cost ? { cost: this.options.cost } : {}),
    };
    const outcome = planJob(planRequest);
    if (!outcome.ok) {
      const first = outcome.issues[0]!;
      return reject(first.code, outcome.issues.map((i) => i.message).join('; '));
    }
    // The baseline a speed-up is measured against: everything on the origin.
    const local = originIsDevice && planRequest.algorithm !== 'local' ? planJob({ ...planRequest, algorithm: 'local', constraints: {} }) : outcome;
    const localMs = local.ok ? local.plan.predictedLatencyMs + this.dispatchMs : 0;
    await this.dispatch(request, graph, shiftPlan(outcome.plan, this.dispatchMs), this.dispatchMs, 1, receivedAtMs, log, localMs);
  }

  private async dispatch(request: JobRequest, graph: TaskGraph, core: Plan, dispatchMs: number, attempt: number, receivedAtMs: number, log: Logger, localMs = 0): Promise<void> {
    const t = this.transport!;
    const now = Date.now();
    const workers = new Map<string, string[]>();
    for (const id of Object.values(core.placement)) workers.set(id, this.registry.get(id)?.status.workers ?? []);
    const wire = toWirePlan(core, {
      request, attempt, plannerId: this.options.id, workers, modelHash: this.registry.modelHash(request.model?.name ?? ''),
      submittedAtMs: receivedAtMs, inputTaskIds: graph.inputs, outputTaskIds: graph.outputs,
      denseShards: { ...request.denseShards },
    });
    const plan = JobPlan.create({ ...wire.plan, predictedLocalLatencyMs: localMs } as JobPlanInit);
    for (const task of core.tasks) this.registry.addBusy(task.device, request.jobId, task.worker, now + task.startMs, now + task.finishMs);
    this.remember({ request, plan, graph, dispatchMs, finished: false });
    this.jobsPlanned++;
    // The published plan carries the DAG for viewers; the copies in assignments and inputs do not.
    await t.publish(topics.jobPlan(request.originDevice, request.jobId), JobPlan.encode({ ...plan, tasks: graph.tasks.map((x) => ({ ...x, pinnedDevice: x.pinned ?? '' })) }), { qos: 1 });
    await Promise.all([...wire.devices].map(([deviceId, stageIds]) =>
      t.publish(topics.deviceAssign(deviceId), Assignment.encode({ jobId: plan.jobId, attempt, deviceId, plan, stageIds, issuedAtMs: Date.now() }), { qos: 1 })));
    await Promise.all(initialInputs(plan, request, graph.inputs).map(({ deviceId, worker, message }) =>
      t.publish(worker !== '' ? topics.workerInbox(deviceId, worker) : topics.deviceInbox(deviceId), StageInput.encode(message), { qos: 1 })));
    log.info({ algorithm: core.algorithm, stages: plan.stages.length, predictedMs: Math.round(core.predictedLatencyMs), planningMs: +core.diagnostics.planningMs.toFixed(2) }, 'job planned');
  }

  private jobKey(origin: string, jobId: string): string {
    return `${origin}/${jobId}`;
  }

  private remember(rec: JobRecord): void {
    this.jobs.set(this.jobKey(rec.request.originDevice, rec.request.jobId), rec);
    if (this.jobs.size > MAX_JOBS) this.jobs.delete(this.jobs.keys().next().value as string);
  }

  private async publishFailure(request: Pick<JobRequest, 'jobId' | 'originDevice'>, attempt: number, status: JobStatus, code: ErrorCode, message: string): Promise<void> {
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(request.jobId) || !/^[A-Za-z0-9._-]{1,64}$/.test(request.originDevice)) return;
    const payload = JobResult.encode({ jobId: request.jobId, attempt, status, error: { code, message }, producedBy: `planner:${this.options.id}`, finishedAtMs: Date.now() });
    await this.transport?.publish(topics.jobResult(request.originDevice, request.jobId), payload, { qos: 1 });
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
      this.registry.clearBusy(report.jobId);
      const code = (report.error?.code ?? 'E_EXECUTION') as ErrorCode;
      void this.publishFailure(job.request, job.plan.attempt, JobStatus.JOB_STATUS_FAILED, code, `stage ${report.stageId} on ${report.deviceId} failed: ${report.error?.message ?? 'unknown error'}`)
        .catch(() => undefined);
    }
  }

  /** A first stage (fed by nobody but the job's inputs) shows how long dispatching took. */
  private learnDispatch(job: JobRecord, timing: StageTiming): void {
    const stage = job.plan.stages.find((s) => s.stageId === timing.stageId);
    if (!stage || stage.inputs.some((i) => i.fromStage !== '') || !timing.predicted) return;
    const late = timing.startAtMs - job.plan.submittedAtMs - (timing.predicted.startMs - job.dispatchMs);
    if (!Number.isFinite(late) || late < 0 || late > 10_000) return;
    this.dispatchMs = 0.7 * this.dispatchMs + 0.3 * late;
  }

  private onResult(m: IncomingMessage): void {
    const topic = parseTopic(m.topic);
    if (topic?.kind !== 'jobResult') return;
    const job = this.jobs.get(this.jobKey(topic.originId, topic.jobId));
    if (!job || job.finished) return;
    job.finished = true;
    this.registry.clearBusy(topic.jobId);
  }
}

/** The plan with every predicted time moved `ms` later (the dispatch before the first stage). */
function shiftPlan(plan: Plan, ms: number): Plan {
  if (ms <= 0) return plan;
  return {
    ...plan,
    predictedLatencyMs: plan.predictedLatencyMs + ms,
    tasks: plan.tasks.map((t) => ({ ...t, readyMs: t.readyMs + ms, startMs: t.startMs + ms, finishMs: t.finishMs + ms })),
    stages: plan.stages.map((s) => ({ ...s, readyMs: s.readyMs + ms, startMs: s.startMs + ms, finishMs: s.finishMs + ms })),
    edges: plan.edges.map((e) => ({ ...e, sendMs: e.sendMs + ms, arriveMs: e.arriveMs + ms })),
    results: plan.results.map((r) => ({ ...r, sendMs: r.sendMs + ms, arriveMs: r.arriveMs + ms })),
  };
}

function graphOptions(request: JobRequest): { fused: boolean; denseShards?: Record<string, number> } {
  return Object.keys(request.denseShards).length > 0 ? { fused: request.fused, denseShards: { ...request.denseShards } } : { fused: request.fused };
}

/** A job DAG given on the wire, as the core's TaskGraph (checked by the core). */
function graphFromSpecs(modelId: string, request: JobRequest): TaskGraph {
  const tasks: TaskNode[] = request.tasks.map((t) => ({
    id: t.id, kind: t.kind, preds: t.preds, succs: t.succs, outputShape: t.outputShape, outputBytes: t.outputBytes,
    flops: t.flops, paramBytes: t.paramBytes, activationBytes: t.activationBytes, layers: t.layers,
    ...(t.pinnedDevice !== '' ? { pinned: t.pinnedDevice } : {}),
  }));
  const inputs = tasks.filter((t) => t.preds.length === 0).map((t) => t.id);
  const outputs = tasks.filter((t) => t.succs.length === 0).map((t) => t.id);
  return { modelId, tasks, inputs, outputs };
}

function objectiveOf(request: JobRequest): Objective | undefined {
  const o = request.objective;
  switch (o?.kind ?? ObjectiveKind.OBJECTIVE_UNSPECIFIED) {
    case ObjectiveKind.OBJECTIVE_UNSPECIFIED: return undefined;
    case ObjectiveKind.OBJECTIVE_LATENCY: return { kind: 'latency' };
    case ObjectiveKind.OBJECTIVE_ENERGY: return { kind: 'energy' };
    case ObjectiveKind.OBJECTIVE_ENERGY_TOTAL: return { kind: 'energy-total' };
    case ObjectiveKind.OBJECTIVE_WEIGHTED: return { kind: 'weighted', latencyWeight: o?.latencyWeight ?? 1, energyWeight: o?.energyWeight ?? 1 };
    default: return undefined;
  }
}

function constraintsOf(request: JobRequest): Constraints {
  const o = request.objective;
  const c: Constraints = {};
  if (o && o.deadlineMs > 0) c.deadlineMs = o.deadlineMs;
  if (o && o.energyBudgetJ > 0) c.energyBudgetJ = o.energyBudgetJ;
  return c;
}
