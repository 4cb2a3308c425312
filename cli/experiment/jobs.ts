/**
 * Submitting one experiment job and turning its outcome into a row: seeded inputs per job
 * (`pixels:<seed + index>`), the fused DAG, the car's energy, the placement in brief.
 */
import type { JobClient, JobOutcome } from '../../node-runtime/client.ts';
import { buildJobInputs } from '../../node-runtime/job-inputs.ts';
import { summarizeOutcome } from '../../node-runtime/job-summary.ts';
import type { HistoryRecord } from '../../node-runtime/history.ts';
import { localModelArgument, type ModelArgument } from '../../node-runtime/model-argument.ts';
import { deviceEnergy, placementSummary } from '../demo/system.ts';
import type { JobRow } from './results.ts';
import type { TaskGraph } from '../../schemas/graph.ts';
import type { JobInputInit, JobRequestInit, ModelRefInit, TaskSpecInit } from '../../schemas/generated/edgeweave.ts';
import { toEdgeweaveError } from '../../schemas/errors.ts';

/**
 * Job inputs by (model, seed), built once: the same job index gets the same frame in every run.
 * A model is a zoo name or a model.json path; jobs name a path's model by its id and hash.
 */
export class InputCache {
  private readonly models = new Map<string, Promise<ModelArgument>>();
  private readonly inputs = new Map<string, JobInputInit[]>();

  private model(model: string): Promise<ModelArgument> {
    let m = this.models.get(model);
    if (!m) this.models.set(model, (m = localModelArgument(model, { fused: true })));
    return m;
  }

  async graph(model: string): Promise<TaskGraph> {
    return (await this.model(model)).graph;
  }

  /** `model` as runJob takes it: its name in rows, and the reference jobs carry. */
  async job(model: string): Promise<{ label: string; ref: ModelRefInit }> {
    return { label: model, ref: (await this.model(model)).ref };
  }

  async inputsFor(model: string, seed: number): Promise<JobInputInit[]> {
    const key = `${model}:${seed}`;
    let v = this.inputs.get(key);
    if (!v) {
      const m = await this.model(model);
      v = await buildJobInputs(m.graph, [`pixels:${seed}`], m.preprocessing);
      this.inputs.set(key, v);
      if (this.inputs.size > 64) this.inputs.delete(this.inputs.keys().next().value as string);
    }
    return v;
  }
}

/** The job DAG with every task pinned where `placement` put it (a fixed plan, reused). */
export function pinnedTasks(graph: TaskGraph, placement: Readonly<Record<string, string>>): TaskSpecInit[] {
  return graph.tasks.map((t) => ({
    id: t.id, kind: t.kind, preds: t.preds, succs: t.succs, outputShape: t.outputShape, outputBytes: t.outputBytes, flops: t.flops,
    paramBytes: t.paramBytes, activationBytes: t.activationBytes, layers: t.layers, pinnedDevice: placement[t.id] ?? '',
  }));
}

export interface SubmittedJob {
  outcome: JobOutcome | undefined;
  record: HistoryRecord;
  row: JobRow;
}

/** Submits a job and waits for its outcome; a failure to submit becomes a failed row, never a throw. */
export async function runJob(
  client: JobClient, model: { label: string; ref: ModelRefInit }, request: Omit<JobRequestInit, 'originDevice' | 'model'>, label: { algorithm: string; job: number },
): Promise<SubmittedJob> {
  const submittedAtMs = Date.now();
  let outcome: JobOutcome | undefined;
  let record: HistoryRecord;
  try {
    outcome = await client.submit({ ...request, model: model.ref, fused: true, topK: request.topK ?? 3 });
    record = summarizeOutcome(outcome, client.origin, model.label, client.originStatus?.power?.idleW);
  } catch (err) {
    const e = toEdgeweaveError(err, 'E_EXECUTION');
    record = {
      jobId: request.jobId ?? '', origin: client.origin, model: model.label, algorithm: label.algorithm, objective: 'latency', status: 'failed',
      error: `${e.code}: ${e.message}`, submittedAt: new Date(submittedAtMs).toISOString(), latencyMs: 0, predictedLatencyMs: 0,
      placement: {}, stages: [], energyJ: {},
    };
  }
  const energy = deviceEnergy(record, client.origin);
  const row: JobRow = {
    algorithm: label.algorithm, job: label.job, status: record.status, latencyMs: record.latencyMs, predictedMs: record.predictedLatencyMs,
    carEnergyJ: energy.measured, carPredictedJ: energy.predicted, predictedLocalMs: outcome?.plan?.predictedLocalLatencyMs ?? 0,
    speedup: 0, placement: placementSummary(record), offloadedTasks: Object.values(record.placement).filter((d) => d !== client.origin).length,
    jobId: record.jobId, submittedAt: record.submittedAt, error: record.error ?? '',
  };
  return { outcome, record, row };
}
