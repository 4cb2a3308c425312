/**
 * A device: the same code on an IoT board, an edge server and a cloud VM, configured by role
 * and capabilities. It announces itself (a retained DeviceStatus, with a last will that says
 * OFFLINE if it dies), publishes its DeviceProfile, keeps its clock offset to the planner, and
 * runs its executors: in this process for one worker, as supervised child processes for
 * several. It owns what the executors share: the stage ledger and the emulated link.
 */
import { randomBytes } from 'node:crypto';
import { availableParallelism, totalmem } from 'node:os';
import type { Logger } from 'pino';
import { pino } from 'pino';
import { Transport, brokerConnectionOf, type BrokerConnection } from '../transport/mqtt-transport.ts';
import { ResultLedger, StageLedger } from './ledger.ts';
import { LinkEmulator, loadTrace, type LinkSpec } from './link.ts';
import { ClockOffsetEstimator } from './clock.ts';
import { ClockSync } from './clock-sync.ts';
import type { CommitOutcome, DeviceServices, ResultCommit } from './services.ts';
import type { DataSourceSpec } from './data-sources.ts';
import { WorkerPool, type ExecutorHandle } from './worker-pool.ts';
import { deviceProfileOf } from './profiles.ts';
import { resolveDevicePower } from '../power/presets.ts';
import type { DevicePower, DeviceRole, PowerSpec, RadioKind } from '../power/types.ts';
import {
  DeviceStatus, DeviceProfile, DeviceState, ModelCard, Role, Radio, JobRequest, type DeviceStatusInit, type ModelProfileInit,
  type LocalRequest, type Tensor,
} from '../schemas/generated/edgeweave.ts';
import { topics } from '../schemas/topics.ts';
import { EdgeweaveError, toEdgeweaveError } from '../schemas/errors.ts';
import { HeldStore } from './held-inputs.ts';
import { HeldForwarder } from './held-forward.ts';
import { LocalSocketServer, hostId, localSocketPath } from './local-socket.ts';
import { sleep } from './stage-runner.ts';

export interface DeviceConfig extends BrokerConnection {
  id: string;
  role: DeviceRole;
  /** Emulated compute speed against this host (1 = none). */
  speed: number;
  /** Memory offered for stages. */
  memoryBytes: number;
  /** Emulated link; absent = no emulation, no added delay. */
  link?: LinkSpec;
  /** Bandwidth trace the emulated uplink follows. */
  tracePath?: string;
  workers: number;
  power?: PowerSpec;
  radio?: RadioKind;
  engine?: 'tfjs-node' | 'wasm' | 'cpu';
  /** Models held: zoo names or model.json paths. */
  models: string[];
  dataSources: ReadonlyMap<string, DataSourceSpec>;
  dataDir: string;
  cacheDir?: string;
  heartbeatMs: number;
  /** Profile held models at start (fused DAG, and the layer DAG when `profileLayers`). */
  profile: boolean;
  profileLayers: boolean;
  profileRuns: number;
  version: string;
  /** Mirror every published message as JSON under edgeweave/v1/debug/. */
  debugJson?: boolean;
  /**
   * The local socket where programs on this host hand the device job data (local-socket.ts):
   * a path, or false for none (default: one under the system's temporary directory).
   */
  localSocket?: string | false;
  /** Bytes of job data held for this device's jobs at most (default 256 MiB). */
  heldBytes?: number;
  /** `virtual`: stages take this host's profiled time (over `speed`) without running the model; default `real`. */
  compute?: 'real' | 'virtual';
}

/** How long a stopping device waits for the broker to take its OFFLINE status (best effort). */
const OFFLINE_STATUS_TIMEOUT_MS = 500;

const ROLE: Record<DeviceRole, Role> = { iot: Role.ROLE_IOT, edge: Role.ROLE_EDGE, cloud: Role.ROLE_CLOUD };
const RADIO: Record<RadioKind, Radio> = { wifi: Radio.RADIO_WIFI, lte: Radio.RADIO_LTE, '3g': Radio.RADIO_3G, wired: Radio.RADIO_WIRED };

export class Device implements DeviceServices {
  readonly ledger = new StageLedger();
  /** Jobs whose result this device sent (one result per job, whatever the attempt). */
  readonly results = new ResultLedger();
  readonly clock = new ClockOffsetEstimator();
  readonly power: DevicePower;
  readonly incarnation = randomBytes(6).toString('hex');
  private readonly link: LinkEmulator | undefined;
  private readonly log: Logger;
  private transport: Transport | undefined;
  private pool: WorkerPool | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private clockSync: ClockSync | undefined;
  /** Job data handed over by this device's origin programs (held-inputs.ts). */
  readonly held: HeldStore;
  private local: LocalSocketServer | undefined;
  private readonly hostId = hostId();
  private seq = 0;
  private busy = 0;
  private queued = 0;
  private stopping = false;

  constructor(readonly config: DeviceConfig, log?: Logger) {
    this.log = (log ?? pino({ level: 'silent' })).child({ component: 'device', deviceId: config.id });
    this.power = resolveDevicePower({ role: config.role, ...(config.power ? { power: config.power } : {}), ...(config.radio ? { radio: config.radio } : {}) });
    if (config.link) this.link = new LinkEmulator(config.link, config.tracePath ? loadTrace(config.tracePath) : undefined);
    this.held = new HeldStore(config.id, this.log, config.heldBytes !== undefined ? { maxBytes: config.heldBytes } : {});
  }

  async start(): Promise<void> {
    const c = this.config;
    // Before connecting: the last will (OFFLINE) names the socket as well, so a program on this
    // host keeps handing the device its data while the broker is away.
    await this.openLocalSocket();
    this.transport = await Transport.connect({
      // A persistent session: job data handed over MQTT and plans to send it on wait for it across a broker restart.
      ...brokerConnectionOf(c), username: c.username ?? c.id, clientId: c.id, clean: false, log: this.log, debugJson: c.debugJson ?? false,
      will: { topic: topics.deviceStatus(c.id), payload: DeviceStatus.encode(this.status(DeviceState.DEVICE_STATE_OFFLINE)), qos: 1, retain: true },
    });
    // A stop that came while connecting found no transport to close.
    if (this.stopping) {
      await this.transport.close();
      return;
    }
    // Back after a broker restart (which may have lost retained messages): cards, then status.
    this.transport.onReconnect(() => { void this.publishCards().then(() => this.publishStatus()); });
    // Each new clock sample goes to the worker processes, which keep a copy of the offset.
    this.clockSync = await ClockSync.attach(this.transport, c.id, {
      clock: this.clock, onSample: () => this.pool?.broadcastClock(this.clockOffsetMs(), this.clockUncertaintyMs()),
    });
    this.pool = new WorkerPool(this, this.log);
    try {
      await this.pool.start();
    } catch (err) {
      // No executor could start (no model given loads, say): leave nothing running behind.
      await this.stop();
      throw err;
    }
    if (this.stopping) return;
    await this.holdJobData();
    if (this.stopping) return;
    await this.publishCards();
    await this.publishStatus();
    this.heartbeat = setInterval(() => {
      this.held.expire();
      void this.publishStatus();
    }, c.heartbeatMs);
    this.heartbeat.unref();
    this.clockSync.keepSynced();
    if (c.profile) void this.publishProfiles();
    this.log.info({ workers: c.workers, speed: c.speed, link: c.link ?? 'none', engine: this.pool.engine }, 'device online');
  }

  /**
   * Stops cleanly, within about 4 s whether the broker is there or not: executors finish (each
   * within its bound), the status says OFFLINE. The OFFLINE status is sent only while connected
   * and waited for briefly; when the broker has not taken it, the connection is dropped rather
   * than closed, so the broker (if it is there) publishes the last will, which says the same.
   * Also stops a device that is still starting: the start gives up at its next step.
   */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.clockSync?.stop();
    await this.local?.close().catch(() => undefined);
    this.held.close();
    await this.pool?.stop();
    const transport = this.transport;
    if (!transport) return;
    const offline = DeviceStatus.encode(this.status(DeviceState.DEVICE_STATE_OFFLINE));
    const sent = await transport.publishBestEffort(topics.deviceStatus(this.config.id), offline, { qos: 1, retain: true }, OFFLINE_STATUS_TIMEOUT_MS);
    if (!sent) this.log.debug('offline status not sent; leaving it to the last will');
    await transport.close(!sent);
  }

  /** The executors, for tests. */
  get executors(): readonly ExecutorHandle[] {
    return this.pool?.handles ?? [];
  }

  status(state: DeviceState): DeviceStatusInit {
    const c = this.config;
    const workers = this.pool?.liveWorkerIds() ?? [];
    return {
      deviceId: c.id, role: ROLE[c.role], state, engine: this.pool?.engine ?? '', speed: c.speed, memoryBytes: c.memoryBytes,
      workers, load: workers.length > 0 ? Math.min(1, this.busy / workers.length) : 0, queuedStages: Math.max(0, this.queued),
      link: c.link ? { upBps: c.link.upBps, downBps: c.link.downBps, rttMs: c.link.rttMs } : null,
      power: {
        preset: this.power.preset ?? '', idleW: this.power.idleW, busyW: this.power.busyW, radio: RADIO[this.power.radio],
        upAlphaMwPerMbps: this.power.radioModel.upAlphaMwPerMbps, downAlphaMwPerMbps: this.power.radioModel.downAlphaMwPerMbps, betaMw: this.power.radioModel.betaMw,
      },
      sentAtMs: Date.now(), seq: this.seq++, heartbeatMs: c.heartbeatMs, incarnation: this.incarnation,
      ...this.modelsHeld(), dataSources: [...c.dataSources.keys()], version: c.version,
      traceUpBps: this.link?.trace ? this.link.up.bpsAt(Date.now()) : 0,
      traceStartedAtMs: this.link?.trace ? this.link.epochMs : 0,
      localSocket: this.local?.path ?? '', hostId: this.local ? this.hostId : '', compute: c.compute ?? 'real',
    };
  }

  /**
   * Takes job data from this device's origin programs: on the local socket (no network), on
   * devices/{id}/hold from another host (across the downlink), and sends it on to stages of
   * other devices when the job's input stage does not run here (held-forward.ts).
   */
  private async holdJobData(): Promise<void> {
    const c = this.config;
    const t = this.transport!;
    await t.on('deviceHold', topics.deviceHold(c.id), (m) => {
      void this.receiveDelay(m.bytes).then((ms) => sleep(ms)).then(() => {
        try {
          this.held.hold(m.message);
        } catch (err) {
          this.log.warn({ err: toEdgeweaveError(err, 'E_INPUT'), jobId: m.message.jobId }, 'job data refused');
        }
      });
    }, { onRefused: (r) => { this.log.warn({ err: r.error, topic: r.rawTopic }, 'unreadable job data refused'); r.ack(); } });
    await new HeldForwarder(c.id, t, this.held, (bytes) => this.sendDelay(bytes), this.log).attach();
  }

  private async openLocalSocket(): Promise<void> {
    const c = this.config;
    if (c.localSocket === false) return;
    const path = c.localSocket ?? localSocketPath(c.id, this.incarnation);
    try {
      this.local = await LocalSocketServer.listen(path, (r) => this.onLocalRequest(r), this.log);
    } catch (err) {
      this.log.warn({ err, path }, 'no local socket: programs on this host hand job data over MQTT');
    }
  }

  /** A request on the local socket: data to hold, then a submission to send, then a job to forget, each when given. */
  private async onLocalRequest(request: LocalRequest): Promise<void> {
    if (!request.hold && request.submit.byteLength === 0 && request.release === '') throw new EdgeweaveError('E_DECODE', 'the local request asks nothing');
    if (request.hold) this.held.hold(request.hold);
    if (request.submit.byteLength > 0) {
      if (!this.transport) throw new EdgeweaveError('E_LOCAL', `device ${this.config.id} is not connected yet`);
      // The submission leaves over this device's own link, as everything it sends.
      const payload = request.submit;
      let job: JobRequest;
      try {
        job = JobRequest.decode(payload);
      } catch (err) {
        throw new EdgeweaveError('E_DECODE', `unreadable job request: ${(err as Error).message}`);
      }
      if (job.originDevice !== this.config.id) throw new EdgeweaveError('E_TOPIC', `device ${this.config.id} submits only its own jobs, not those of ${JSON.stringify(job.originDevice)}`);
      await sleep(await this.sendDelay(payload.byteLength));
      void this.submitJob(job.jobId, payload);
    }
    if (request.release !== '') this.held.release(this.config.id, request.release);
  }

  /** Publishes a submission handed over locally (queued while disconnected, sent on reconnecting). */
  private async submitJob(jobId: string, payload: Uint8Array): Promise<void> {
    await this.transport!.publish(topics.jobSubmit(this.config.id), payload, { qos: 1 })
      .catch((err: unknown) => this.log.warn({ err, jobId }, 'job submission not sent (the device is stopping)'));
  }

  /** What the status says of models: ids, refs and problems, once the executors loaded them. */
  private modelsHeld(): Pick<DeviceStatusInit, 'models' | 'modelRefs' | 'modelProblems'> {
    const held = this.pool?.held();
    if (!held) return { models: [], modelRefs: [], modelProblems: [] };
    return { models: held.refs.map((r) => r.name ?? ''), modelRefs: held.refs, modelProblems: held.problems };
  }

  /** A retained card per model held, on models/{sha256}: published before the status that lists the model. */
  private async publishCards(): Promise<void> {
    for (const card of this.pool?.held()?.cards ?? []) {
      try {
        await this.transport?.publish(topics.modelCard(card.model!.sha256!), ModelCard.encode(card), { qos: 1, retain: true });
      } catch (err) {
        this.log.warn({ err, model: card.model?.name }, 'model card not sent');
      }
    }
  }

  async publishStatus(): Promise<void> {
    if (this.stopping || !this.transport?.connected) return;
    try {
      await this.transport.publish(topics.deviceStatus(this.config.id), DeviceStatus.encode(this.status(DeviceState.DEVICE_STATE_ONLINE)), { qos: 1, retain: true });
    } catch (err) {
      this.log.debug({ err }, 'status not sent');
    }
  }

  private async publishProfiles(): Promise<void> {
    const models: ModelProfileInit[] = [];
    const variants = this.config.profileLayers ? [true, false] : [true];
    for (const ref of this.pool?.held()?.refs ?? []) {
      for (const fused of variants) {
        try {
          const profile = await this.pool!.profile(ref.sha256!, fused, this.config.profileRuns);
          if (profile) models.push(profile);
        } catch (err) {
          this.log.warn({ err: toEdgeweaveError(err, 'E_MODEL_LOAD'), model: ref.name }, 'cannot profile model');
        }
        if (this.stopping) return;
      }
      // Publish as profiles come in, so the planner can use the first models at once.
      const payload = DeviceProfile.encode(deviceProfileOf(this.config.id, this.pool!.engine, availableParallelism(), totalmem(), this.config.speed, models));
      await this.transport?.publish(topics.deviceProfile(this.config.id), payload, { qos: 1, retain: true }).catch(() => undefined);
    }
    this.log.info({ models: models.length }, 'profile published');
  }

  // ---- DeviceServices --------------------------------------------------------

  async claim(key: string, workerId: string): Promise<'claimed' | 'running' | 'done'> {
    return this.ledger.claim(key, workerId);
  }

  async complete(key: string): Promise<void> {
    this.ledger.complete(key);
  }

  async commitResult(commit: ResultCommit): Promise<CommitOutcome> {
    if (this.ledger.isDone(commit.key)) return 'duplicate';
    this.ledger.complete(commit.key);
    const first = commit.result !== undefined && this.results.claim(commit.job, commit.attempt);
    const send = first || (commit.result !== undefined && commit.resend === true);
    if (commit.result !== undefined && !send) {
      this.log.info({ job: commit.job.replace('\u0000', '/'), attempt: commit.attempt, sent: this.results.sentAttempt(commit.job) }, 'result of another attempt already sent by this device');
    }
    // One connection, the report first: a subscriber of both sees the stage done before the result.
    const t = this.transport;
    if (t) {
      void t.publish(commit.reportTopic, commit.report, { qos: 1 }).catch((err: unknown) => this.log.debug({ err }, 'report not sent'));
      if (send) void t.publish(commit.resultTopic, commit.result!, { qos: 1 }).catch((err: unknown) => this.log.warn({ err }, 'result not sent'));
    }
    return send ? 'sent' : 'suppressed';
  }

  async release(key: string): Promise<void> {
    this.ledger.release(key);
  }

  async sendDelay(bytes: number): Promise<number> {
    return this.link ? this.link.sendDelayMs(bytes, Date.now()) : 0;
  }

  async receiveDelay(bytes: number): Promise<number> {
    return this.link ? this.link.receiveDelayMs(bytes, Date.now()) : 0;
  }

  async heldInput(origin: string, jobId: string, taskId: string, waitMs: number): Promise<Tensor | undefined> {
    return this.held.take(origin, jobId, taskId, waitMs);
  }

  clockOffsetMs(): number {
    return this.clock.offsetMs;
  }

  clockUncertaintyMs(): number {
    const bound = this.clock.uncertaintyMs;
    return Number.isFinite(bound) ? bound : -1;
  }

  stageQueued(delta: number): void {
    this.queued += delta;
  }

  stageBusy(busy: boolean): void {
    this.busy += busy ? 1 : -1;
  }

  /** An executor died: its running stages may run elsewhere. */
  workerLost(workerId: string): void {
    const n = this.ledger.releaseOwner(workerId);
    if (n > 0) this.log.warn({ workerId, released: n }, 'executor lost; its running stages were released');
    void this.publishStatus();
  }
}
