/**
 * What a planner knows of the devices: their retained statuses and profiles, whether they
 * are alive (status ONLINE and a heartbeat within three intervals), the work already placed
 * on them, and what it has learned from measurements: each device's compute speed against
 * the prediction, and its link's bandwidth and RTT. Plain data and arithmetic, no I/O.
 * Executors' placed work is laid out in executor-work.ts, links' data in link-queues.ts, and
 * the other planners' load is kept in other-planners.ts.
 */
import {
  DeviceState, Role, Radio, type DeviceStatus, type PlannerStatus, type DeviceProfile, type StageTiming, type DeviceEstimateInit,
} from '../schemas/generated/edgeweave.ts';
import type { BusyInterval, DeviceRole, DeviceSpec, LinkSpec, RadioKind } from './core/types.ts';
import { layOutExecutorWork, UNREPORTED_KEEP_MS, type Busy } from './executor-work.ts';
import { LinkQueues } from './link-queues.ts';
import { OtherPlanners } from './other-planners.ts';

export { OTHER_PLANNER_FRESH_MS } from './other-planners.ts';

/** The link assumed for a device that announces none (no emulation: a LAN). */
export const DEFAULT_LINK: LinkSpec = { upBps: 1e9, downBps: 1e9, rttMs: 1 };

/** Weight of a new measurement in the running estimates. */
const ALPHA = 0.5;
/** A stage predicted to compute this long (ms) or more counts fully in the speed estimate. */
const SIGNIFICANT_COMPUTE_MS = 100;
/**
 * Learned factors fade back towards the announced figures with this half-life when nothing new
 * is measured: a device that looked slow once (and so gets no work, and so no measurements)
 * is tried again, rather than shunned for good.
 */
const RELAX_HALF_LIFE_MS = 20_000;

export interface DeviceRecord {
  status: DeviceStatus;
  profile: DeviceProfile | undefined;
  /** Local (planner) clock when the last status arrived. */
  seenAtMs: number;
  /** Multiplies predicted compute (learned: measured / predicted). */
  loadFactor: number;
  /** Learned link, or the announced one until something was measured. */
  link: LinkSpec;
  /** Measured / announced uplink, to carry learning across trace updates. */
  upCorrection: number;
  measuredTransfers: number;
  busy: Busy[];
  /** Planner clock when the learned factors were last faded (see RELAX_HALF_LIFE_MS). */
  relaxedAtMs: number;
}

const ROLE: Partial<Record<Role, DeviceRole>> = { [Role.ROLE_IOT]: 'iot', [Role.ROLE_EDGE]: 'edge', [Role.ROLE_CLOUD]: 'cloud' };
const RADIO: Partial<Record<Radio, RadioKind>> = { [Radio.RADIO_WIFI]: 'wifi', [Radio.RADIO_LTE]: 'lte', [Radio.RADIO_3G]: '3g', [Radio.RADIO_WIRED]: 'wired' };

function announcedLink(status: DeviceStatus): LinkSpec {
  const l = status.link;
  const base = l && l.upBps > 0 && l.downBps > 0 ? { upBps: l.upBps, downBps: l.downBps, rttMs: l.rttMs } : { ...DEFAULT_LINK };
  if (status.traceUpBps > 0) base.upBps = status.traceUpBps;
  return base;
}

/** A model as the planner plans it: its id and (when known) its content hash. */
export interface PlannedModel {
  id: string;
  sha256: string;
}

/** Whether a device's status says it holds `model`: by hash when both sides know it, else by id. */
export function holdsModel(status: DeviceStatus, model: PlannedModel): boolean {
  if (model.sha256 !== '' && status.modelRefs.length > 0) return status.modelRefs.some((r) => r.sha256 === model.sha256);
  return status.models.includes(model.id);
}

export class DeviceRegistry {
  private readonly devices = new Map<string, DeviceRecord>();
  /** Data placed on every device's links by the jobs planned here. */
  readonly links = new LinkQueues();
  /** The other planners of the group: their jobs' work on the same devices. */
  private readonly others = new OtherPlanners();

  /**
   * Records a status; returns 'offline' when this status takes a live device offline, 'restarted'
   * when a live device is back as a new incarnation (it lost what the old one held).
   */
  updateStatus(status: DeviceStatus, nowMs: number): 'online' | 'offline' | 'restarted' | 'unchanged' {
    const id = status.deviceId;
    const before = this.devices.get(id);
    const wasAlive = before ? this.isAlive(before, nowMs) : false;
    const restarted = before !== undefined && before.status.incarnation !== status.incarnation;
    if (!before || restarted) {
      const link = announcedLink(status);
      this.devices.set(id, { status, profile: before?.profile, seenAtMs: nowMs, loadFactor: 1, link, upCorrection: 1, measuredTransfers: 0, busy: before?.busy ?? [], relaxedAtMs: nowMs });
    } else {
      // A last will is written before the device loads its models: it keeps what it held.
      const keep = status.modelRefs.length === 0 && status.models.length === 0 ? { models: before.status.models, modelRefs: before.status.modelRefs } : {};
      before.status = { ...status, ...keep } as DeviceStatus;
      before.seenAtMs = nowMs;
      const announced = announcedLink(status);
      if (status.traceUpBps > 0) before.link = { ...before.link, upBps: announced.upBps * before.upCorrection };
      else if (before.measuredTransfers === 0) before.link = announced;
    }
    const alive = this.isAlive(this.devices.get(id)!, nowMs);
    if (wasAlive && alive && restarted) return 'restarted';
    if (wasAlive && !alive) return 'offline';
    if (!wasAlive && alive) return 'online';
    return 'unchanged';
  }

  updateProfile(profile: DeviceProfile): void {
    const rec = this.devices.get(profile.deviceId);
    if (rec) rec.profile = profile;
    else {
      // A profile before any status: keep it until the status comes.
      this.pendingProfiles.set(profile.deviceId, profile);
    }
  }

  private readonly pendingProfiles = new Map<string, DeviceProfile>();

  get(id: string): DeviceRecord | undefined {
    const rec = this.devices.get(id);
    if (rec && !rec.profile) {
      const p = this.pendingProfiles.get(id);
      if (p) {
        rec.profile = p;
        this.pendingProfiles.delete(id);
      }
    }
    return rec;
  }

  isAlive(rec: DeviceRecord, nowMs: number): boolean {
    if (rec.status.state !== DeviceState.DEVICE_STATE_ONLINE) return false;
    const interval = rec.status.heartbeatMs > 0 ? rec.status.heartbeatMs : 5000;
    return nowMs - rec.seenAtMs <= 3 * interval + 1000;
  }

  /** Devices whose heartbeats stopped since the last check (presumed offline). */
  expire(nowMs: number): string[] {
    const gone: string[] = [];
    for (const [id, rec] of this.devices) {
      if (rec.status.state === DeviceState.DEVICE_STATE_ONLINE && !this.isAlive(rec, nowMs)) {
        rec.status = { ...rec.status, state: DeviceState.DEVICE_STATE_OFFLINE };
        gone.push(id);
      }
    }
    return gone;
  }

  /** Devices holding `model` that are offline now but were online in the last `windowMs`: likely back soon. */
  recentlyLost(model: PlannedModel, nowMs: number, windowMs = 60_000): string[] {
    return [...this.devices.values()]
      .filter((r) => !this.isAlive(r, nowMs) && nowMs - r.seenAtMs <= windowMs && holdsModel(r.status, model))
      .map((r) => r.status.deviceId);
  }

  ids(): string[] {
    return [...this.devices.keys()];
  }

  aliveIds(nowMs: number): string[] {
    return [...this.devices.values()].filter((r) => this.isAlive(r, nowMs)).map((r) => r.status.deviceId);
  }

  /** Per-task latency (ms on that device) from its profile of `model`, for the fused or layer DAG. */
  profileMs(rec: DeviceRecord, model: PlannedModel, fused: boolean): Record<string, number> | undefined {
    const same = (p: { name: string; sha256: string } | null | undefined): boolean =>
      p != null && (model.sha256 !== '' && p.sha256 !== '' ? p.sha256 === model.sha256 : p.name === model.id);
    const m = this.get(rec.status.deviceId)?.profile?.models.find((p) => same(p.model) && p.fused === fused);
    if (!m || m.tasks.length === 0) return undefined;
    const out: Record<string, number> = {};
    for (const t of m.tasks) out[t.taskId] = t.latencyMs;
    return out;
  }

  /** The planner's view of a device as the core wants it. */
  spec(rec: DeviceRecord, model: PlannedModel, fused: boolean, nowMs: number): DeviceSpec {
    this.relax(rec, nowMs);
    const s = rec.status;
    const power = s.power;
    const spec: DeviceSpec = {
      id: s.deviceId,
      role: ROLE[s.role] ?? 'edge',
      speed: s.speed > 0 ? s.speed : 1,
      memoryBytes: s.memoryBytes > 0 ? s.memoryBytes : 8 * 2 ** 30,
      link: { ...rec.link },
      workers: Math.max(1, s.workers.length),
      loadFactor: rec.loadFactor,
      busy: this.busyIntervals(rec, nowMs, Math.max(1, s.workers.length)),
    };
    const others = this.othersLoad(s.deviceId, Math.max(1, s.workers.length), nowMs);
    const links = this.links.busy(s.deviceId, nowMs, { upMs: others.upMs, downMs: others.downMs });
    if (links.up.length > 0) spec.uplinkBusy = links.up;
    if (links.down.length > 0) spec.downlinkBusy = links.down;
    const radio = power ? RADIO[power.radio] : undefined;
    if (radio) spec.radio = radio;
    if (power && power.busyW > 0) {
      spec.power = {
        idleW: power.idleW, busyW: power.busyW,
        radioModel: {
          ...(power.upAlphaMwPerMbps > 0 ? { upAlphaMwPerMbps: power.upAlphaMwPerMbps } : {}),
          ...(power.downAlphaMwPerMbps > 0 ? { downAlphaMwPerMbps: power.downAlphaMwPerMbps } : {}),
          ...(power.betaMw > 0 ? { betaMw: power.betaMw } : {}),
        },
      };
    }
    const profileMs = this.profileMs(rec, model, fused);
    if (profileMs) spec.profileMs = profileMs;
    return spec;
  }

  /**
   * The work placed on a device and not yet done, per executor, from now on (`layOutExecutorWork`),
   * behind the other planners' work unless `withOthers` is false.
   */
  private busyIntervals(rec: DeviceRecord, nowMs: number, workers: number, withOthers = true): BusyInterval[] {
    rec.busy = rec.busy.filter((b) => b.endAtMs + UNREPORTED_KEEP_MS > nowMs);
    // The other planners' jobs' work, ahead of this planner's on every executor.
    const others = withOthers ? this.othersLoad(rec.status.deviceId, workers, nowMs).perWorkerMs : 0;
    return layOutExecutorWork(rec.busy, nowMs, workers, others);
  }

  /**
   * Another planner's status (`ownId`: this planner's, ignored): the work and data its own
   * placements put on each device, which this planner's placements then queue behind.
   */
  notePlanner(ownId: string, status: PlannerStatus, nowMs: number): void {
    this.others.note(ownId, status, nowMs);
  }

  /** What the other planners' jobs still hold on a device, from now: per executor, uplink and downlink (ms). */
  othersLoad(deviceId: string, workers: number, nowMs: number): { perWorkerMs: number; upMs: number; downMs: number } {
    return this.others.load(deviceId, workers, nowMs);
  }

  /** A stage reported done: its work no longer occupies its device, and what it sends has left. */
  stageDone(deviceId: string, jobId: string, stageId: string, nowMs = Date.now()): void {
    const rec = this.devices.get(deviceId);
    if (rec) rec.busy = rec.busy.filter((b) => b.jobId !== jobId || b.stageId !== stageId);
    this.links.stageDone(jobId, stageId, nowMs);
  }

  /** What has been learned of every live device, for the planner's status. */
  estimates(nowMs: number): DeviceEstimateInit[] {
    return [...this.devices.values()].filter((r) => this.isAlive(r, nowMs)).map((r) => ({
      ...linkBacklog(this.links.backlogMs(r.status.deviceId, nowMs)),
      deviceId: r.status.deviceId, upBps: r.link.upBps, downBps: r.link.downBps, rttMs: r.link.rttMs, loadFactor: r.loadFactor,
      speed: (r.status.speed > 0 ? r.status.speed : 1) / r.loadFactor,
      // This planner's own placements only: other planners publish theirs.
      queuedMs: this.busyIntervals(r, nowMs, Math.max(1, r.status.workers.length), false).reduce((s, b) => s + b.endMs - b.startMs, 0),
    }));
  }

  /** Records work placed on a device by a plan (times absolute, planner clock). */
  addBusy(deviceId: string, jobId: string, stageId: string, worker: number, startAtMs: number, endAtMs: number, dueAtMs = endAtMs): void {
    this.devices.get(deviceId)?.busy.push({ jobId, stageId, worker, startAtMs, endAtMs, dueAtMs });
  }

  /** Records data a plan puts on the links: `bytes` its stage `fromStage` sends from `from` to `to`, leaving at `sendAtMs` (planner clock); returns when it is off the uplink. */
  addTransfer(jobId: string, fromStage: string, from: string, to: string, bytes: number, sendAtMs: number, nowMs = Date.now()): number {
    const a = this.devices.get(from);
    const c = this.devices.get(to);
    return a && c ? this.links.add(jobId, fromStage, { id: from, link: a.link }, { id: to, link: c.link }, bytes, sendAtMs, nowMs) : sendAtMs;
  }

  /** A job finished or was re-planned: its placed work and its data no longer occupy anyone. */
  clearBusy(jobId: string): void {
    for (const rec of this.devices.values()) rec.busy = rec.busy.filter((b) => b.jobId !== jobId);
    this.links.clear(jobId);
  }

  /** Fades learned factors towards the announced figures (see RELAX_HALF_LIFE_MS). */
  private relax(rec: DeviceRecord, nowMs: number): void {
    const age = nowMs - rec.relaxedAtMs;
    if (!(age > 0)) return;
    rec.relaxedAtMs = nowMs;
    const k = 0.5 ** (age / RELAX_HALF_LIFE_MS);
    rec.loadFactor **= k;
    const announced = announcedLink(rec.status);
    rec.link.upBps = announced.upBps * (rec.link.upBps / announced.upBps) ** k;
    rec.link.downBps = announced.downBps * (rec.link.downBps / announced.downBps) ** k;
    rec.upCorrection = rec.link.upBps / announced.upBps;
  }

  /**
   * Learns from a measured stage: compute against the prediction, which was made with the
   * device's factor `plannedFactor` (the one at the time the stage was planned; default: the
   * current one). The factor the measurement shows is `plannedFactor` x measured / predicted,
   * and the current factor moves towards it. Measured against the factor a prediction was made
   * with, not the current one: under load many stages are in flight, planned with factors since
   * changed, and scaling the current factor by each of their ratios would count one change many
   * times over and swing the factor far past the truth, one way and then the other.
   */
  learnCompute(deviceId: string, timing: StageTiming, plannedFactor?: number, nowMs = Date.now()): void {
    const rec = this.devices.get(deviceId);
    const predicted = timing.predicted?.computeMs ?? 0;
    if (!rec || predicted <= 0.5 || timing.computeMs <= 0) return;
    this.relax(rec, nowMs);
    // Short stages are mostly timer and scheduling noise: they count for little.
    const ratio = Math.min(10, Math.max(0.1, timing.computeMs / predicted));
    const shown = (plannedFactor ?? rec.loadFactor) * ratio;
    const w = ALPHA * Math.min(1, predicted / SIGNIFICANT_COMPUTE_MS);
    rec.loadFactor = Math.exp((1 - w) * Math.log(rec.loadFactor) + w * Math.log(shown));
  }

  /**
   * Learns from a measured transfer of `bytes` from `from` to `to` taking `measuredMs`. The plan
   * predicted `predictedMs`; what of it exceeds the idle-link time was queueing behind other
   * data on the links (LinkQueues), and is taken off the measurement. The rest's difference from
   * the idle-link time is shared between the sender's uplink and the receiver's downlink in
   * proportion to their share, and each leg's bandwidth re-estimated (by at most a factor of
   * ten per measurement).
   */
  learnTransfer(from: string, to: string, bytes: number, measuredMs: number, predictedMs = 0, nowMs = Date.now()): void {
    const a = this.devices.get(from);
    const b = this.devices.get(to);
    if (!a || !b || from === to || bytes <= 0 || !(measuredMs > 0)) return;
    this.relax(a, nowMs);
    this.relax(b, nowMs);
    const bits = bytes * 8;
    const up = (bits / a.link.upBps) * 1000 + a.link.rttMs / 2;
    const down = (bits / b.link.downBps) * 1000 + b.link.rttMs / 2;
    const queued = Math.max(0, predictedMs - up - down);
    const residual = measuredMs - queued - up - down;
    const upNew = up + (residual * up) / (up + down);
    const downNew = down + (residual * down) / (up + down);
    const clamp = (bps: number, was: number): number => Math.min(was * 10, Math.max(was / 10, bps));
    const upBps = clamp(bits / Math.max(1e-3, (upNew - a.link.rttMs / 2) / 1000), a.link.upBps);
    const downBps = clamp(bits / Math.max(1e-3, (downNew - b.link.rttMs / 2) / 1000), b.link.downBps);
    // Small messages say little about bandwidth: weight by how much of the leg is serialisation.
    const wUp = ALPHA * Math.min(1, (bits / a.link.upBps) * 1000 / Math.max(1, up));
    const wDown = ALPHA * Math.min(1, (bits / b.link.downBps) * 1000 / Math.max(1, down));
    if (upBps > 0 && Number.isFinite(upBps)) {
      const announced = announcedLink(a.status).upBps;
      a.link.upBps = Math.exp((1 - wUp) * Math.log(a.link.upBps) + wUp * Math.log(upBps));
      a.upCorrection = a.link.upBps / announced;
      a.measuredTransfers++;
    }
    if (downBps > 0 && Number.isFinite(downBps)) {
      b.link.downBps = Math.exp((1 - wDown) * Math.log(b.link.downBps) + wDown * Math.log(downBps));
      b.measuredTransfers++;
    }
  }
}

function linkBacklog(ms: { up: number; down: number }): Pick<DeviceEstimateInit, 'uplinkBacklogMs' | 'downlinkBacklogMs'> {
  return { uplinkBacklogMs: ms.up, downlinkBacklogMs: ms.down };
}
