/**
 * The dashboard's state and its one reducer: `reduce(state, event)` returns the next
 * state and never mutates the one it is given. Histories are bounded, so a dashboard
 * left open for days keeps a constant footprint.
 */
import {
  DeviceState, JobStatus, PlannerState, StageStatus,
  type DeviceProfile, type DeviceStatus, type JobPlan, type JobResult, type PlannerStatus, type StageReport,
} from '../../schemas/generated/edgeweave.ts';
import { jobKeyOf, type ConnectionState, type DashboardEvent } from './events.ts';

export interface DeviceView {
  id: string;
  status: DeviceStatus;
  /** When the page last heard the device's status (page clock). */
  lastSeenAtMs: number;
}

export interface PlannerView {
  status: PlannerStatus;
  lastSeenAtMs: number;
}

export interface JobView {
  key: string;
  originId: string;
  jobId: string;
  firstSeenAtMs: number;
  /** The plan of the latest attempt. */
  plan: JobPlan | undefined;
  /** Reports of every attempt, in arrival order. */
  reports: StageReport[];
  /** The first OK result, else the latest result (outputs dropped). */
  result: JobResult | undefined;
  finishedAtMs: number | undefined;
}

export interface LatencyPoint {
  atMs: number;
  jobKey: string;
  model: string;
  algorithm: string;
  latencyMs: number;
  predictedMs: number;
  /** What running everything on the origin was predicted to take; 0 when unknown. */
  localPredictedMs: number;
}

export interface BandwidthPoint {
  atMs: number;
  bps: number;
}

export interface DeviceBandwidth {
  /** The uplink the device replays from its bandwidth trace (DeviceStatus.trace_up_bps). */
  trace: BandwidthPoint[];
  /** The planners' learned uplink estimate. */
  estimatedUp: BandwidthPoint[];
}

/**
 * One sample of a device's load. Planner statuses carry the three ms figures and device
 * statuses the stage count, so a point holds what its one message said; the figures it did
 * not carry are null (unknown, never 0).
 */
export interface DeviceLoadPoint {
  atMs: number;
  /** Work placed on the device and not yet finished (DeviceEstimate.queued_ms). */
  queuedMs: number | null;
  /** What the data placed on its uplink / downlink still takes (DeviceEstimate.*_backlog_ms). */
  uplinkBacklogMs: number | null;
  downlinkBacklogMs: number | null;
  /** Stage inputs received and not yet finished, as the device says (DeviceStatus.queued_stages). */
  queuedStages: number | null;
}

export interface DashboardState {
  connection: { state: ConnectionState; detail: string; sinceMs: number };
  /** Whether the broker answered the page's subscriptions since it last connected. */
  subscriptions: 'pending' | 'granted' | 'refused';
  /** Filters the broker refused (return code 0x80): the page's credentials lack the observer role. */
  refusedFilters: string[];
  devices: Readonly<Record<string, DeviceView>>;
  profiles: Readonly<Record<string, DeviceProfile>>;
  /** Device ids in the order first seen: their colours stay put. */
  deviceOrder: string[];
  planners: Readonly<Record<string, PlannerView>>;
  jobs: Readonly<Record<string, JobView>>;
  /** Job keys, oldest first. */
  jobOrder: string[];
  selectedJobKey: string | null;
  /** Until someone picks a job, the newest finished job is shown. */
  followLatest: boolean;
  latency: LatencyPoint[];
  bandwidth: Readonly<Record<string, DeviceBandwidth>>;
  /** Queue and link backlog over time, per device; a device has an entry from its first point on. */
  load: Readonly<Record<string, DeviceLoadPoint[]>>;
  problems: { count: number; last: string };
}

/** A device's load series takes a point per planner status and per device status (each every 2 s by default): 20 minutes with one planner. */
export const LIMITS = { jobs: 200, latencyPoints: 500, bandwidthPoints: 600, loadPoints: 1200 } as const;

export function initialState(nowMs = 0): DashboardState {
  return {
    connection: { state: 'connecting', detail: '', sinceMs: nowMs },
    subscriptions: 'pending',
    refusedFilters: [],
    devices: {},
    profiles: {},
    deviceOrder: [],
    planners: {},
    jobs: {},
    jobOrder: [],
    selectedJobKey: null,
    followLatest: true,
    latency: [],
    bandwidth: {},
    load: {},
    problems: { count: 0, last: '' },
  };
}

function bounded<T>(list: readonly T[], item: T, max: number): T[] {
  const next = list.length >= max ? list.slice(list.length - max + 1) : list.slice();
  next.push(item);
  return next;
}

function withDeviceSeen(state: DashboardState, id: string): string[] {
  return state.deviceOrder.includes(id) ? state.deviceOrder : [...state.deviceOrder, id];
}

function withLoadPoint(load: DashboardState['load'], deviceId: string, point: DeviceLoadPoint): DashboardState['load'] {
  return { ...load, [deviceId]: bounded(load[deviceId] ?? [], point, LIMITS.loadPoints) };
}

function onDeviceStatus(state: DashboardState, status: DeviceStatus, atMs: number): DashboardState {
  const id = status.deviceId;
  const device: DeviceView = { id, status, lastSeenAtMs: atMs };
  let bandwidth = state.bandwidth;
  if (status.traceUpBps > 0) {
    const bw = state.bandwidth[id] ?? { trace: [], estimatedUp: [] };
    bandwidth = { ...bandwidth, [id]: { ...bw, trace: bounded(bw.trace, { atMs, bps: status.traceUpBps }, LIMITS.bandwidthPoints) } };
  }
  // An offline status (the last will) carries a default 0, not a count.
  const counting = status.state === DeviceState.DEVICE_STATE_ONLINE || status.state === DeviceState.DEVICE_STATE_DRAINING;
  const load = counting
    ? withLoadPoint(state.load, id, { atMs, queuedMs: null, uplinkBacklogMs: null, downlinkBacklogMs: null, queuedStages: status.queuedStages })
    : state.load;
  return { ...state, devices: { ...state.devices, [id]: device }, deviceOrder: withDeviceSeen(state, id), bandwidth, load };
}

function onDeviceProfile(state: DashboardState, profile: DeviceProfile): DashboardState {
  return { ...state, profiles: { ...state.profiles, [profile.deviceId]: profile } };
}

/**
 * A device's queue and link backlog as the online planners see it: the max, figure by figure,
 * over each online planner's latest estimate. Each planner counts only the work and data of the
 * jobs it planned, so the latest status alone would jump between planners' partial views every
 * time another one reports; the max is the busiest view, and it moves only when that changes.
 */
function loadFromPlanners(planners: DashboardState['planners'], deviceId: string, atMs: number): DeviceLoadPoint {
  let queuedMs = 0;
  let uplinkBacklogMs = 0;
  let downlinkBacklogMs = 0;
  for (const p of Object.values(planners)) {
    if (p.status.state !== PlannerState.PLANNER_STATE_ONLINE) continue;
    const e = p.status.estimates.find((x) => x.deviceId === deviceId);
    if (!e) continue;
    queuedMs = Math.max(queuedMs, e.queuedMs);
    uplinkBacklogMs = Math.max(uplinkBacklogMs, e.uplinkBacklogMs);
    downlinkBacklogMs = Math.max(downlinkBacklogMs, e.downlinkBacklogMs);
  }
  return { atMs, queuedMs, uplinkBacklogMs, downlinkBacklogMs, queuedStages: null };
}

function onPlannerStatus(state: DashboardState, status: PlannerStatus, atMs: number): DashboardState {
  const planners = { ...state.planners, [status.plannerId]: { status, lastSeenAtMs: atMs } };
  let bandwidth = state.bandwidth;
  let load = state.load;
  for (const e of status.estimates) {
    // The estimates of a planner that is not online are not sampled (its last will carries none).
    if (status.state === PlannerState.PLANNER_STATE_ONLINE) load = withLoadPoint(load, e.deviceId, loadFromPlanners(planners, e.deviceId, atMs));
    if (!(e.upBps > 0)) continue;
    const bw = bandwidth[e.deviceId] ?? { trace: [], estimatedUp: [] };
    bandwidth = { ...bandwidth, [e.deviceId]: { ...bw, estimatedUp: bounded(bw.estimatedUp, { atMs, bps: e.upBps }, LIMITS.bandwidthPoints) } };
  }
  return { ...state, planners, bandwidth, load };
}

function withJob(state: DashboardState, originId: string, jobId: string, atMs: number, update: (job: JobView) => JobView): DashboardState {
  const key = jobKeyOf(originId, jobId);
  const prev = state.jobs[key];
  const job = update(prev ?? { key, originId, jobId, firstSeenAtMs: atMs, plan: undefined, reports: [], result: undefined, finishedAtMs: undefined });
  const jobs: Record<string, JobView> = { ...state.jobs, [key]: job };
  let jobOrder = prev ? state.jobOrder : [...state.jobOrder, key];
  // Forget the oldest jobs past the limit, but never the one being looked at.
  while (jobOrder.length > LIMITS.jobs) {
    const drop = jobOrder.find((k) => k !== state.selectedJobKey);
    if (drop === undefined) break;
    jobOrder = jobOrder.filter((k) => k !== drop);
    delete jobs[drop];
  }
  return { ...state, jobs, jobOrder };
}

function onJobPlan(state: DashboardState, originId: string, plan: JobPlan, atMs: number): DashboardState {
  return withJob(state, originId, plan.jobId, atMs, (job) => (job.plan && job.plan.attempt > plan.attempt ? job : { ...job, plan }));
}

function onStageReport(state: DashboardState, originId: string, report: StageReport, atMs: number): DashboardState {
  return withJob(state, originId, report.jobId, atMs, (job) => ({ ...job, reports: [...job.reports, report] }));
}

function onJobResult(state: DashboardState, originId: string, jobId: string, result: JobResult, atMs: number): DashboardState {
  const key = jobKeyOf(originId, jobId);
  const prev = state.jobs[key]?.result;
  // The origin keeps the first OK result per job; so do we.
  if (prev?.status === JobStatus.JOB_STATUS_OK) return state;
  let next = withJob(state, originId, jobId, atMs, (job) => ({ ...job, result, finishedAtMs: atMs }));
  const job = next.jobs[key]!;
  if (result.status === JobStatus.JOB_STATUS_OK) {
    const point: LatencyPoint = {
      atMs, jobKey: key, model: job.plan?.model?.name ?? '', algorithm: result.algorithm || job.plan?.algorithm || '',
      latencyMs: result.latencyMs, predictedMs: result.predictedLatencyMs || job.plan?.predictedLatencyMs || 0,
      localPredictedMs: job.plan?.predictedLocalLatencyMs ?? 0,
    };
    next = { ...next, latency: bounded(next.latency, point, LIMITS.latencyPoints) };
  }
  if (next.followLatest) next = { ...next, selectedJobKey: key };
  return next;
}

export function reduce(state: DashboardState, event: DashboardEvent): DashboardState {
  switch (event.kind) {
    case 'deviceStatus': return onDeviceStatus(state, event.status, event.atMs);
    case 'deviceProfile': return onDeviceProfile(state, event.profile);
    case 'plannerStatus': return onPlannerStatus(state, event.status, event.atMs);
    case 'jobPlan': return onJobPlan(state, event.originId, event.plan, event.atMs);
    case 'stageReport': return onStageReport(state, event.originId, event.report, event.atMs);
    case 'jobResult': return onJobResult(state, event.originId, event.jobId, event.result, event.atMs);
    case 'connection':
      return { ...state, connection: { state: event.state, detail: event.detail, sinceMs: event.atMs }, subscriptions: 'pending' };
    case 'subscribed':
      return { ...state, refusedFilters: event.refused, subscriptions: event.refused.length > 0 ? 'refused' : 'granted' };
    case 'selectJob':
      if (event.jobKey !== null && !state.jobs[event.jobKey]) return state;
      return { ...state, selectedJobKey: event.jobKey, followLatest: event.jobKey === null };
    case 'problem':
      return { ...state, problems: { count: state.problems.count + 1, last: `${event.topic}: ${event.message}` } };
    case 'ignored':
      return state;
  }
}

/** The stage reports of the plan's attempt that ran (status OK), one per stage. */
export function completedStages(job: JobView): StageReport[] {
  const attempt = job.plan?.attempt ?? 0;
  const byStage = new Map<string, StageReport>();
  for (const r of job.reports) {
    if (r.status === StageStatus.STAGE_STATUS_OK && r.attempt === attempt && !byStage.has(r.stageId)) byStage.set(r.stageId, r);
  }
  return [...byStage.values()];
}
