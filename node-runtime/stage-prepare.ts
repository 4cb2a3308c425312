/**
 * A stage of a plan made ready to run on this executor, once per (origin, job, attempt, stage):
 * checked against this device (the stage is ours, for this incarnation), compiled, and what each
 * run needs worked out ahead: the producers it waits for, the model outputs it passes through,
 * where each output goes, the topics it reports on. Handling a stage input is then a lookup, its
 * tensors, and a call (see stage-book.ts, which keeps these, and executor.ts, which uses them).
 */
import type { LoadedModel, Stage } from '../models/index.ts';
import type { Encoding, JobPlan, StageSpec } from '../schemas/generated/edgeweave.ts';
import { EdgeweaveError, toEdgeweaveError } from '../schemas/errors.ts';
import { topics, isValidId } from '../schemas/topics.ts';
import { expectedProducers } from './join-buffer.ts';
import { jobKey, stageKey } from './ledger.ts';
import type { CompiledStage } from './model-host.ts';

/** The executor a stage is prepared for. */
export interface StageHome {
  deviceId: string;
  workerId: string;
  /** The device's incarnation: stages planned for another one are refused. */
  incarnation?: string | undefined;
}

/** The output messages of a stage: one per receiving stage, with the tensors it takes. */
export interface OutputRoute {
  toStage: string;
  topic: string;
  /** The receiving stage is on another device: the message crosses this device's uplink. */
  crosses: boolean;
  tensors: ReadonlyArray<{ name: string; encoding: Encoding }>;
}

interface PreparedBase {
  /** The stage's ledger key (ledger.ts stageKey). */
  key: string;
  /** The job's ledger key (ledger.ts jobKey). */
  job: string;
  plan: JobPlan;
  spec: StageSpec;
  /** The producers the stage waits for, one message from each. */
  producers: ReadonlySet<string>;
}

/** A stage pinned to another executor of this device: its inputs are handed on to that one. */
export interface HandedOnStage extends PreparedBase {
  runs: 'elsewhere';
  /** That executor's inbox. */
  topic: string;
}

/** A stage this executor runs. */
export interface RunnableStage extends PreparedBase {
  runs: 'here';
  /** The compiled stage, or why it cannot be compiled (reported as the stage's failure when it is due to run). */
  compiled: { ok: true; model: LoadedModel; stage: Stage } | { ok: false; error: unknown };
  /** Tensors the stage must receive. */
  required: readonly string[];
  /** Model outputs computed by other stages, which this stage receives and hands on into the result. */
  passThrough: readonly string[];
  /** Where its outputs go, or why they cannot go there (a route to an id that cannot be a topic level). */
  routes: readonly OutputRoute[] | EdgeweaveError;
  /** Where the job's stage reports go; undefined when the plan names no valid origin or job (nobody to report to). */
  reportTopic: string | undefined;
  resultTopic: string | undefined;
}

export type PreparedStage = HandedOnStage | RunnableStage;

/** Why a stage input is refused, as a value. */
export type StageCheck = { ok: true; spec: StageSpec } | { ok: false; error: EdgeweaveError };

/**
 * The stage a stage input names, when this device may run it: the stage is in the input's plan,
 * the plan is of the input's job and attempt, and the stage is placed on this device (as it is
 * now: a device that restarted since refuses it).
 */
export function checkStage(plan: JobPlan, input: { jobId: string; attempt: number; stageId: string }, home: StageHome): StageCheck {
  const { jobId, attempt, stageId } = input;
  const spec = plan.stages.find((s) => s.stageId === stageId);
  if (!spec) return { ok: false, error: new EdgeweaveError('E_STAGE', `stage input for ${jobId}/${stageId} names no stage of its plan`) };
  if (plan.jobId !== jobId || plan.attempt !== attempt) return { ok: false, error: new EdgeweaveError('E_STAGE', 'stage input and its plan disagree on job or attempt') };
  return checkPlacement(spec, home);
}

/** Refuses a stage placed on another device, or on an earlier run of this one. */
export function checkPlacement(spec: StageSpec, home: StageHome): StageCheck {
  if (spec.deviceId !== home.deviceId) return { ok: false, error: new EdgeweaveError('E_STAGE', `stage ${spec.stageId} belongs to device ${spec.deviceId}, not ${home.deviceId}`) };
  if (spec.deviceIncarnation !== '' && home.incarnation !== undefined && spec.deviceIncarnation !== home.incarnation) {
    return { ok: false, error: new EdgeweaveError('E_STALE_ATTEMPT', `stage ${spec.stageId} was planned for an earlier run of ${home.deviceId}, which restarted since`) };
  }
  return { ok: true, spec };
}

/**
 * Prepares stage `spec` of `plan` (checked with `checkStage` or `checkPlacement`) for `home`:
 * compiles it with `compile` unless it is pinned to another executor. A stage that cannot be
 * compiled is prepared all the same, with the reason, so its failure is reported like any other.
 */
export function prepareStage(plan: JobPlan, spec: StageSpec, home: StageHome, compile: (plan: JobPlan, taskIds: readonly string[]) => CompiledStage): PreparedStage {
  const base: PreparedBase = {
    key: stageKey(plan.originDevice, plan.jobId, plan.attempt, spec.stageId),
    job: jobKey(plan.originDevice, plan.jobId),
    plan, spec, producers: expectedProducers(spec),
  };
  if (spec.worker !== '' && spec.worker !== home.workerId) return { ...base, runs: 'elsewhere', topic: topics.workerInbox(home.deviceId, spec.worker) };
  let compiled: RunnableStage['compiled'];
  try {
    compiled = { ok: true, ...compile(plan, spec.taskIds) };
  } catch (error) {
    compiled = { ok: false, error };
  }
  const inside = new Set(spec.taskIds);
  const reportable = isValidId(plan.originDevice) && isValidId(plan.jobId);
  return {
    ...base, runs: 'here', compiled,
    required: [...new Set(spec.inputs.map((s) => s.tensor))],
    passThrough: plan.outputs.filter((name) => !inside.has(name)),
    routes: orError(() => routesOf(spec, home.deviceId)),
    reportTopic: reportable ? topics.jobReport(plan.originDevice, plan.jobId) : undefined,
    resultTopic: reportable ? topics.jobResult(plan.originDevice, plan.jobId) : undefined,
  };
}

/** What `make` returns, or the error it throws. */
function orError<T>(make: () => T): T | EdgeweaveError {
  try {
    return make();
  } catch (err) {
    return toEdgeweaveError(err, 'E_TOPIC');
  }
}

/** A stage's routes grouped by receiving stage, in the order the plan lists them. */
function routesOf(spec: StageSpec, deviceId: string): OutputRoute[] {
  const byStage = new Map<string, OutputRoute & { tensors: Array<{ name: string; encoding: Encoding }> }>();
  for (const route of spec.outputs) {
    let out = byStage.get(route.toStage);
    if (!out) {
      const topic = route.toWorker !== '' ? topics.workerInbox(route.toDevice, route.toWorker) : topics.deviceInbox(route.toDevice);
      out = { toStage: route.toStage, topic, crosses: route.toDevice !== deviceId, tensors: [] };
      byStage.set(route.toStage, out);
    }
    out.tensors.push({ name: route.tensor, encoding: route.encoding });
  }
  return [...byStage.values()];
}
