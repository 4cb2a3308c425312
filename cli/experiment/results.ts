/**
 * An experiment's raw results: one row per job (sweep or trajectory), written as CSV (one
 * header line, fixed columns) and JSON (the scenario, the rows, every job's full record).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Scenario } from './scenario.ts';
import type { HistoryRecord } from '../../node-runtime/history.ts';

/** What every job row carries, whichever the experiment. */
export interface JobRow {
  /** The planner algorithm (sweep) or strategy (trajectory). */
  algorithm: string;
  /** Index of the job within its cell (sweep) or along the drive (trajectory). */
  job: number;
  status: string;
  latencyMs: number;
  predictedMs: number;
  /** The origin car's energy for the job, measured and predicted. */
  carEnergyJ: number;
  carPredictedJ: number;
  /** The plan's prediction for running everything on the car. */
  predictedLocalMs: number;
  /** Local latency over this job's latency (filled in at the end; 0 for a failed job). */
  speedup: number;
  placement: string;
  /** Tasks placed off the car. */
  offloadedTasks: number;
  jobId: string;
  submittedAt: string;
  error: string;
}

export interface SweepRow extends JobRow {
  model: string;
  speeds: string;
  link: string;
  upMbps: number;
  downMbps: number;
  rttMs: number;
  radio: string;
}

export interface TrajectoryRow extends JobRow {
  model: string;
  /** The car that ran this strategy. */
  device: string;
  /** Seconds of drive since the drive started, when the job was submitted. */
  driveTimeS: number;
  /** Position in the (cut) trace at submission, seconds of drive. */
  tracePositionS: number;
  /** The car's uplink at submission, from the trace. */
  uplinkMbps: number;
  /** The rate the car had last announced in its status (what the planner knew). */
  announcedUplinkMbps: number;
}

export interface TraceClock {
  device: string;
  epochMs: number;
  uncertaintyMs: number;
  observations: number;
  inconsistent: number;
}

export interface ExperimentResult {
  kind: Scenario['kind'];
  scenario: Scenario;
  startedAt: string;
  durationS: number;
  brokerUrl: string;
  interrupted: boolean;
  rows: SweepRow[] | TrajectoryRow[];
  /** Full records of every job (stages, energy per device). */
  jobs: HistoryRecord[];
  /** Trajectory: where each car's trace started, as estimated from its statuses. */
  traceClocks?: TraceClock[];
  /** Trajectory: the replayed (cut) trace's loop, seconds of drive. */
  driveS?: number;
  /** Trajectory: the replayed trace, [seconds of drive, uplink Mbps] per sample. */
  driveTrace?: Array<[number, number]>;
}

type Column<R> = [string, (r: R) => string | number];

const COMMON_HEAD: Array<Column<JobRow>> = [['algorithm', (r) => r.algorithm], ['job', (r) => r.job]];
const COMMON_TAIL: Array<Column<JobRow>> = [
  ['status', (r) => r.status], ['latency_ms', (r) => round(r.latencyMs, 2)], ['predicted_ms', (r) => round(r.predictedMs, 2)],
  ['car_energy_j', (r) => round(r.carEnergyJ, 5)], ['car_predicted_j', (r) => round(r.carPredictedJ, 5)],
  ['predicted_local_ms', (r) => round(r.predictedLocalMs, 2)], ['speedup', (r) => round(r.speedup, 4)],
  ['placement', (r) => r.placement], ['offloaded_tasks', (r) => r.offloadedTasks], ['job_id', (r) => r.jobId],
  ['submitted_at', (r) => r.submittedAt], ['error', (r) => r.error],
];

export const SWEEP_COLUMNS: Array<Column<SweepRow>> = [
  ['model', (r) => r.model], ['speeds', (r) => r.speeds], ['link', (r) => r.link], ['up_mbps', (r) => r.upMbps],
  ['down_mbps', (r) => r.downMbps], ['rtt_ms', (r) => r.rttMs], ['radio', (r) => r.radio], ...COMMON_HEAD, ...COMMON_TAIL,
];

export const TRAJECTORY_COLUMNS: Array<Column<TrajectoryRow>> = [
  ['model', (r) => r.model], ['strategy', (r) => r.algorithm], ['device', (r) => r.device], ['job', (r) => r.job],
  ['drive_time_s', (r) => round(r.driveTimeS, 3)], ['trace_position_s', (r) => round(r.tracePositionS, 3)],
  ['uplink_mbps', (r) => round(r.uplinkMbps, 4)], ['announced_uplink_mbps', (r) => round(r.announcedUplinkMbps, 4)], ...COMMON_TAIL,
];

function round(v: number, digits: number): number {
  return Number.isFinite(v) ? Number(v.toFixed(digits)) : 0;
}

function csvCell(v: string | number): string {
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv<R>(columns: Array<Column<R>>, rows: readonly R[]): string {
  const lines = [columns.map(([h]) => h).join(',')];
  for (const r of rows) lines.push(columns.map(([, get]) => csvCell(get(r))).join(','));
  return lines.join('\n') + '\n';
}

export function resultsCsv(result: ExperimentResult): string {
  return result.kind === 'sweep' ? toCsv(SWEEP_COLUMNS, result.rows as SweepRow[]) : toCsv(TRAJECTORY_COLUMNS, result.rows as TrajectoryRow[]);
}

export function writeResults(result: ExperimentResult, outDir: string): { csv: string; json: string } {
  const csv = join(outDir, 'results.csv');
  const json = join(outDir, 'results.json');
  writeFileSync(csv, resultsCsv(result));
  writeFileSync(json, JSON.stringify(result, null, 2) + '\n');
  return { csv, json };
}

export function mean(xs: readonly number[]): number {
  return xs.length > 0 ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
}

export function percentile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * (s.length - 1) + 0.5))]!;
}

/** Speed-up of a group of jobs: their mean local baseline over their mean latency (ratio of means; NaN without a successful job). */
export function groupSpeedup(rows: readonly JobRow[]): number {
  const good = rows.filter((r) => r.status === 'ok' && r.speedup > 0);
  const latency = good.reduce((s, r) => s + r.latencyMs, 0);
  return good.length > 0 && latency > 0 ? good.reduce((s, r) => s + r.latencyMs * r.speedup, 0) / latency : NaN;
}

/**
 * Speed-up over local of every row: the mean measured latency of `local` jobs in the same
 * group (same cell of a sweep, the whole drive of a trajectory) over the row's latency; the
 * plan's predicted local latency where no local job was measured.
 */
export function fillSpeedups<R extends JobRow>(rows: R[], groupOf: (r: R) => string): void {
  const localMs = new Map<string, number[]>();
  for (const r of rows) {
    if (r.algorithm !== 'local' || r.status !== 'ok') continue;
    const g = groupOf(r);
    localMs.set(g, [...(localMs.get(g) ?? []), r.latencyMs]);
  }
  for (const r of rows) {
    const measured = mean(localMs.get(groupOf(r)) ?? []);
    const base = Number.isFinite(measured) ? measured : r.predictedLocalMs;
    r.speedup = r.status === 'ok' && r.latencyMs > 0 && base > 0 ? base / r.latencyMs : 0;
  }
}
