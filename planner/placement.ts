/**
 * Where a job's next attempt runs: the live devices that hold its model (less those it must
 * avoid), planned by the core with the job's algorithm, objective, constraints and pins, and
 * the all-on-the-origin baseline its speed-up is measured against. Decides, without side
 * effects, whether the attempt is planned, waits for devices to come back, or is refused.
 */
import { planJob } from './core/registry.ts';
import type { CostModelOptions, DeviceSpec, Objective, Plan, PlanRequest } from './core/types.ts';
import { holdsModel, type DeviceRegistry } from './device-registry.ts';
import { spentMs, type JobRecord } from './job-book.ts';
import { constraintsOf, inputAsUint8, inputTaskOf, objectiveOf, shiftPlan } from './request.ts';
import { modelLabel } from '../models/model-card.ts';
import type { ErrorCode } from '../schemas/errors.ts';

export type Placement =
  /** `core` already shifted by the dispatch delay; `localMs` the origin-only baseline (0: none). */
  | { kind: 'plan'; core: Plan; localMs: number }
  | { kind: 'wait'; reason: string }
  | { kind: 'refuse'; code: ErrorCode; message: string };

export interface PlacementDefaults {
  algorithm: string;
  objective?: Objective | undefined;
  cost?: CostModelOptions | undefined;
}

/**
 * Plans that only serve as yardsticks — everything on the origin (the speed-up baseline), the
 * same job on idle devices (whether a refusal is E_OVERLOADED or E_INFEASIBLE) — kept a few
 * seconds per origin, model and request options: under load, a planner planning every job three
 * times over spends the time the fleet needs it to plan the next ones.
 */
export class YardstickPlans {
  private readonly kept = new Map<string, { atMs: number; latencyMs: number | undefined }>();

  constructor(private readonly keepMs = 5_000) {}

  /** The latency of `plan()` under `key`, planned again once older than keepMs (undefined: no plan). */
  latency(key: string, nowMs: number, plan: () => number | undefined): number | undefined {
    const k = this.kept.get(key);
    if (k && nowMs - k.atMs < this.keepMs) return k.latencyMs;
    const latencyMs = plan();
    if (this.kept.size >= 1024) this.kept.clear();
    this.kept.set(key, { atMs: nowMs, latencyMs });
    return latencyMs;
  }
}

/** What a yardstick plan of `job` depends on besides the devices. */
function yardstickKey(kind: string, job: JobRecord, planRequest: PlanRequest): string {
  const r = job.request;
  return JSON.stringify([kind, r.originDevice, job.model.sha256 || job.model.id, r.fused, planRequest.objective, planRequest.constraints, planRequest.transport, planRequest.pins, r.denseShards]);
}

/**
 * Places `job`'s next attempt over the live devices. A new job that cannot be placed is
 * refused with the reason; a job being planned again (`again`), or one whose model was held by
 * a device lost a moment ago, waits for a device to come back (a broker restart, a link drop).
 */
export function placeAttempt(registry: DeviceRegistry, job: JobRecord, again: boolean, defaults: PlacementDefaults, dispatchMs: number, now: number, yardsticks = new YardstickPlans(0), spareShare = 0): Placement {
  const { request, graph, model } = job;
  const devices = registry.aliveIds(now)
    .map((id) => registry.get(id)!)
    .filter((r) => !request.excludeDevices.includes(r.status.deviceId) && !job.avoid.has(r.status.deviceId))
    .filter((r) => holdsModel(r.status, model));
  // The origin is a device that is gone for now (its link dropped, the broker restarted; the job
  // may be one it queued while offline): its inputs and its result live there, so the job waits.
  const originRecord = registry.get(request.originDevice);
  if (originRecord && !registry.isAlive(originRecord, now) && holdsModel(originRecord.status, model)) {
    return { kind: 'wait', reason: `the origin ${request.originDevice} is offline` };
  }
  const mayWait = (): boolean => again || registry.recentlyLost(model, now).length > 0;
  if (devices.length === 0) {
    const none = `no online device holds model ${modelLabel({ name: model.id, sha256: model.sha256 })}`;
    return mayWait() ? { kind: 'wait', reason: none } : { kind: 'refuse', code: 'E_NO_DEVICES', message: none };
  }
  const { planRequest, originIsDevice, pins } = planRequestOf(job, devices.map((r) => registry.spec(r, model, request.fused, now)), defaults);
  // A first attempt's deadline counts from its submission: what is gone of it before the plan
  // starts (the submission's way here, the dispatch to come) is not the plan's to spend. Of the
  // rest, the plan keeps `spareShare` of its prediction to spare (learning.ts: as much as keeps
  // admitted jobs from missing their deadlines): under load a plan that only just fits misses.
  const deadlineMs = planRequest.constraints?.deadlineMs;
  const gone = again || deadlineMs === undefined ? 0 : spentMs(job, now) + dispatchMs;
  const spare = again ? 0 : Math.max(0, spareShare);
  const spentWhy = (): string => `${gone.toFixed(0)} ms gone since its submission${spare > 0 ? `, ${(100 * spare).toFixed(0)}% of the plan kept to spare, as admitted jobs ran late lately` : ''}`;
  const idle = (): number | undefined => yardsticks.latency(yardstickKey('idle', job, planRequest), now, () => idleLatency(planRequest));
  if (deadlineMs !== undefined && gone >= deadlineMs) {
    return overloadedOrNot(`nothing is left of its deadline of ${deadlineMs} ms (${spentWhy()})`, dispatchMs, idle());
  }
  const budgeted = deadlineMs !== undefined && (gone > 0 || spare > 0)
    ? { ...planRequest, constraints: { ...planRequest.constraints, deadlineMs: (deadlineMs - gone) / (1 + spare) } }
    : planRequest;
  let outcome = planJob(budgeted);
  const unfit = outcome.ok ? undefined : outcome.issues[0]?.reason;
  if (again && (unfit === 'not-applicable' || unfit === 'no-device') && planRequest.algorithm !== 'auto') {
    // The strategy asked for no longer fits the devices left (no edge any more): plan for the best.
    outcome = planJob({ ...budgeted, algorithm: 'auto' });
  }
  if (!outcome.ok) {
    const first = outcome.issues[0]!;
    const message = outcome.issues.map((i) => i.message).join('; ');
    if (first.reason === 'deadline') return overloadedOrNot(budgeted !== planRequest ? `${message} left of ${deadlineMs} ms (${spentWhy()})` : message, dispatchMs, idle());
    // Devices that just dropped off (a broker restart, a link drop) may make it possible again.
    const transient = first.reason === 'pin' || first.reason === 'no-device' || first.reason === 'not-applicable' || first.code === 'E_NO_DEVICES';
    if (transient && mayWait()) return { kind: 'wait', reason: message };
    return { kind: 'refuse', code: first.code, message };
  }
  // The baseline a speed-up is measured against: everything on the origin, pins and limits aside.
  // A job planned all on the origin, with nothing pinned or constrained, is its own baseline.
  const ownBaseline = planRequest.algorithm === 'local' && Object.values(pins).every((d) => d === request.originDevice)
    && Object.keys(planRequest.constraints ?? {}).length === 0 && graph.tasks.every((t) => !t.pinned);
  const unpinned = { ...graph, tasks: graph.tasks.map(({ pinned: _pinned, ...t }) => t) };
  const baseline = originIsDevice && !ownBaseline
    ? yardsticks.latency(yardstickKey('local', job, planRequest), now, () => {
      const local = planJob({ ...planRequest, graph: unpinned, pins: {}, algorithm: 'local', constraints: {} });
      return local.ok ? local.plan.predictedLatencyMs : undefined;
    })
    : outcome.plan.predictedLatencyMs;
  const localMs = baseline !== undefined ? baseline + dispatchMs : 0;
  return { kind: 'plan', core: shiftPlan(outcome.plan, dispatchMs), localMs };
}

/**
 * The core's request for `job` over `devices` (the fleet's view of them, busy or not): its
 * algorithm, objective, constraints, transport and pins (held data is read on the origin).
 */
export function planRequestOf(job: JobRecord, devices: DeviceSpec[], defaults: PlacementDefaults): { planRequest: PlanRequest; originIsDevice: boolean; pins: Record<string, string> } {
  const { request, graph } = job;
  const originIsDevice = devices.some((d) => d.id === request.originDevice);
  const pins: Record<string, string> = {};
  for (const input of request.inputs) {
    if (input.source === 'sourceDevice' && input.sourceDevice) pins[inputTaskOf(input, graph)] = input.sourceDevice;
    // Data the origin holds is read where it is: its input stage runs there (an origin that
    // cannot run the model sends the data on itself, to the stage that takes it).
    if (input.source === 'held' && originIsDevice) pins[inputTaskOf(input, graph)] = request.originDevice;
  }
  const planRequest: PlanRequest = {
    graph,
    devices,
    origin: originIsDevice ? request.originDevice : devices[0]!.id,
    algorithm: request.algorithm !== '' ? request.algorithm : defaults.algorithm,
    objective: objectiveOf(request) ?? defaults.objective ?? { kind: 'latency' },
    constraints: constraintsOf(request),
    transport: { allowLossy: request.allowLossy, inputAsUint8: inputAsUint8(request) },
    pins,
    ...(defaults.cost ? { cost: defaults.cost } : {}),
  };
  return { planRequest, originIsDevice, pins };
}

/**
 * A job no plan finishes by its deadline (`objective.deadline_ms`; a timeout is the origin's
 * patience, not a deadline, and predictions are not exact enough to refuse on it): E_OVERLOADED
 * when the devices' queues and links are what stand in the way (the same job on idle devices
 * would make it), else E_INFEASIBLE (it never could).
 */
function overloadedOrNot(why: string, dispatchMs: number, idleMs: number | undefined): Placement {
  if (idleMs === undefined) return { kind: 'refuse', code: 'E_INFEASIBLE', message: why };
  return { kind: 'refuse', code: 'E_OVERLOADED', message: `the fleet is busy: ${why} (on idle devices: ${(idleMs + dispatchMs).toFixed(0)} ms); submit again later, or run it on the origin` };
}

/** The job's best latency on the same devices, idle (undefined: it cannot be placed even so). */
function idleLatency(planRequest: PlanRequest): number | undefined {
  const idle = planJob({
    ...planRequest,
    devices: planRequest.devices.map(({ busy: _b, busyUntilMs: _u, uplinkBusy: _ub, downlinkBusy: _db, uplinkBusyUntilMs: _uu, downlinkBusyUntilMs: _du, ...d }) => d),
  });
  return idle.ok ? idle.plan.predictedLatencyMs : undefined;
}
