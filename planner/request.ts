/** From a wire JobRequest to what the planner core takes, and back: pure helpers of the planner service. */
import { Encoding, ObjectiveKind, type JobRequest } from '../schemas/generated/edgeweave.ts';
import type { TaskGraph, TaskNode } from '../schemas/graph.ts';
import type { Constraints, Objective, Plan } from './core/types.ts';

/** Attempt numbers reserved per submission: attempt = resubmission x this + re-plans + 1 (PROTOCOL.md, "Attempts"). */
export const ATTEMPTS_PER_SUBMISSION = 256;

export function graphOptions(request: JobRequest): { fused: boolean; denseShards?: Record<string, number> } {
  return Object.keys(request.denseShards).length > 0 ? { fused: request.fused, denseShards: { ...request.denseShards } } : { fused: request.fused };
}

/** A job DAG given on the wire, as the core's TaskGraph (the core checks it). */
export function graphFromSpecs(modelId: string, request: JobRequest): TaskGraph {
  const tasks: TaskNode[] = request.tasks.map((t) => ({
    id: t.id, kind: t.kind, preds: t.preds, succs: t.succs, outputShape: t.outputShape, outputBytes: t.outputBytes,
    flops: t.flops, paramBytes: t.paramBytes, activationBytes: t.activationBytes, layers: t.layers,
    ...(t.pinnedDevice !== '' ? { pinned: t.pinnedDevice } : {}),
  }));
  const inputs = tasks.filter((t) => t.preds.length === 0).map((t) => t.id);
  const outputs = tasks.filter((t) => t.succs.length === 0).map((t) => t.id);
  return { modelId, tasks, inputs, outputs };
}

export function objectiveOf(request: JobRequest): Objective | undefined {
  const o = request.objective;
  switch (o?.kind ?? ObjectiveKind.OBJECTIVE_UNSPECIFIED) {
    case ObjectiveKind.OBJECTIVE_LATENCY: return { kind: 'latency' };
    case ObjectiveKind.OBJECTIVE_ENERGY: return { kind: 'energy' };
    case ObjectiveKind.OBJECTIVE_ENERGY_TOTAL: return { kind: 'energy-total' };
    case ObjectiveKind.OBJECTIVE_WEIGHTED: return { kind: 'weighted', latencyWeight: o?.latencyWeight ?? 1, energyWeight: o?.energyWeight ?? 1 };
    default: return undefined;
  }
}

export function constraintsOf(request: JobRequest): Constraints {
  const o = request.objective;
  const c: Constraints = {};
  if (o && o.deadlineMs > 0) c.deadlineMs = o.deadlineMs;
  if (o && o.energyBudgetJ > 0) c.energyBudgetJ = o.energyBudgetJ;
  return c;
}

/** Input data travels as 8-bit pixels only when it came that way (lossless) or loss is allowed. */
export function inputAsUint8(request: JobRequest): boolean {
  return request.allowLossy || request.inputs.some((i) => (i.held ?? i.tensor)?.encoding === Encoding.ENCODING_UINT8);
}

/** The input task each JobInput feeds (an empty task id means the model's only input). */
export function inputTaskOf(input: JobRequest['inputs'][number], graph: TaskGraph): string {
  return input.taskId !== '' ? input.taskId : graph.inputs.length === 1 ? graph.inputs[0]! : '';
}

/** The plan with every predicted time moved `ms` later (the dispatch before the first stage). */
export function shiftPlan(plan: Plan, ms: number): Plan {
  if (ms <= 0) return plan;
  return {
    ...plan,
    predictedLatencyMs: plan.predictedLatencyMs + ms,
    tasks: plan.tasks.map((t) => ({ ...t, readyMs: t.readyMs + ms, startMs: t.startMs + ms, finishMs: t.finishMs + ms })),
    stages: plan.stages.map((s) => ({ ...s, readyMs: s.readyMs + ms, startMs: s.startMs + ms, finishMs: s.finishMs + ms })),
    edges: plan.edges.map((e) => ({ ...e, sendMs: e.sendMs + ms, arriveMs: e.arriveMs + ms })),
    results: plan.results.map((r) => ({ ...r, sendMs: r.sendMs + ms, arriveMs: r.arriveMs + ms })),
  };
}
