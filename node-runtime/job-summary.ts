/** A job's outcome as a flat record: what `edgeweave run` prints, the demo tabulates and the history keeps. */
import { JobStatus, ObjectiveKind, type JobResultInit, type Objective } from '../schemas/generated/edgeweave.ts';
import type { JobOutcome } from './client.ts';
import type { HistoryRecord } from './history.ts';

const STATUS: Record<JobStatus, string> = {
  [JobStatus.JOB_STATUS_UNSPECIFIED]: 'unknown', [JobStatus.JOB_STATUS_OK]: 'ok', [JobStatus.JOB_STATUS_FAILED]: 'failed',
  [JobStatus.JOB_STATUS_TIMEOUT]: 'timeout', [JobStatus.JOB_STATUS_REJECTED]: 'rejected',
};

export function objectiveName(o: Objective | null | undefined): string {
  switch (o?.kind ?? ObjectiveKind.OBJECTIVE_UNSPECIFIED) {
    case ObjectiveKind.OBJECTIVE_ENERGY: return 'energy';
    case ObjectiveKind.OBJECTIVE_ENERGY_TOTAL: return 'energy-total';
    case ObjectiveKind.OBJECTIVE_WEIGHTED: return 'weighted';
    default: return 'latency';
  }
}

export function summarizeOutcome(outcome: JobOutcome, origin: string, model: string, originIdleW: number | undefined): HistoryRecord {
  const r = outcome.result;
  const billed = originIdleW !== undefined && r.status === JobStatus.JOB_STATUS_OK ? withOriginIdleEnergy(r, origin, originIdleW, outcome.latencyMs) : r;
  const submittedRef = outcome.submittedAtMs + outcome.clockOffsetMs;
  const energyJ: HistoryRecord['energyJ'] = {};
  for (const e of billed.energy ?? []) energyJ[e.deviceId ?? ''] = { predicted: e.predictedJ ?? 0, measured: e.measuredJ ?? 0 };
  const record: HistoryRecord = {
    jobId: r.jobId, origin, model, algorithm: r.algorithm || outcome.plan?.algorithm || '', objective: objectiveName(outcome.plan?.objective),
    status: STATUS[r.status] ?? 'unknown', submittedAt: new Date(outcome.submittedAtMs).toISOString(),
    latencyMs: r.status === JobStatus.JOB_STATUS_OK ? outcome.latencyMs : 0,
    predictedLatencyMs: r.predictedLatencyMs || outcome.plan?.predictedLatencyMs || 0,
    placement: { ...r.placement },
    stages: r.trace.map((t) => ({
      stageId: t.stageId, deviceId: t.deviceId, tasks: t.taskIds.length, waitMs: t.waitMs, transferInMs: t.transferInMs, computeMs: t.computeMs,
      predictedComputeMs: t.predicted?.computeMs ?? 0, predictedFinishMs: t.predicted?.finishMs ?? 0, finishMs: t.endAtMs - submittedRef,
    })),
    energyJ,
    top: r.topK.map((c) => ({ index: c.index, label: c.label, probability: c.probability })),
  };
  if (r.error) record.error = `${r.error.code}: ${r.error.message}`;
  if (r.lossyMaxAbsDeviation > 0 || r.lossyMaxRelDeviation > 0) record.lossy = { maxAbs: r.lossyMaxAbsDeviation, maxRel: r.lossyMaxRelDeviation };
  return record;
}

/** Adds the origin's waiting energy to a result's bill: idle power while it neither computed nor sent. */
export function withOriginIdleEnergy(result: JobResultInit, origin: string, idleW: number, latencyMs: number): JobResultInit {
  const energy = (result.energy ?? []).map((e) => ({ ...e }));
  let entry = energy.find((e) => e.deviceId === origin);
  if (!entry) {
    entry = { deviceId: origin, predictedJ: 0, measuredJ: 0, computeJ: 0, radioJ: 0, idleJ: 0 };
    energy.push(entry);
  }
  const busyMs = (result.trace ?? []).filter((t) => t.deviceId === origin).reduce((s, t) => s + (t.computeMs ?? 0), 0);
  entry.idleJ = (idleW * Math.max(0, latencyMs - busyMs)) / 1000;
  entry.measuredJ = (entry.computeJ ?? 0) + (entry.radioJ ?? 0) + entry.idleJ;
  return { ...result, energy };
}
