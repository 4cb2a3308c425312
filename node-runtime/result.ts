/**
 * The job result a final stage sends to the origin: the model outputs, top-k, the timing
 * trace of every stage, and the energy bill per device — measured (from the trace) beside
 * predicted (from the plan). The origin adds its own waiting (idle) energy and measures
 * the end-to-end latency on its own clock.
 */
import type { LoadedModel } from '../models/index.ts';
import { JobStatus, type JobPlan, type JobResultInit, type StageTimingInit, type DeviceEnergyInit } from '../schemas/generated/edgeweave.ts';
import { encodeTensor, type TensorData } from '../schemas/tensor-codec.ts';
import { topKOf } from './model-host.ts';

export interface ResultParts {
  plan: JobPlan;
  outputs: ReadonlyMap<string, TensorData>;
  trace: readonly StageTimingInit[];
  model: LoadedModel;
  producedBy: string;
  /** Now, on the reference clock. */
  nowRefMs: number;
}

/** Measured energy per device from a trace, beside the plan's prediction. */
export function energyBill(plan: Pick<JobPlan, 'predictedEnergyJ'>, trace: readonly StageTimingInit[]): DeviceEnergyInit[] {
  const byDevice = new Map<string, { compute: number; radio: number }>();
  for (const t of trace) {
    const id = t.deviceId ?? '';
    const e = byDevice.get(id) ?? { compute: 0, radio: 0 };
    e.compute += t.computeEnergyJ ?? 0;
    e.radio += t.radioEnergyJ ?? 0;
    byDevice.set(id, e);
  }
  const ids = new Set([...Object.keys(plan.predictedEnergyJ), ...byDevice.keys()]);
  return [...ids].sort().map((deviceId) => {
    const e = byDevice.get(deviceId) ?? { compute: 0, radio: 0 };
    return { deviceId, predictedJ: plan.predictedEnergyJ[deviceId] ?? 0, computeJ: e.compute, radioJ: e.radio, idleJ: 0, measuredJ: e.compute + e.radio };
  });
}

export function buildJobResult(parts: ResultParts): JobResultInit {
  const { plan, outputs, trace, model } = parts;
  const tensors = plan.outputs.flatMap((name) => {
    const t = outputs.get(name);
    return t ? [encodeTensor(t, { name })] : [];
  });
  const first = plan.outputs[0] !== undefined ? outputs.get(plan.outputs[0]) : undefined;
  return {
    jobId: plan.jobId,
    attempt: plan.attempt,
    status: JobStatus.JOB_STATUS_OK,
    outputs: tensors,
    topK: first && plan.topK > 0 ? topKOf(model, first, plan.topK) : [],
    latencyMs: plan.submittedAtMs > 0 ? parts.nowRefMs - plan.submittedAtMs : 0,
    predictedLatencyMs: plan.predictedLatencyMs,
    trace: [...trace],
    energy: energyBill(plan, trace),
    algorithm: plan.algorithm,
    placement: placementOf(plan),
    producedBy: parts.producedBy,
    finishedAtMs: parts.nowRefMs,
  };
}

/** Where each task ran: the plan's placement, or (a plan sent without it) its stages' tasks and devices. */
export function placementOf(plan: JobPlan): Record<string, string> {
  if (Object.keys(plan.placement).length > 0) return plan.placement;
  const out: Record<string, string> = {};
  for (const s of plan.stages) for (const t of s.taskIds) out[t] = s.deviceId;
  return out;
}
