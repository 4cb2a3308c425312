/**
 * An executor: one MQTT client of a device that takes stage inputs (its share of the device's
 * inbox, plus its own inbox for joins pinned to it) and runs their stages one at a time. This
 * file is its protocol side: the subscriptions, the admission of assignments and stage inputs
 * (checks, capability and attempts through stage-gate.ts), the joins and the run queue. An
 * assignment prepares this device's stages once (stage-prepare.ts, kept in stage-book.ts); a
 * stage runs on its joined inputs in stage-runner.ts and its outputs, report and result go out
 * through stage-output.ts. A stage input is acknowledged
 * only once its stage has run and its outputs are with the broker (or it was refused), so the
 * work of an executor that dies is delivered again, to another executor.
 */
import type { Logger } from 'pino';
import { pino } from 'pino';
import { Transport, brokerConnectionOf, type BrokerConnection, type Received, type Refused } from '../transport/mqtt-transport.ts';
import { settleWithin } from '../transport/settle-within.ts';
import type { ModelHost } from './model-host.ts';
import type { DeviceServices } from './services.ts';
import { JoinBuffer, ackJoin, producerOf, type ArrivedInput, type CompleteJoin } from './join-buffer.ts';
import { attemptPrefix } from './ledger.ts';
import type { DataSources } from './data-sources.ts';
import type { DevicePower } from '../power/types.ts';
import { StageStatus, type JobPlan, type StageInput } from '../schemas/generated/edgeweave.ts';
import { topics, filters } from '../schemas/topics.ts';
import type { DecodeLimits } from '../schemas/tensor-codec.ts';
import { EdgeweaveError, toEdgeweaveError } from '../schemas/errors.ts';
import { StageBook, type StageBookLimits } from './stage-book.ts';
import { AttemptGate, attemptSuperseded, capabilityRefused } from './stage-gate.ts';
import { checkPlacement, checkStage, prepareStage, type RunnableStage, type StageHome } from './stage-prepare.ts';
import { StageRunner, sleep, type StageRun } from './stage-runner.ts';
import { StageOutput, mergeTraces } from './stage-output.ts';
import { HELD_WAIT_MS } from './held-inputs.ts';
import { VirtualCompute, type ComputeMode } from './virtual-compute.ts';

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
  /** `virtual`: stages take their profiled time without running the model (virtual-compute.ts); default `real`. */
  compute?: ComputeMode;
  /** Where this host's profiles are cached (virtual compute reads them). */
  dataDir?: string;
  limits?: DecodeLimits;
  /** Partial joins are dropped after this long without completing (default 120 s). */
  joinTimeoutMs?: number;
  /** Bounds on the prepared stages kept (see stage-book.ts). */
  book?: StageBookLimits;
  debugJson?: boolean;
  log?: Logger;
}

/** A stage input, from the device's shared inbox or this executor's own. */
type InboxMessage = Received<'deviceInbox'> | Received<'workerInbox'>;

interface QueuedStage {
  stage: RunnableStage;
  join: CompleteJoin;
}

const DEFAULT_LIMITS: DecodeLimits = { maxElements: 2 ** 27, requireFinite: true };

export class Executor {
  private transport: Transport | undefined;
  private output: StageOutput | undefined;
  private readonly runner: StageRunner;
  private readonly home: StageHome;
  /** Stages prepared for this executor: for tests (`book.compiled`) and status. */
  readonly book: StageBook;
  private readonly joins = new JoinBuffer();
  private readonly gate = new AttemptGate();
  private queue: Promise<void> = Promise.resolve();
  private readonly log: Logger;
  private expiryTimer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<unknown>>();
  private stopped = false;
  /** Stages run, for tests and status. */
  stagesRun = 0;

  constructor(private readonly options: ExecutorOptions) {
    this.log = (options.log ?? pino({ level: 'silent' })).child({ component: 'executor', workerId: options.workerId });
    this.home = { deviceId: options.deviceId, workerId: options.workerId, incarnation: options.incarnation };
    const host = options.modelHost;
    this.book = new StageBook((plan, spec) => prepareStage(plan, spec, this.home, (p, taskIds) => host.compile(p, taskIds)), options.book);
    this.runner = new StageRunner({
      deviceId: options.deviceId, workerId: options.workerId, services: options.services, speed: options.speed, power: options.power,
      limits: options.limits ?? DEFAULT_LIMITS, dataSources: options.dataSources,
      virtual: options.compute === 'virtual' ? new VirtualCompute(host, options.dataDir ?? '.edgeweave', this.log) : undefined,
    });
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
    this.output = new StageOutput({
      deviceId: o.deviceId, workerId: o.workerId, transport: t, services: o.services, power: o.power, track: (p) => this.track(p), log: this.log,
    });
    // Planner keys first: stage inputs are checked against them.
    await t.on('plannerStatus', filters.allPlannerStatus(), (m) => this.onPlannerStatus(m), { onRefused: (r) => this.ignore(r, 'planner status') });
    await t.on('deviceAssign', topics.deviceAssign(o.deviceId), (m) => this.onAssignment(m));
    const inbox = { manualAck: true, onRefused: (r: Refused) => this.onUnreadableInput(r) };
    await t.on('deviceInbox', filters.sharedDeviceInbox(o.deviceId), (m) => this.onStageInput(m), inbox);
    await t.on('workerInbox', topics.workerInbox(o.deviceId, o.workerId), (m) => this.onStageInput(m), inbox);
    this.expiryTimer = setInterval(() => this.expire(), 1000);
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
    if (topic.plannerId === status.plannerId) this.gate.plannerKey(status.plannerId, status.publicKey);
  }

  private ignore(r: Refused, what: string): void {
    this.log.debug({ topic: r.rawTopic }, `malformed ${what} ignored`);
    r.ack();
  }

  private onUnreadableInput(r: Refused): void {
    this.log.warn({ err: r.error, topic: r.rawTopic, bytes: r.bytes }, 'stage input refused');
    r.ack();
  }

  /** Records the attempt; false when it was superseded or cancelled. The book keeps the newest attempt only. */
  private observe(origin: string, jobId: string, attempt: number): boolean {
    if (!this.gate.observe(origin, jobId, attempt)) {
      this.book.dropAttempt(origin, jobId, attempt);
      return false;
    }
    this.book.dropOlder(origin, jobId, attempt);
    return true;
  }

  // ---- assignments ----------------------------------------------------------

  private onAssignment({ message: assignment }: Received<'deviceAssign'>): void {
    const { jobId, attempt, plan } = assignment;
    const origin = plan?.originDevice ?? assignment.originDevice;
    if (!this.gate.accepts(origin, jobId, attempt, assignment.capability)) {
      this.log.warn({ code: 'E_CAPABILITY', jobId, attempt }, 'assignment refused: no valid capability');
      return;
    }
    if (assignment.cancel) {
      this.gate.cancel(origin, jobId, attempt);
      this.book.dropAttempt(origin, jobId, attempt);
      for (const part of this.joins.dropJob(attemptPrefix(origin, jobId, attempt))) part.ack();
      return;
    }
    if (!plan || !this.observe(origin, jobId, attempt)) return;
    // Prepare this device's stages now, so their inputs find them ready.
    for (const spec of plan.stages) {
      // Stages of other devices, or of an earlier run of this one (their inputs are refused), are not prepared.
      if (!checkPlacement(spec, this.home).ok) continue;
      try {
        const prepared = this.book.stage(plan, spec);
        if (prepared.runs === 'here' && !prepared.compiled.ok) throw prepared.compiled.error;
      } catch (err) {
        this.log.warn({ err: toEdgeweaveError(err, 'E_STAGE'), jobId, stageId: spec.stageId }, 'cannot pre-build stage');
      }
    }
  }

  // ---- stage inputs ---------------------------------------------------------

  private onStageInput(message: InboxMessage): void {
    const input = message.message;
    const { jobId, attempt, stageId, plan } = input;
    const refuse = (err: EdgeweaveError): void => {
      this.log.warn({ err, jobId, attempt, stageId }, 'stage input refused');
      if (plan) this.output?.report(plan, stageId, StageStatus.STAGE_STATUS_REJECTED, err);
      message.ack();
    };
    if (!plan) return refuse(new EdgeweaveError('E_STAGE', `stage input for ${jobId}/${stageId} names no stage of its plan`));
    const origin = plan.originDevice;
    // Prepared when its assignment (or an earlier input) came: its plan was checked then.
    const found = plan.jobId === jobId && plan.attempt === attempt ? this.book.find(origin, jobId, attempt, stageId) : undefined;
    const checked = found ? { ok: true as const, spec: found.spec } : checkStage(plan, input, this.home);
    if (!checked.ok) return refuse(checked.error);
    if (!this.gate.accepts(origin, jobId, attempt, input.capability)) return refuse(capabilityRefused(input));
    if (!this.observe(origin, jobId, attempt)) return refuse(attemptSuperseded(input));
    // An input that raced ahead of its assignment (messages on different topics are not ordered) prepares its stage, once.
    const prepared = found ?? this.book.stage(plan, checked.spec);
    const producer = producerOf(input);
    if (!prepared.producers.has(producer)) return refuse(new EdgeweaveError('E_STAGE', `stage ${stageId} expects no input from ${producer}`));
    if (prepared.runs === 'elsewhere') {
      // A join pinned to another executor of this device: hand it on, then acknowledge.
      this.track(this.transport!.publish(prepared.topic, message.payload, { qos: 1 })
        .then(() => message.ack(), (err: unknown) => this.log.warn({ err, jobId, stageId }, 'cannot hand a join input on')));
      return;
    }
    this.admit(prepared, input, message);
  }

  /** Takes an admitted input across the (emulated) downlink into its join; a complete join is queued to run. */
  private admit(stage: RunnableStage, input: StageInput, message: InboxMessage): void {
    const o = this.options;
    const receivedAtMs = Date.now();
    const bytes = message.bytes;
    const crossed = input.fromDevice !== o.deviceId;
    const arrive = (held?: ArrivedInput['held']): void => {
      const arrived: ArrivedInput = { message: input, arrivedAtMs: Date.now(), bytes, downMs: Date.now() - receivedAtMs, ack: () => message.ack(), ...(held ? { held } : {}) };
      const complete = this.joins.add(stage.key, stage.producers, arrived, receivedAtMs + (o.joinTimeoutMs ?? 120_000));
      if (complete) this.enqueue({ stage, join: complete });
    };
    // Data its origin handed this device may still be on its way (devices/{id}/hold): fetched here,
    // waiting for it if need be, not in the run queue; the stage finds it in its join.
    const heldTasks = stage.spec.localInputs.filter((l) => l.source === 'held').map((l) => l.taskId);
    if (heldTasks.length > 0) {
      const { originDevice, jobId } = stage.plan;
      this.track(Promise.all(heldTasks.map((t) => o.services.heldInput(originDevice, jobId, t, HELD_WAIT_MS))).then((tensors) => {
        if (!this.stopped) arrive(new Map(heldTasks.map((t, k) => [t, tensors[k]])));
      }));
      return;
    }
    if (!crossed) {
      if (!this.stopped) arrive();
      return;
    }
    // In hand from now on (the device's status counts it), though still crossing the downlink.
    o.services.stageQueued(1);
    this.track(o.services.receiveDelay(bytes).then((ms) => sleep(ms)).then(() => {
      o.services.stageQueued(-1);
      if (!this.stopped) arrive();
    }));
  }

  private enqueue(work: QueuedStage): void {
    this.options.services.stageQueued(1);
    const next = this.queue.then(() => this.runStage(work)).catch((err: unknown) => {
      this.log.error({ err, key: work.stage.key }, 'stage failed unexpectedly');
    }).finally(() => this.options.services.stageQueued(-1));
    this.queue = next;
  }

  private async runStage({ stage, join }: QueuedStage): Promise<void> {
    const { plan, spec, key } = stage;
    const o = this.options;
    const services = o.services;
    const output = this.output!;
    if (this.gate.isSuperseded(stage.job, plan.attempt)) return ackJoin(join);
    const claim = await services.claim(key, o.workerId);
    if (claim !== 'claimed') {
      // Ran already (a redelivery or a duplicate), or another executor is running it now.
      output.report(plan, spec.stageId, StageStatus.STAGE_STATUS_DUPLICATE);
      return ackJoin(join);
    }
    let ran: StageRun;
    try {
      ran = await this.runner.run(stage, join);
    } catch (err) {
      const e = toEdgeweaveError(err, 'E_EXECUTION');
      this.stageLog(plan, spec.stageId).warn({ err: e }, 'stage failed');
      await services.release(key);
      output.report(plan, spec.stageId, StageStatus.STAGE_STATUS_FAILED, e);
      return ackJoin(join);
    }
    this.stagesRun++;
    const trace = mergeTraces(join.parts.map((p) => p.message.trace));
    const superseded = (): boolean => this.gate.isSuperseded(stage.job, plan.attempt);
    // Send on without waiting: the next stage may compute while these are in flight.
    this.track(output.finish(stage, join, ran.outputs, ran.timing, trace, superseded).then(
      () => {
        ackJoin(join);
        // The job's result is out: nothing more of this attempt runs here.
        if (spec.final) this.book.dropAttempt(plan.originDevice, plan.jobId, plan.attempt);
      },
      async (err: unknown) => {
        this.stageLog(plan, spec.stageId).warn({ err }, 'cannot send stage outputs');
        await services.release(key);
      },
    ));
  }

  private stageLog(plan: JobPlan, stageId: string): Logger {
    return this.log.child({ jobId: plan.jobId, attempt: plan.attempt, stageId });
  }

  /** Drops partial joins past their deadline (reporting them) and prepared stages unused for long. */
  private expire(): void {
    const now = Date.now();
    this.book.expire(now);
    for (const { key, parts } of this.joins.expire(now)) {
      const first = parts[0]?.message;
      this.log.warn({ key: key.split('\u0000').join('/'), parts: parts.length }, 'partial join expired');
      if (first?.plan) this.output?.report(first.plan, first.stageId, StageStatus.STAGE_STATUS_FAILED, new EdgeweaveError('E_JOIN_EXPIRED', 'not every input of the stage arrived in time'));
      for (const p of parts) p.ack();
    }
  }

  private track(p: Promise<unknown>): void {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }
}

