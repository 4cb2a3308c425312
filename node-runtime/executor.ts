/**
 * An executor: one MQTT client of a device that takes stage inputs (its share of the
 * device's inbox, plus its own inbox for joins pinned to it), runs stages one at a time,
 * sends their outputs on without waiting for them to arrive, reports every stage, and
 * assembles the job result at a final stage. A stage input is acknowledged only once its
 * stage has run and its outputs are with the broker (or it was refused), so the work of an
 * executor that dies is delivered again, to another executor.
 */
import type { Logger } from 'pino';
import { pino } from 'pino';
import { Transport, brokerConnectionOf, type BrokerConnection, type Received, type Refused } from '../transport/mqtt-transport.ts';
import { settleWithin } from '../transport/settle-within.ts';
import type { ModelHost} from './model-host.ts';
import { runStageOnData } from './model-host.ts';
import type { DeviceServices } from './services.ts';
import { JoinBuffer, producerOf, type ArrivedInput, type CompleteJoin } from './join-buffer.ts';
import { attemptPrefix, jobKey, stageKey } from './ledger.ts';
import { buildJobResult } from './result.ts';
import { loadLocalInput, type DataSources } from './data-sources.ts';
import { AttemptTracker } from './attempts.ts';
import { radioLegEnergyJ } from '../power/energy.ts';
import type { DevicePower } from '../power/types.ts';
import type { JobPlan } from '../schemas/generated/edgeweave.ts';
import {
  StageInput, StageReport, JobResult, StageStatus, Encoding, type StageSpec, type StageTimingInit, type StageTiming, type StageInputInit, type Route,
} from '../schemas/generated/edgeweave.ts';
import { topics, filters, isValidId } from '../schemas/topics.ts';
import { PlannerKeyRing } from '../schemas/capability.ts';
import { decodeTensor, encodeTensor, encodingName, type TensorData, type DecodeLimits } from '../schemas/tensor-codec.ts';
import { EdgeweaveError, toEdgeweaveError } from '../schemas/errors.ts';

export interface ExecutorOptions extends BrokerConnection {
  deviceId: string;
  /** The device's incarnation (its DeviceStatus): stages planned for another one are refused. */
  incarnation?: string;
  workerId: string;
  modelHost: ModelHost;
  services: DeviceServices;
  /** Emulated compute speed against this host (1 = no emulation). */
  speed: number;
  power: DevicePower;
  dataSources?: DataSources;
  limits?: DecodeLimits;
  /** Partial joins are dropped after this long without completing (default 120 s). */
  joinTimeoutMs?: number;
  debugJson?: boolean;
  log?: Logger;
}

interface RunnableStage {
  key: string;
  plan: JobPlan;
  stage: StageSpec;
  join: CompleteJoin;
}

const DEFAULT_LIMITS: DecodeLimits = { maxElements: 2 ** 27, requireFinite: true };

export class Executor {
  private transport: Transport | undefined;
  private readonly joins = new JoinBuffer();
  private readonly attempts = new AttemptTracker();
  private readonly keys = new PlannerKeyRing();
  private queue: Promise<void> = Promise.resolve();
  private readonly log: Logger;
  private readonly limits: DecodeLimits;
  private expiryTimer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<unknown>>();
  private stopped = false;
  /** Stages run, for tests and status. */
  stagesRun = 0;

  constructor(private readonly options: ExecutorOptions) {
    this.log = (options.log ?? pino({ level: 'silent' })).child({ component: 'executor', workerId: options.workerId });
    this.limits = options.limits ?? DEFAULT_LIMITS;
  }

  get clientId(): string {
    return `${this.options.deviceId}.${this.options.workerId}`;
  }

  async start(): Promise<void> {
    const o = this.options;
    this.transport = await Transport.connect({
      ...brokerConnectionOf(o), username: o.username ?? o.deviceId, clientId: this.clientId, clean: false, log: this.log, debugJson: o.debugJson ?? false,
    });
    const t = this.transport;
    // Planner keys first: stage inputs are checked against them.
    await t.on('plannerStatus', filters.allPlannerStatus(), (m) => this.onPlannerStatus(m), { onRefused: (r) => this.ignore(r, 'planner status') });
    await t.on('deviceAssign', topics.deviceAssign(o.deviceId), (m) => this.onAssignment(m));
    const inbox = { manualAck: true, onRefused: (r: Refused) => this.onUnreadableInput(r) };
    await t.on('deviceInbox', filters.sharedDeviceInbox(o.deviceId), (m) => this.onStageInput(m), inbox);
    await t.on('workerInbox', topics.workerInbox(o.deviceId, o.workerId), (m) => this.onStageInput(m), inbox);
    this.expiryTimer = setInterval(() => this.expireJoins(), 1000);
    this.expiryTimer.unref();
    this.log.info({ clientId: this.clientId }, 'executor ready');
  }

  /**
   * Stops within about 2 s (drain + the transport's CLOSE_GRACE_MS): the stage running and the
   * messages in flight get `drainMs` to finish; past that they are abandoned. An abandoned stage
   * input was not acknowledged, so the broker delivers it again, to another executor.
   */
  async stop(): Promise<void> {
    const drainMs = 1000;
    this.stopped = true;
    if (this.expiryTimer) clearInterval(this.expiryTimer);
    const drained = (async () => {
      await this.queue.catch(() => undefined);
      await Promise.allSettled([...this.inFlight]);
    })();
    if (!(await settleWithin(drained, drainMs))) this.log.warn({ drainMs }, 'stopping with a stage or messages still in flight; the broker delivers unacknowledged inputs again');
    await this.transport?.close();
  }

  private onPlannerStatus({ message: status, topic }: Received<'plannerStatus'>): void {
    if (topic.plannerId === status.plannerId) this.keys.update(status.plannerId, status.publicKey);
  }

  private ignore(r: Refused, what: string): void {
    this.log.debug({ topic: r.rawTopic }, `malformed ${what} ignored`);
    r.ack();
  }

  private onUnreadableInput(r: Refused): void {
    this.log.warn({ err: r.error, topic: r.rawTopic, bytes: r.bytes }, 'stage input refused');
    r.ack();
  }

  // ---- assignments ----------------------------------------------------------

  private onAssignment({ message: assignment }: Received<'deviceAssign'>): void {
    const { jobId, attempt, plan } = assignment;
    const origin = plan?.originDevice ?? assignment.originDevice;
    if (!this.keys.accepts(origin, jobId, attempt, assignment.capability)) {
      this.log.warn({ code: 'E_CAPABILITY', jobId, attempt }, 'assignment refused: no valid capability');
      return;
    }
    if (assignment.cancel) {
      this.attempts.cancel(jobKey(origin, jobId), attempt);
      for (const part of this.joins.dropJob(attemptPrefix(origin, jobId, attempt))) part.ack();
      return;
    }
    if (!plan || !this.attempts.observe(jobKey(origin, jobId), attempt)) return;
    // Pre-build this device's stages so the first input runs at once.
    for (const stage of plan.stages) {
      if (stage.deviceId !== this.options.deviceId) continue;
      this.options.modelHost.stage(plan, stage.taskIds).catch((err: unknown) => {
        this.log.warn({ err: toEdgeweaveError(err, 'E_STAGE'), jobId, stageId: stage.stageId }, 'cannot pre-build stage');
      });
    }
  }

  // ---- stage inputs ---------------------------------------------------------

  private onStageInput(message: Received<'deviceInbox'> | Received<'workerInbox'>): void {
    const input = message.message;
    const { jobId, attempt, stageId, plan } = input;
    const stage = plan?.stages.find((s) => s.stageId === stageId);
    const refuse = (err: EdgeweaveError): void => {
      this.log.warn({ err, jobId, attempt, stageId }, 'stage input refused');
      if (plan) this.report(plan, stageId, StageStatus.STAGE_STATUS_REJECTED, undefined, err);
      message.ack();
    };
    if (!plan || !stage) return refuse(new EdgeweaveError('E_STAGE', `stage input for ${jobId}/${stageId} names no stage of its plan`));
    if (plan.jobId !== jobId || plan.attempt !== attempt) return refuse(new EdgeweaveError('E_STAGE', 'stage input and its plan disagree on job or attempt'));
    if (stage.deviceId !== this.options.deviceId) return refuse(new EdgeweaveError('E_STAGE', `stage ${stageId} belongs to device ${stage.deviceId}, not ${this.options.deviceId}`));
    if (stage.deviceIncarnation !== '' && this.options.incarnation !== undefined && stage.deviceIncarnation !== this.options.incarnation) {
      return refuse(new EdgeweaveError('E_STALE_ATTEMPT', `stage ${stageId} was planned for an earlier run of ${this.options.deviceId}, which restarted since`));
    }
    if (!this.keys.accepts(plan.originDevice, jobId, attempt, input.capability)) return refuse(new EdgeweaveError('E_CAPABILITY', `stage input for ${jobId}/${stageId} from ${JSON.stringify(input.fromDevice)} carries no valid capability for attempt ${attempt}`));
    if (!this.attempts.observe(jobKey(plan.originDevice, jobId), attempt)) return refuse(new EdgeweaveError('E_STALE_ATTEMPT', `attempt ${attempt} of job ${jobId} was superseded`));
    const producer = producerOf(input);
    if (!stage.inputs.some((s) => producerOf(s) === producer)) {
      return refuse(new EdgeweaveError('E_STAGE', `stage ${stageId} expects no input from ${producer}`));
    }
    if (stage.worker !== '' && stage.worker !== this.options.workerId) {
      // A join pinned to another executor of this device: hand it on, then acknowledge.
      this.track(this.transport!.publish(topics.workerInbox(this.options.deviceId, stage.worker), message.payload, { qos: 1 })
        .then(() => message.ack(), (err: unknown) => this.log.warn({ err, jobId, stageId }, 'cannot hand a join input on')));
      return;
    }
    const key = stageKey(plan.originDevice, jobId, attempt, stageId);
    const receivedAtMs = Date.now();
    const bytes = message.bytes;
    const crossed = input.fromDevice !== this.options.deviceId;
    const delay = crossed ? this.options.services.receiveDelay(bytes) : Promise.resolve(0);
    // In hand from now on (the device's status counts it), though still crossing the downlink.
    if (crossed) this.options.services.stageQueued(1);
    this.track(delay.then((ms) => sleep(ms)).then(() => {
      if (crossed) this.options.services.stageQueued(-1);
      if (this.stopped) return;
      const arrived: ArrivedInput = { message: input, arrivedAtMs: Date.now(), bytes, downMs: Date.now() - receivedAtMs, ack: () => message.ack() };
      const complete = this.joins.add(key, stage, arrived, receivedAtMs + (this.options.joinTimeoutMs ?? 120_000));
      if (complete) this.enqueue({ key, plan, stage, join: complete });
    }));
  }

  private enqueue(work: RunnableStage): void {
    this.options.services.stageQueued(1);
    const next = this.queue.then(() => this.runStage(work)).catch((err: unknown) => {
      this.log.error({ err, key: work.key }, 'stage failed unexpectedly');
    }).finally(() => this.options.services.stageQueued(-1));
    this.queue = next;
  }

  private ackAll(join: CompleteJoin): void {
    for (const part of join.parts) part.ack();
  }

  private async runStage(work: RunnableStage): Promise<void> {
    const { plan, stage, join, key } = work;
    const o = this.options;
    const services = o.services;
    if (this.attempts.isSuperseded(jobKey(plan.originDevice, plan.jobId), plan.attempt)) {
      this.ackAll(join);
      return;
    }
    const claim = await services.claim(key, o.workerId);
    if (claim !== 'claimed') {
      // Ran already (a redelivery or a duplicate), or another executor is running it now.
      this.report(plan, stage.stageId, StageStatus.STAGE_STATUS_DUPLICATE);
      this.ackAll(join);
      return;
    }
    const log = this.log.child({ jobId: plan.jobId, attempt: plan.attempt, stageId: stage.stageId });
    let outputs: Map<string, TensorData>;
    let timing: StageTimingInit;
    const offset = services.clockOffsetMs();
    try {
      const { stage: compiled } = await o.modelHost.stage(plan, stage.taskIds);
      const inputs = this.collectInputs(plan, stage, join, compiled.shapes);
      const startAtMs = Date.now();
      services.stageBusy(true);
      const t0 = performance.now();
      try {
        outputs = runStageOnData(compiled, inputs.tensors);
      } finally {
        services.stageBusy(false);
      }
      const hostMs = performance.now() - t0;
      // Emulated slowdown: a device `speed` times as fast as this host takes hostMs / speed.
      if (o.speed !== 1) await sleep(hostMs / o.speed - hostMs);
      const computeMs = performance.now() - t0;
      for (const [name, t] of inputs.passThrough) outputs.set(name, t);
      const latest = join.parts.reduce((a, b) => (b.arrivedAtMs > a.arrivedAtMs ? b : a));
      const downEnergy = join.parts.reduce((sum, p) => {
        if (p.message.fromDevice === o.deviceId) return sum;
        return sum + radioLegEnergyJ(o.power.radioModel, 'down', p.bytes, p.downMs);
      }, 0);
      timing = {
        stageId: stage.stageId, deviceId: o.deviceId, workerId: o.workerId, taskIds: stage.taskIds,
        firstInputAtMs: join.firstArrivalMs + offset, readyAtMs: join.readyAtMs + offset,
        startAtMs: startAtMs + offset, endAtMs: startAtMs + offset + computeMs,
        waitMs: Math.max(0, startAtMs - join.readyAtMs), computeMs, hostComputeMs: hostMs,
        clockUncertaintyMs: services.clockUncertaintyMs(),
        transferInMs: latest.message.fromDevice === o.deviceId ? 0 : Math.max(0, latest.arrivedAtMs + offset - latest.message.sentAtMs),
        bytesIn: join.parts.reduce((s, p) => s + p.bytes, 0),
        computeEnergyJ: (o.power.busyW * computeMs) / 1000,
        radioEnergyJ: downEnergy,
        predicted: stage.predicted,
      };
    } catch (err) {
      const e = toEdgeweaveError(err, 'E_EXECUTION');
      log.warn({ err: e }, 'stage failed');
      await services.release(key);
      this.report(plan, stage.stageId, StageStatus.STAGE_STATUS_FAILED, undefined, e);
      this.ackAll(join);
      return;
    }
    this.stagesRun++;
    const trace = mergeTraces(join.parts.map((p) => p.message.trace));
    // Send on without waiting: the next stage may compute while these are in flight.
    this.track(this.finishStage(work, outputs, timing, trace).then(
      () => this.ackAll(join),
      async (err: unknown) => {
        log.warn({ err }, 'cannot send stage outputs');
        await services.release(key);
      },
    ));
  }

  /**
   * Sends a stage's outputs on, then records it done and acknowledges its inputs. Outputs to
   * other stages may go out twice (a worker killed before recording the stage done); their
   * receivers run each stage once. A final stage's result and report are committed in the
   * device instead, which sends them: a result goes out once, whoever dies when.
   */
  private async finishStage(work: RunnableStage, outputs: Map<string, TensorData>, timing: StageTimingInit, upstream: StageTiming[]): Promise<void> {
    const { plan, stage, join, key } = work;
    const services = this.options.services;
    const { timing: finalTiming, trace } = await this.sendOutputs(plan, stage, outputs, timing, upstream, join);
    const report = this.reportMessage(plan, stage.stageId, StageStatus.STAGE_STATUS_OK, finalTiming);
    if (!stage.final) {
      this.publishReport(plan, report);
      await services.complete(key);
      return;
    }
    const job = jobKey(plan.originDevice, plan.jobId);
    let result: Uint8Array | undefined;
    if (this.attempts.isSuperseded(job, plan.attempt)) {
      // A newer attempt of the job is under way: its result will be the one.
      this.log.info({ jobId: plan.jobId, attempt: plan.attempt }, 'result of a superseded attempt not sent');
    } else {
      result = await this.resultMessage(plan, outputs, trace, capabilityOf(join));
    }
    const outcome = await services.commitResult({
      key, job, attempt: plan.attempt,
      reportTopic: topics.jobReport(plan.originDevice, plan.jobId), report,
      resultTopic: topics.jobResult(plan.originDevice, plan.jobId), ...(result ? { result } : {}), resend: plan.resendResult,
    });
    this.log.debug({ jobId: plan.jobId, stageId: stage.stageId, outcome }, 'result committed');
  }

  /** Tensors the stage needs, by name; model outputs received from other final stages pass through. */
  private collectInputs(plan: JobPlan, stage: StageSpec, join: CompleteJoin, shapes: Readonly<Record<string, readonly number[]>>): { tensors: Map<string, TensorData>; passThrough: Map<string, TensorData> } {
    const tensors = new Map<string, TensorData>();
    for (const part of join.parts) {
      for (const t of part.message.tensors) tensors.set(t.name, decodeTensor(t, this.limits));
    }
    for (const local of stage.localInputs) {
      tensors.set(local.taskId, loadLocalInput(this.options.dataSources, local.sourceKey, local.taskId, shapes[local.taskId] ?? []));
    }
    for (const source of stage.inputs) {
      if (!tensors.has(source.tensor)) throw new EdgeweaveError('E_TENSOR', `stage ${stage.stageId} did not receive tensor ${source.tensor}`);
    }
    const inside = new Set(stage.taskIds);
    const passThrough = new Map<string, TensorData>();
    for (const name of plan.outputs) {
      const t = tensors.get(name);
      if (t && !inside.has(name)) passThrough.set(name, t);
    }
    return { tensors, passThrough };
  }

  /** Sends the stage's outputs to the stages that take them; resolves when the broker has them all. */
  private async sendOutputs(
    plan: JobPlan, stage: StageSpec, outputs: Map<string, TensorData>, timing: StageTimingInit, upstream: StageTiming[], join: CompleteJoin,
  ): Promise<{ timing: StageTimingInit; trace: StageTimingInit[] }> {
    const o = this.options;
    const transport = this.transport!;
    const offset = o.services.clockOffsetMs();
    const byStage = new Map<string, Route[]>();
    for (const route of stage.outputs) {
      const list = byStage.get(route.toStage) ?? [];
      list.push(route);
      byStage.set(route.toStage, list);
    }
    // Reserve every message's uplink first, so their energy is known before the first leaves.
    // A message's size is its tensors plus the plan and trace around them: as large as the
    // envelope of the inputs that came in (no need to encode the plan again), plus this stage's timing.
    const envelope = Math.max(0, ...join.parts.map((p) => p.bytes - p.message.tensors.reduce((s, t) => s + t.data.byteLength, 0))) + 256;
    const sentAtMs = Date.now() + offset;
    let upEnergy = 0;
    let bytesOut = 0;
    const sends: Array<{ topic: string; init: StageInputInit; delayMs: number }> = [];
    for (const [toStage, routes] of byStage) {
      const tensors = routes.map((r) => {
        const t = outputs.get(r.tensor);
        if (!t) throw new EdgeweaveError('E_STAGE', `stage ${stage.stageId} did not produce ${r.tensor} for ${toStage}`);
        return encodeTensor(t, { name: r.tensor, encoding: encodingName(r.encoding), ...quantisationOf(join, r.tensor, r.encoding) });
      });
      const size = envelope + tensors.reduce((s, t) => s + (t.data?.byteLength ?? 0) + 16, 0);
      const first = routes[0]!;
      const crosses = first.toDevice !== o.deviceId;
      const delayMs = crosses ? await o.services.sendDelay(size) : 0;
      if (crosses) upEnergy += radioLegEnergyJ(o.power.radioModel, 'up', size, delayMs);
      bytesOut += size;
      const topic = first.toWorker !== '' ? topics.workerInbox(first.toDevice, first.toWorker) : topics.deviceInbox(first.toDevice);
      sends.push({ topic, delayMs, init: { jobId: plan.jobId, attempt: plan.attempt, stageId: toStage, plan, tensors, fromDevice: o.deviceId, fromStage: stage.stageId, sentAtMs, capability: capabilityOf(join) } });
    }
    const finalTiming: StageTimingInit = { ...timing, radioEnergyJ: (timing.radioEnergyJ ?? 0) + upEnergy, bytesOut };
    const trace = [...upstream, finalTiming];
    const published = sends.map(({ topic, init, delayMs }) => {
      const payload = StageInput.encode({ ...init, emulatedUpMs: delayMs, trace });
      return sleep(delayMs).then(() => transport.publish(topic, payload, { qos: 1 }));
    });
    await Promise.all(published);
    return { timing: finalTiming, trace };
  }

  /** The job result of a final stage, encoded, once it has crossed the emulated uplink. */
  private async resultMessage(plan: JobPlan, outputs: Map<string, TensorData>, trace: StageTimingInit[], capability: Uint8Array): Promise<Uint8Array> {
    const o = this.options;
    const model = await o.modelHost.model(plan.model);
    const result = buildJobResult({ plan, outputs, trace, model, producedBy: o.deviceId, nowRefMs: Date.now() + o.services.clockOffsetMs() });
    const payload = JobResult.encode({ ...result, capability });
    const crosses = plan.originDevice !== o.deviceId;
    const delayMs = crosses ? await o.services.sendDelay(payload.byteLength) : 0;
    await sleep(delayMs);
    return payload;
  }

  private reportMessage(plan: JobPlan, stageId: string, status: StageStatus, timing?: StageTimingInit, error?: EdgeweaveError): Uint8Array {
    return StageReport.encode({
      jobId: plan.jobId, attempt: plan.attempt, stageId, deviceId: this.options.deviceId, workerId: this.options.workerId,
      status, timing: timing ?? null, error: error ? { code: error.code, message: error.message } : null,
      sentAtMs: Date.now() + this.options.services.clockOffsetMs(),
    });
  }

  private publishReport(plan: JobPlan, payload: Uint8Array): void {
    const transport = this.transport;
    if (!transport) return;
    // A plan from a malformed message may name no valid origin or job: nobody to report to.
    if (!isValidId(plan.originDevice) || !isValidId(plan.jobId)) return;
    this.track(transport.publish(topics.jobReport(plan.originDevice, plan.jobId), payload, { qos: 1 }).catch((err: unknown) => {
      this.log.debug({ err }, 'report not sent');
    }));
  }

  private report(plan: JobPlan, stageId: string, status: StageStatus, timing?: StageTimingInit, error?: EdgeweaveError): void {
    this.publishReport(plan, this.reportMessage(plan, stageId, status, timing, error));
  }

  private expireJoins(): void {
    for (const { key, parts } of this.joins.expire(Date.now())) {
      const first = parts[0]?.message;
      this.log.warn({ key: key.split('\u0000').join('/'), parts: parts.length }, 'partial join expired');
      if (first?.plan) this.report(first.plan, first.stageId, StageStatus.STAGE_STATUS_FAILED, undefined, new EdgeweaveError('E_JOIN_EXPIRED', 'not every input of the stage arrived in time'));
      for (const p of parts) p.ack();
    }
  }

  private track<T>(p: Promise<T>): void {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }
}

/**
 * Quantisation to reuse when re-encoding a tensor that arrived as 8-bit pixels: the same
 * scale and zero point keep it exact, where fresh min/max quantisation would not.
 */
function quantisationOf(join: CompleteJoin, name: string, encoding: Encoding): { scale?: number; zeroPoint?: number } {
  if (encoding !== Encoding.ENCODING_UINT8) return {};
  for (const part of join.parts) {
    const t = part.message.tensors.find((x) => x.name === name);
    if (t && t.encoding === Encoding.ENCODING_UINT8) return { scale: t.scale, zeroPoint: t.zeroPoint };
  }
  return {};
}

/** The attempt's capability, as the stage's inputs carried it (forwarded with its outputs and result). */
function capabilityOf(join: CompleteJoin): Uint8Array {
  return join.parts.find((p) => p.message.capability.byteLength > 0)?.message.capability ?? new Uint8Array(0);
}

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}

/** The traces of every input, each stage once (paths that share an ancestor carry it twice). */
export function mergeTraces(traces: StageTiming[][]): StageTiming[] {
  const seen = new Map<string, StageTiming>();
  for (const trace of traces) for (const t of trace) if (!seen.has(t.stageId)) seen.set(t.stageId, t);
  return [...seen.values()];
}
