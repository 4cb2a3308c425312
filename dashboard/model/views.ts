/**
 * What each panel draws, derived from the state by pure functions: the page only turns
 * these plain values into DOM, a graph and charts. Times in a job's views are
 * milliseconds after the job's submission on the reference (planner) clock.
 */
import { DeviceState, PlannerState, type StagePrediction, type StageTiming } from '../../schemas/generated/edgeweave.ts';
import { completedStages, type BandwidthPoint, type DashboardState, type DeviceLoadPoint, type JobView } from './state.ts';
import { deviceColor, deviceStateName, jobStatusName, roleName, type JobStatusName } from './format.ts';

export interface LinkFigures {
  upBps: number;
  downBps: number;
  rttMs: number;
}

export interface DeviceRow {
  id: string;
  color: string;
  role: string;
  /** `silent`: says online but no heartbeat for three intervals. */
  state: 'online' | 'offline' | 'draining' | 'silent' | 'unknown';
  engine: string;
  /** Busy executors / executors, 0..1. */
  load: number;
  queuedStages: number;
  workers: number;
  /** The emulated speed the device announces (1 = the reference host). */
  speed: number;
  nominal: LinkFigures | null;
  /** What a planner has learned of it (freshest online planner). */
  estimated: (LinkFigures & { speed: number; loadFactor: number; queuedMs: number; plannerId: string }) | null;
  traceUpBps: number;
  models: string[];
  lastSeenAtMs: number;
}

const ROLE_RANK: Record<string, number> = { iot: 0, edge: 1, cloud: 2 };

export function deviceRows(state: DashboardState, nowMs: number): DeviceRow[] {
  const rows: DeviceRow[] = [];
  for (const d of Object.values(state.devices)) {
    const s = d.status;
    let stateName: DeviceRow['state'] = deviceStateName(s.state);
    const heartbeatMs = s.heartbeatMs > 0 ? s.heartbeatMs : 2000;
    if (s.state === DeviceState.DEVICE_STATE_ONLINE && nowMs - d.lastSeenAtMs > 3 * heartbeatMs) stateName = 'silent';
    let estimated: DeviceRow['estimated'] = null;
    let freshest = -Infinity;
    for (const p of Object.values(state.planners)) {
      if (p.status.state !== PlannerState.PLANNER_STATE_ONLINE || p.lastSeenAtMs <= freshest) continue;
      const e = p.status.estimates.find((x) => x.deviceId === d.id);
      if (!e) continue;
      freshest = p.lastSeenAtMs;
      estimated = { upBps: e.upBps, downBps: e.downBps, rttMs: e.rttMs, speed: e.speed, loadFactor: e.loadFactor, queuedMs: e.queuedMs, plannerId: p.status.plannerId };
    }
    rows.push({
      id: d.id, color: deviceColor(state.deviceOrder, d.id), role: roleName(s.role), state: stateName, engine: s.engine,
      load: s.load, queuedStages: s.queuedStages, workers: s.workers.length, speed: s.speed,
      nominal: s.link ? { upBps: s.link.upBps, downBps: s.link.downBps, rttMs: s.link.rttMs } : null,
      estimated, traceUpBps: s.traceUpBps, models: s.models, lastSeenAtMs: d.lastSeenAtMs,
    });
  }
  return rows.sort((a, b) => (ROLE_RANK[a.role] ?? 3) - (ROLE_RANK[b.role] ?? 3) || a.id.localeCompare(b.id));
}

export interface JobRow {
  key: string;
  originId: string;
  jobId: string;
  model: string;
  algorithm: string;
  status: JobStatusName;
  stagesDone: number;
  stagesTotal: number;
  latencyMs: number;
  predictedMs: number;
  /** Predicted local latency / measured latency; 0 when unknown. */
  speedup: number;
  firstSeenAtMs: number;
  selected: boolean;
}

export function jobRow(state: DashboardState, job: JobView): JobRow {
  const r = job.result;
  const localMs = job.plan?.predictedLocalLatencyMs ?? 0;
  const latencyMs = r?.latencyMs ?? 0;
  return {
    key: job.key, originId: job.originId, jobId: job.jobId, model: job.plan?.model?.name ?? '',
    algorithm: r?.algorithm || job.plan?.algorithm || '',
    status: r ? jobStatusName(r.status) : 'running',
    stagesDone: completedStages(job).length, stagesTotal: job.plan?.stages.length ?? 0,
    latencyMs, predictedMs: r?.predictedLatencyMs || job.plan?.predictedLatencyMs || 0,
    speedup: r && latencyMs > 0 && localMs > 0 ? localMs / latencyMs : 0,
    firstSeenAtMs: job.firstSeenAtMs, selected: state.selectedJobKey === job.key,
  };
}

/** Jobs, newest first. */
export function jobRows(state: DashboardState): JobRow[] {
  return state.jobOrder.map((k) => state.jobs[k]).filter((j): j is JobView => j !== undefined).map((j) => jobRow(state, j)).reverse();
}

export function selectedJob(state: DashboardState): JobView | undefined {
  return state.selectedJobKey === null ? undefined : state.jobs[state.selectedJobKey];
}

export interface DagNode { id: string; label: string; kind: string; device: string; color: string }
export interface DagEdge { id: string; source: string; target: string; crossDevice: boolean }
export interface DagView {
  jobKey: string;
  /** `tasks`: the plan's task DAG; `stages`: the plan carried no DAG, so its stages are drawn. */
  granularity: 'tasks' | 'stages';
  nodes: DagNode[];
  edges: DagEdge[];
  devices: Array<{ id: string; color: string }>;
}

/** The task DAG coloured by the device each task ran on (or is placed on, until it has run). */
export function dagView(state: DashboardState, job: JobView): DagView | null {
  const plan = job.plan;
  if (!plan) return null;
  const placement = { ...plan.placement, ...(job.result?.placement ?? {}) };
  const nodes: DagNode[] = [];
  const edges: DagEdge[] = [];
  let granularity: DagView['granularity'] = 'tasks';
  const color = (device: string): string => (device === '' ? '#999999' : deviceColor(state.deviceOrder, device));
  if (plan.tasks.length > 0) {
    const ids = new Set(plan.tasks.map((t) => t.id));
    for (const t of plan.tasks) {
      const device = placement[t.id] ?? '';
      nodes.push({ id: t.id, label: t.id, kind: t.kind, device, color: color(device) });
      for (const p of t.preds) {
        if (!ids.has(p)) continue;
        edges.push({ id: `${p}->${t.id}`, source: p, target: t.id, crossDevice: (placement[p] ?? '') !== device });
      }
    }
  } else {
    granularity = 'stages';
    const stageDevice = new Map(plan.stages.map((s) => [s.stageId, s.deviceId]));
    for (const s of plan.stages) {
      nodes.push({ id: s.stageId, label: `${s.stageId} (${s.taskIds.length})`, kind: 'stage', device: s.deviceId, color: color(s.deviceId) });
      for (const from of new Set(s.inputs.map((i) => i.fromStage).filter((f) => stageDevice.has(f)))) {
        edges.push({ id: `${from}->${s.stageId}`, source: from, target: s.stageId, crossDevice: stageDevice.get(from) !== s.deviceId });
      }
    }
  }
  const used = [...new Set(nodes.map((n) => n.device).filter((d) => d !== ''))];
  return { jobKey: job.key, granularity, nodes, edges, devices: used.map((id) => ({ id, color: color(id) })) };
}

export type GanttPhase = 'transfer' | 'wait' | 'compute';
export interface GanttBar {
  row: string;
  device: string;
  stageId: string;
  phase: GanttPhase;
  source: 'measured' | 'predicted';
  startMs: number;
  endMs: number;
}
export interface GanttView {
  jobKey: string;
  /** Row labels, top to bottom: each device measured, then as predicted. */
  rows: string[];
  bars: GanttBar[];
  endMs: number;
  /** Measured stages shown / stages in the plan. */
  measuredStages: number;
  plannedStages: number;
}

export function predictedRowLabel(device: string): string {
  return `${device} · predicted`;
}

function measuredTimings(job: JobView): StageTiming[] {
  if (job.result && job.result.trace.length > 0) return job.result.trace;
  return completedStages(job).flatMap((r) => (r.timing ? [r.timing] : []));
}

function phaseBars(row: string, device: string, stageId: string, source: GanttBar['source'], t: { readyMs: number; startMs: number; endMs: number; transferInMs: number }): GanttBar[] {
  const bars: GanttBar[] = [];
  const add = (phase: GanttPhase, startMs: number, endMs: number): void => {
    if (endMs > startMs) bars.push({ row, device, stageId, phase, source, startMs, endMs });
  };
  add('transfer', t.readyMs - t.transferInMs, t.readyMs);
  add('wait', t.readyMs, t.startMs);
  // A compute bar is drawn even when it is too short to measure.
  bars.push({ row, device, stageId, phase: 'compute', source, startMs: t.startMs, endMs: Math.max(t.endMs, t.startMs) });
  return bars;
}

/** Per-device timeline of wait, transfer and compute, measured beside predicted. */
export function ganttView(job: JobView): GanttView | null {
  const plan = job.plan;
  const measured = measuredTimings(job);
  if (!plan && measured.length === 0) return null;
  let zero = plan && plan.submittedAtMs > 0 ? plan.submittedAtMs : Infinity;
  if (!Number.isFinite(zero)) for (const t of measured) zero = Math.min(zero, t.readyAtMs - t.transferInMs);
  const devices: string[] = [];
  const see = (d: string): void => { if (!devices.includes(d)) devices.push(d); };
  for (const s of plan?.stages ?? []) see(s.deviceId);
  for (const t of measured) see(t.deviceId);
  const bars: GanttBar[] = [];
  for (const t of measured) {
    bars.push(...phaseBars(t.deviceId, t.deviceId, t.stageId, 'measured', {
      readyMs: t.readyAtMs - zero, startMs: t.startAtMs - zero, endMs: t.endAtMs - zero, transferInMs: t.transferInMs,
    }));
  }
  for (const s of plan?.stages ?? []) {
    const p: StagePrediction | null = s.predicted;
    if (!p) continue;
    bars.push(...phaseBars(predictedRowLabel(s.deviceId), s.deviceId, s.stageId, 'predicted', {
      readyMs: p.readyMs, startMs: p.startMs, endMs: p.finishMs > 0 ? p.finishMs : p.startMs + p.computeMs, transferInMs: p.transferInMs,
    }));
  }
  const rows = devices.flatMap((d) => [d, predictedRowLabel(d)]);
  const endMs = bars.reduce((m, b) => Math.max(m, b.endMs), 0);
  return { jobKey: job.key, rows, bars, endMs, measuredStages: measured.length, plannedStages: plan?.stages.length ?? 0 };
}

export interface EnergyRow { deviceId: string; color: string; predictedJ: number; measuredJ: number; computeJ: number; radioJ: number; idleJ: number }

/** Energy per device for the job: measured beside predicted (predicted only, until the result). */
export function energyView(state: DashboardState, job: JobView): EnergyRow[] {
  const color = (id: string): string => deviceColor(state.deviceOrder, id);
  if (job.result && job.result.energy.length > 0) {
    return job.result.energy.map((e) => ({
      deviceId: e.deviceId, color: color(e.deviceId), predictedJ: e.predictedJ, measuredJ: e.measuredJ, computeJ: e.computeJ, radioJ: e.radioJ, idleJ: e.idleJ,
    }));
  }
  return Object.entries(job.plan?.predictedEnergyJ ?? {}).map(([deviceId, j]) => ({
    deviceId, color: color(deviceId), predictedJ: j, measuredJ: 0, computeJ: 0, radioJ: 0, idleJ: 0,
  }));
}

export interface LatencyPointView { atMs: number; jobKey: string; label: string; latencyMs: number; predictedMs: number; speedup: number }

/** End-to-end latency (measured and predicted) and speed-up over the predicted local run, per finished job. */
export function latencySeries(state: DashboardState): LatencyPointView[] {
  return state.latency.map((p) => ({
    atMs: p.atMs, jobKey: p.jobKey, label: `${p.model} ${p.algorithm}`.trim(), latencyMs: p.latencyMs, predictedMs: p.predictedMs,
    speedup: p.localPredictedMs > 0 && p.latencyMs > 0 ? p.localPredictedMs / p.latencyMs : 0,
  }));
}

export interface BandwidthSeries { deviceId: string; color: string; trace: BandwidthPoint[]; estimatedUp: BandwidthPoint[] }

/** Uplink bandwidth over time per device: the trace a device replays, and the planner's estimate. */
export function bandwidthSeries(state: DashboardState): BandwidthSeries[] {
  return Object.entries(state.bandwidth)
    .map(([deviceId, bw]) => ({ deviceId, color: deviceColor(state.deviceOrder, deviceId), trace: bw.trace, estimatedUp: bw.estimatedUp }))
    .sort((a, b) => a.deviceId.localeCompare(b.deviceId));
}

export interface LoadValue { atMs: number; value: number }
export interface LoadSeries {
  deviceId: string;
  color: string;
  /** Each line holds only the points that carried its figure: no point, no line (never zeros). */
  queuedMs: LoadValue[];
  uplinkBacklogMs: LoadValue[];
  downlinkBacklogMs: LoadValue[];
  queuedStages: LoadValue[];
}

function valuesOf(points: readonly DeviceLoadPoint[], figure: Exclude<keyof DeviceLoadPoint, 'atMs'>): LoadValue[] {
  const values: LoadValue[] = [];
  for (const p of points) {
    const value = p[figure];
    if (value !== null) values.push({ atMs: p.atMs, value });
  }
  return values;
}

/** Per device, its queue (ms of placed work, and stages the device holds) and its link backlogs over time. */
export function loadSeries(state: DashboardState): LoadSeries[] {
  return Object.entries(state.load)
    .filter(([, points]) => points.length > 0)
    .map(([deviceId, points]) => ({
      deviceId, color: deviceColor(state.deviceOrder, deviceId),
      queuedMs: valuesOf(points, 'queuedMs'), uplinkBacklogMs: valuesOf(points, 'uplinkBacklogMs'),
      downlinkBacklogMs: valuesOf(points, 'downlinkBacklogMs'), queuedStages: valuesOf(points, 'queuedStages'),
    }))
    .sort((a, b) => a.deviceId.localeCompare(b.deviceId));
}

/** True when some device replays a bandwidth trace now (its last status carried a trace rate). */
export function tracePlaying(state: DashboardState): boolean {
  return Object.values(state.devices).some((d) => d.status.traceUpBps > 0 && d.status.state === DeviceState.DEVICE_STATE_ONLINE);
}
