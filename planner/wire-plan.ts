/**
 * A core Plan as the wire's JobPlan: stages with where their inputs come from and where
 * their outputs go, joins pinned to one executor, model outputs gathered on one final stage,
 * and the first messages that start the job (inline input data, and triggers for stages
 * that read data their device holds). Pure.
 */
import { Encoding, type JobPlanInit, type JobRequest, type StageSpecInit, type StageSourceInit, type RouteInit, type StageInputInit, type JobInputInit, type JobPlan } from '../schemas/generated/edgeweave.ts';
import type { CutEncoding, Plan } from './core/types.ts';

const ENCODING: Record<CutEncoding, Encoding> = {
  float32: Encoding.ENCODING_RAW, float16: Encoding.ENCODING_FLOAT16, int8: Encoding.ENCODING_INT8, uint8: Encoding.ENCODING_UINT8,
};

export interface WirePlanContext {
  request: JobRequest;
  attempt: number;
  plannerId: string;
  /** Live executor ids per device, in the order the planner counted them (worker index -> id). */
  workers: ReadonlyMap<string, readonly string[]>;
  /** The model planned: its id and content hash. */
  model: { id: string; sha256: string };
  /** Reference (planner) clock at submission. */
  submittedAtMs: number;
  inputTaskIds: readonly string[];
  outputTaskIds: readonly string[];
  denseShards: Record<string, number>;
}

export interface WirePlan {
  plan: JobPlanInit;
  /** device id -> its stage ids. */
  devices: Map<string, string[]>;
}

/** Which input task each JobInput feeds (an empty task id means the model's only input). */
export function inputsByTask(request: JobRequest, inputTaskIds: readonly string[]): Map<string, JobRequest['inputs'][number]> {
  const out = new Map<string, JobRequest['inputs'][number]>();
  for (const input of request.inputs) {
    const task = input.taskId !== '' ? input.taskId : inputTaskIds.length === 1 ? inputTaskIds[0]! : '';
    if (task !== '') out.set(task, input);
  }
  return out;
}

export function toWirePlan(core: Plan, ctx: WirePlanContext): WirePlan {
  const { request } = ctx;
  const inputs = inputsByTask(request, ctx.inputTaskIds);
  const workerId = (device: string, index: number): string => {
    const list = ctx.workers.get(device) ?? [];
    return list[index] ?? list[0] ?? '';
  };
  const stages: StageSpecInit[] = core.stages.map((s) => {
    const sources: StageSourceInit[] = s.inputs.map((i) => {
      const e = core.edges[i]!;
      return { tensor: e.tensor, fromDevice: e.fromDevice, fromStage: e.fromStage, encoding: ENCODING[e.encoding] };
    });
    const localInputs: JobInputInit[] = [];
    for (const task of s.tasks) {
      if (!ctx.inputTaskIds.includes(task)) continue;
      const input = inputs.get(task);
      if (input?.source === 'sourceDevice') {
        sources.push({ tensor: task, fromDevice: s.device, fromStage: '', encoding: Encoding.ENCODING_RAW });
        localInputs.push({ taskId: task, sourceDevice: input.sourceDevice ?? s.device, sourceKey: input.sourceKey });
      } else if (input?.source === 'held' && s.device === request.originDevice) {
        // The origin's device holds the data: its stage reads it there.
        sources.push({ tensor: task, fromDevice: s.device, fromStage: '', encoding: Encoding.ENCODING_RAW });
        localInputs.push({ taskId: task, held: input.held ?? null });
      } else {
        // Sent by the origin's device to the stage that takes it (an origin that does not run the model).
        sources.push({ tensor: task, fromDevice: request.originDevice, fromStage: '', encoding: (input?.held ?? input?.tensor)?.encoding ?? Encoding.ENCODING_RAW });
      }
    }
    const outputs: RouteInit[] = s.outputs.map((i) => {
      const e = core.edges[i]!;
      return { tensor: e.tensor, toDevice: e.toDevice, toStage: e.toStage, encoding: ENCODING[e.encoding], toWorker: '' };
    });
    const p = { readyMs: s.readyMs, startMs: s.startMs, transferInMs: s.transferInMs, computeMs: s.computeMs, finishMs: s.finishMs, energyJ: s.energyJ };
    return { stageId: s.id, deviceId: s.device, taskIds: s.tasks, inputs: sources, outputs, final: s.final, worker: '', predicted: p, localInputs };
  });
  const byId = new Map(stages.map((s) => [s.stageId!, s]));
  const coreById = new Map(core.stages.map((s) => [s.id, s]));

  // One final stage gathers every model output and sends the result.
  const finals = stages.filter((s) => s.final);
  if (finals.length > 1) {
    const collector = finals.reduce((a, b) => ((coreById.get(b.stageId!)?.finishMs ?? 0) > (coreById.get(a.stageId!)?.finishMs ?? 0) ? b : a));
    for (const f of finals) {
      if (f === collector) continue;
      f.final = false;
      for (const r of core.results.filter((x) => x.fromStage === f.stageId)) {
        f.outputs!.push({ tensor: r.tensor, toDevice: collector.deviceId!, toStage: collector.stageId!, encoding: Encoding.ENCODING_RAW, toWorker: '' });
        collector.inputs!.push({ tensor: r.tensor, fromDevice: f.deviceId!, fromStage: f.stageId!, encoding: Encoding.ENCODING_RAW });
      }
    }
  }

  // A stage that waits on more than one producer is pinned to one executor.
  for (const s of stages) {
    const producers = new Set(s.inputs!.map((i) => (i.fromStage !== '' ? i.fromStage : `data@${i.fromDevice}`)));
    if (producers.size > 1) s.worker = workerId(s.deviceId!, coreById.get(s.stageId!)?.worker ?? 0);
  }
  for (const s of stages) for (const r of s.outputs!) r.toWorker = byId.get(r.toStage!)?.worker ?? '';

  const devices = new Map<string, string[]>();
  for (const s of stages) {
    const list = devices.get(s.deviceId!) ?? [];
    list.push(s.stageId!);
    devices.set(s.deviceId!, list);
  }
  // An origin that sends its data on to other devices' stages gets the plan too (with no stage of its own).
  const sendsData = stages.some((s) => s.inputs!.some((i) => i.fromStage === '' && i.fromDevice === request.originDevice && s.deviceId !== request.originDevice));
  if (sendsData && !devices.has(request.originDevice)) devices.set(request.originDevice, []);
  const objective = request.objective;
  const plan: JobPlanInit = {
    jobId: request.jobId, attempt: ctx.attempt, originDevice: request.originDevice,
    model: { name: ctx.model.id !== '' ? ctx.model.id : core.modelId, sha256: ctx.model.sha256 },
    algorithm: core.algorithm, objective: objective ?? null, stages, placement: core.placement,
    predictedLatencyMs: core.predictedLatencyMs, predictedEnergyJ: core.predictedEnergyJ,
    planningMs: core.diagnostics.planningMs, plannerId: ctx.plannerId, plannedAtMs: Date.now(),
    outputs: [...ctx.outputTaskIds], fused: request.fused, topK: request.topK, allowLossy: request.allowLossy,
    denseShards: ctx.denseShards, submittedAtMs: ctx.submittedAtMs, timeoutMs: request.timeoutMs,
  };
  return { plan, devices };
}

/**
 * The plan cut down to `stageId` and the stages it sends to: what a stage input must carry for
 * its receiver to run it, and to send its outputs on, should it come before its assignment.
 */
export function planSlice(plan: JobPlan, stageId: string): JobPlan {
  const stage = plan.stages.find((s) => s.stageId === stageId);
  const keep = new Set([stageId, ...(stage?.outputs.map((r) => r.toStage) ?? [])]);
  return { ...plan, tasks: [], stages: plan.stages.filter((s) => keep.has(s.stageId)) };
}

/**
 * The messages that start a job: an empty trigger to each stage that reads data held on its
 * own device (the origin's job data, a device's data source). No job data passes here.
 */
export function initialInputs(plan: JobPlan): Array<{ deviceId: string; worker: string; message: StageInputInit }> {
  const out: Array<{ deviceId: string; worker: string; message: StageInputInit }> = [];
  for (const stage of plan.stages) {
    if (stage.localInputs.length === 0) continue;
    const message = { jobId: plan.jobId, attempt: plan.attempt, stageId: stage.stageId, plan: planSlice(plan, stage.stageId), fromStage: '', sentAtMs: Date.now(), fromDevice: stage.deviceId, tensors: [] };
    out.push({ deviceId: stage.deviceId, worker: stage.worker, message });
  }
  return out;
}
