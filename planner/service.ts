/**
 * The planner service: the pure planner core behind MQTT. Wiring only — it connects, hands
 * each topic to the part that handles it, and announces the planner (a retained
 * PlannerStatus with its public key and device estimates, its last will saying OFFLINE):
 *
 * - device-watch.ts: device statuses and profiles, lost devices;
 * - submissions.ts: job submissions, checked and resolved, answered when refused;
 * - jobs.ts: the jobs through their lifecycle (job-lifecycle.ts), with placement.ts,
 *   dispatch.ts and watchdog.ts; learning.ts learns from their stage reports;
 * - clock-server.ts: clock pings;
 * - models.ts: the model cards devices retain.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { pino } from 'pino';
import { Transport, brokerConnectionOf } from '../transport/mqtt-transport.ts';
import { DeviceRegistry } from './device-registry.ts';
import { PlannerModels } from './models.ts';
import { FleetProgress } from './progress.ts';
import { DeviceWatch } from './device-watch.ts';
import { Dispatcher } from './dispatch.ts';
import { PlannerLearning } from './learning.ts';
import { JobManager } from './jobs.ts';
import { Submissions } from './submissions.ts';
import { ClockServer } from './clock-server.ts';
import { FleetMix } from './fleet-mix.ts';
import type { Capacity } from './capacity.ts';
import { DEFAULT_LOST_GRACE_MS, DEFAULT_MAX_ATTEMPTS, DEFAULT_OVERRUN_MS, type PlannerServiceOptions, type Publish } from './options.ts';
import { PlannerStatus, PlannerState } from '../schemas/generated/edgeweave.ts';
import { topics, filters } from '../schemas/topics.ts';
import { generatePlannerKeys, type PlannerKeys } from '../schemas/capability.ts';

export type { PlannerServiceOptions } from './options.ts';

/** The planner republishes its status (with its device estimates) every this many seconds. */
const STATUS_EVERY_TICKS = 2;

export class PlannerService {
  readonly registry = new DeviceRegistry();
  private readonly incarnation = randomBytes(6).toString('hex');
  private transport: Transport | undefined;
  private readonly log: Logger;
  private readonly keys: PlannerKeys;
  private readonly models: PlannerModels;
  private readonly devices: DeviceWatch;
  private readonly jobs: JobManager;
  private readonly submissions: Submissions;
  private readonly clock: ClockServer;
  private timer: NodeJS.Timeout | undefined;
  private ticks = 0;
  private stopped = false;
  /** Bytes received and published (payloads), for the status: what coordination costs per job. */
  private readonly traffic = { in: 0, out: 0 };
  /** The jobs offered lately, and the fleet's capacity for them. */
  private readonly mix = new FleetMix();

  constructor(private readonly options: PlannerServiceOptions) {
    const log = (options.log ?? pino({ level: 'silent' })).child({ component: 'planner', plannerId: options.id });
    this.log = log;
    this.keys = options.keys ?? generatePlannerKeys();
    const publish: Publish = async (topic, payload, opts) => {
      this.traffic.out += payload.byteLength;
      await this.transport?.publish(topic, payload, opts);
    };
    const isStopped = (): boolean => this.stopped;
    const fleet = new FleetProgress();
    const dispatcher = new Dispatcher(options.id, this.keys, this.registry, publish, log, options.planDag ?? false);
    this.models = new PlannerModels(this.registry, options.models ?? [], log);
    this.jobs = new JobManager(this.registry, fleet, dispatcher, new PlannerLearning(this.registry), {
      algorithm: options.algorithm, objective: options.objective, cost: options.cost,
      maxAttempts: options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS, overrunMs: options.overrunMs ?? DEFAULT_OVERRUN_MS,
    }, isStopped, log);
    this.devices = new DeviceWatch(this.registry, options.lostGraceMs ?? DEFAULT_LOST_GRACE_MS, {
      lost: (deviceId, why) => this.jobs.deviceLost(deviceId, why),
      back: () => this.jobs.deviceBack(),
    }, isStopped, log);
    this.submissions = new Submissions(this.jobs, this.models, dispatcher, this.mix, log);
    this.clock = new ClockServer(options.id, publish);
  }

  /** Attempts dispatched. */
  get planned(): number {
    return this.jobs.planned;
  }

  /** Payload bytes this planner received and published since it started (its status says the same). */
  get bytes(): { in: number; out: number } {
    return { ...this.traffic };
  }

  /** Jobs planned again (device lost, overrun, resubmission). */
  get replanned(): number {
    return this.jobs.replanned;
  }

  /** The jobs per second offered lately and the fleet's capacity for that mix, as the status says them. */
  fleetLoad(nowMs = Date.now()): { offeredJobsPerS: number; capacity: Capacity | undefined } {
    const o = this.options;
    return { offeredJobsPerS: this.mix.offered(nowMs), capacity: this.mix.capacity(this.registry, { algorithm: o.algorithm, objective: o.objective, cost: o.cost }, nowMs) };
  }

  private statusPayload(state: PlannerState): Uint8Array {
    const o = this.options;
    const now = Date.now();
    const online = state === PlannerState.PLANNER_STATE_ONLINE;
    const load = online ? this.fleetLoad(now) : undefined;
    const capacity = load?.capacity;
    return PlannerStatus.encode({
      plannerId: o.id, state, algorithm: o.algorithm, publicKey: this.keys.publicKeyRaw, jobsPlanned: this.jobs.planned, sentAtMs: now, version: '1', incarnation: this.incarnation,
      bytesIn: this.traffic.in, bytesOut: this.traffic.out,
      estimates: online ? this.registry.estimates(now) : [],
      offeredJobsPerS: load?.offeredJobsPerS ?? 0,
      capacityJobsPerS: capacity?.jobsPerS ?? 0, capacityBottleneck: capacity?.bottleneck ?? [],
    });
  }

  async start(): Promise<void> {
    const o = this.options;
    this.transport = await Transport.connect({
      ...brokerConnectionOf(o), username: o.username ?? o.id, clientId: `${o.id}.planner`, clean: false, log: this.log, debugJson: o.debugJson ?? false,
      will: { topic: topics.plannerStatus(o.id), payload: this.statusPayload(PlannerState.PLANNER_STATE_OFFLINE), qos: 1, retain: true },
    });
    const t = this.transport;
    const counted = <M extends { bytes: number }>(handle: (m: M) => void) => (m: M): void => {
      this.traffic.in += m.bytes;
      handle(m);
    };
    // Back after a broker restart or a link drop: say ONLINE at once (the broker may hold our last will).
    t.onReconnect(() => this.publishStatus());
    await t.on('deviceStatus', filters.allDeviceStatus(), counted((m) => this.devices.onStatus(m)));
    await t.on('deviceProfile', filters.allDeviceProfiles(), counted((m) => this.devices.onProfile(m)));
    await t.on('modelCard', filters.allModelCards(), counted((m) => this.models.onCard(m.topic.sha256, m.bytes === 0 ? undefined : m.message)), {
      onRefused: (r) => { this.log.warn({ err: r.error, topic: r.rawTopic }, 'model card refused'); r.ack(); },
    });
    // The other planners of the fleet: the queues their jobs made on the devices.
    await t.on('plannerStatus', filters.allPlannerStatus(), counted((m) => this.registry.notePlanner(o.id, m.message, Date.now())));
    await t.on('jobReport', filters.jobReports(), counted((m) => this.jobs.onReport(m)));
    await t.on('jobResult', filters.jobResults(), counted((m) => this.jobs.onResult(m)));
    await t.on('clockPing', filters.allClockPings(), counted((m) => this.clock.onPing(m)), { qos: 0 });
    await t.publish(topics.plannerStatus(o.id), this.statusPayload(PlannerState.PLANNER_STATE_ONLINE), { qos: 1, retain: true });
    // Submissions last: by now the devices' retained statuses and profiles are in.
    await t.on('jobSubmit', filters.sharedJobSubmits(o.group ?? 'planners'), counted((m) => this.submissions.onSubmit(m)), {
      manualAck: true, onRefused: (r) => this.submissions.onUnreadable(r),
    });
    this.timer = setInterval(() => {
      this.devices.expire();
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
    this.halt();
    const t = this.transport;
    if (!t) return;
    const sent = await t.publishBestEffort(topics.plannerStatus(this.options.id), this.statusPayload(PlannerState.PLANNER_STATE_OFFLINE), { qos: 1, retain: true }, 500);
    await t.close(!sent);
  }

  /** Stops at once as a crash would: no offline status (the broker publishes the last will). */
  async kill(): Promise<void> {
    this.halt();
    await this.transport?.kill();
  }

  private halt(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.jobs.stop();
  }

  private publishStatus(): void {
    const payload = this.statusPayload(PlannerState.PLANNER_STATE_ONLINE);
    this.traffic.out += payload.byteLength;
    void this.transport?.publish(topics.plannerStatus(this.options.id), payload, { qos: 1, retain: true }).catch(() => undefined);
  }
}
