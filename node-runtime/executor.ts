/**
 * An executor: one MQTT client of a device that takes stage inputs (its share of the device's
 * inbox, plus its own inbox for joins pinned to it) and runs their stages one run at a time. This
 * file is its protocol side: the subscriptions, the admission of assignments and stage inputs
 * (checks, capability and attempts through stage-gate.ts), the joins, and claiming what the run
 * queue (run-queue.ts) takes off. An assignment prepares this device's stages once
 * (stage-prepare.ts, kept in stage-book.ts); a stage runs on its joined inputs in stage-runner.ts
 * and its outputs, report and result go out through stage-output.ts. On an edge or cloud device,
 * a run takes with the next queued stage the other queued stages of different jobs that are the
 * same compiled stage, and runs them as one batch when that pays on this host (stage-batch.ts);
 * each job's stage is still claimed, sent on and acknowledged on its own. A stage input is
 * acknowledged only once its stage has run and its outputs are with the broker (or it was
 * refused), so the work of an executor that dies is delivered again, to another executor.
 */
import type { Logger } from 'pino';
import { pino } from 'pino';
import { Transport, brokerConnectionOf, type BrokerConnection, type Received, type Refused } from '../transport/mqtt-transport.ts';
import { settleWithin } from '../transport/settle-within.ts';
import type { ModelHost } from './model-host.ts';
import type { DeviceServices } from './services.ts';
import { JoinBuffer, ackJoin, producerOf, type ArrivedInput } from './join-buffer.ts';
import { attemptPrefix } from './ledger.ts';
import type { DataSources } from './data-sources.ts';
import type { DevicePower, DeviceRole } from '../power/types.ts';
import { StageStatus, type JobPlan, type StageInput } from '../schemas/generated/edgeweave.ts';
import { topics, filters } from '../schemas/topics.ts';
import type { DecodeLimits } from '../schemas/tensor-codec.ts';
import { EdgeweaveError, toEdgeweaveError } from '../schemas/errors.ts';
import { StageBook, type StageBookLimits } from './stage-book.ts';
import { AttemptGate, attemptSuperseded, capabilityRefused } from './stage-gate.ts';
import { checkPlacement, checkStage, prepareStage, type RunnableStage, type StageHome } from './stage-prepare.ts';
import { StageRunner, sleep, type BatchRun, type StageItem, type StageRun } from './stage-runner.ts';
import { StageOutput, mergeTraces } from './stage-output.ts';
import { HELD_WAIT_MS } from './held-inputs.ts';
import { VirtualCompute, type ComputeMode } from './virtual-compute.ts';
import { DEFAULT_BATCH_POLICY, type BatchPolicy } from './stage-batch.ts';
import { RunQueue } from './run-queue.ts';

export interface ExecutorOptions extends BrokerConnection {
  deviceId: string;
  /** The device's incarnation (its DeviceStatus): stages planned for another one are refused. */
  incarnation?: string;
  workerId: string;
  modelHost: ModelHost;
  services: DeviceServices;
  /**
   * The device's role: an `iot` device runs its stages one by one; an `edge` or `cloud` device
   * (or one that does not say) batches the same stage of different jobs when that pays.
   */
  role?: DeviceRole;
  /** Batching bounds (stage-batch.ts; default DEFAULT_BATCH_POLICY); `maxBatch: 1` turns it off. */
  batch?: Partial<BatchPolicy>;
  /** Emulated compute speed against this host (1 = no emulation). */
  speed: number;
  power: DevicePower;
  dataSources?: DataSources;
  /**
   * `virtual`: stages take their profiled time without running the model (virtual-compute.ts);
   * default `real`. Virtual compute does not batch: the profile knows a stage's time alone only.
   */
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
  /** Complete joins waiting to run, taken off one run (a stage, or a batch of one compiled stage) at a time. */
  private readonly queue: RunQueue;
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
    const batching = options.role !== 'iot' && options.compute !== 'virtual';
    this.queue = new RunQueue({
      policy: Object.freeze({ ...DEFAULT_BATCH_POLICY, ...options.batch, ...(batching ? {} : { maxBatch: 1 }) }),
      run: (items) => this.runStages(items),
      queued: (delta) => options.services.stageQueued(delta),
      clockOffsetMs: () => options.services.clockOffsetMs(),
      log: this.log,
    });
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
      await this.queue.stop();
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
      if (!complete) return;
      const item = { stage, join: complete };
      this.queue.push(item);
      // Its inputs decoded now, while the stages ahead of it compute: its run starts on tensors in hand.
      this.runner.decodeAhead(item);
    };
    // Data its origin handed this device may still be on its way (devices/{id}/hold): fetched here,
    // waiting for it if need be, not in the run queue; the stage finds it in its join.
    const heldTasks = stage.spec.localInputs.filter((l) => l.source === 'held').map((l) => l.taskId);
    if (heldTasks.length > 0) {
      const { originDevice, jobId } = stage.plan;
      const done = this.queue.onTheWay(stage);
      this.track(Promise.all(heldTasks.map((t) => o.services.heldInput(originDevice, jobId, t, HELD_WAIT_MS))).then((tensors) => {
        done();
        if (!this.stopped) arrive(new Map(heldTasks.map((t, k) => [t, tensors[k]])));
      }, (err: unknown) => {
        done();
        throw err;
      }));
      return;
    }
    if (!crossed) {
      if (!this.stopped) arrive();
      return;
    }
    // In hand from now on (the device's status counts it), though still crossing the downlink.
    o.services.stageQueued(1);
    const done = this.queue.onTheWay(stage);
    this.track(o.services.receiveDelay(bytes).then((ms) => sleep(ms)).then(() => {
      o.services.stageQueued(-1);
      done();
      if (!this.stopped) arrive();
    }, (err: unknown) => {
      done();
      throw err;
    }));
  }

  // ---- runs -----------------------------------------------------------------

  /**
   * Runs queued stages of one compiled stage (one, or a batch: run-queue.ts); each is claimed,
   * sent on, acknowledged, or failed on its own.
   */
  private async runStages(works: readonly StageItem[]): Promise<{ ran: StageItem[]; result: BatchRun } | undefined> {
    const claimed = (await Promise.all(works.map(async (w) => ((await this.claim(w)) ? w : undefined)))).filter((w): w is StageItem => w !== undefined);
    if (claimed.length === 0) return undefined;
    const result = await this.runner.runBatch(claimed);
    await Promise.all(result.items.map((r, k) => (r.ok ? this.finish(claimed[k]!, r.run) : this.fail(claimed[k]!, r.error))));
    return { ran: claimed, result };
  }

  /** Claims a stage in the device's ledger; false (its inputs acknowledged) when it is not to run here. */
  private async claim({ stage, join }: StageItem): Promise<boolean> {
    const { plan, spec, key } = stage;
    if (this.gate.isSuperseded(stage.job, plan.attempt)) {
      ackJoin(join);
      return false;
    }
    const claim = await this.options.services.claim(key, this.options.workerId);
    if (claim !== 'claimed') {
      // Ran already (a redelivery or a duplicate), or another executor is running it now.
      this.output!.report(plan, spec.stageId, StageStatus.STAGE_STATUS_DUPLICATE);
      ackJoin(join);
      return false;
    }
    return true;
  }

  private async fail({ stage, join }: StageItem, err: unknown): Promise<void> {
    const { plan, spec, key } = stage;
    const e = toEdgeweaveError(err, 'E_EXECUTION');
    this.stageLog(plan, spec.stageId).warn({ err: e }, 'stage failed');
    await this.options.services.release(key);
    this.output!.report(plan, spec.stageId, StageStatus.STAGE_STATUS_FAILED, e);
    ackJoin(join);
  }

  /** Sends a stage's outputs on; its inputs are acknowledged once the broker has them. */
  private finish({ stage, join }: StageItem, ran: StageRun): void {
    const { plan, spec, key } = stage;
    this.stagesRun++;
    const trace = mergeTraces(join.parts.map((p) => p.message.trace));
    const superseded = (): boolean => this.gate.isSuperseded(stage.job, plan.attempt);
    // Send on without waiting: the next stage may compute while these are in flight.
    this.track(this.output!.finish(stage, join, ran.outputs, ran.timing, trace, superseded).then(
      () => {
        ackJoin(join);
        // The job's result is out: nothing more of this attempt runs here.
        if (spec.final) this.book.dropAttempt(plan.originDevice, plan.jobId, plan.attempt);
      },
      async (err: unknown) => {
        this.stageLog(plan, spec.stageId).warn({ err }, 'cannot send stage outputs');
        await this.options.services.release(key);
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

