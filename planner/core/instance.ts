/**
 * A planning request normalised for the algorithms: indices instead of ids, typed arrays and
 * precomputed matrices (compute time per task and device, transfer cost per device pair, bytes
 * and encoding per edge), pins and memory folded into an `allowed` matrix, and the fixed priority
 * order every schedule is built in. Built once per request; everything after it is arithmetic.
 * The edge arrays are built in instance-edges.ts, the busy-time interval lists in intervals.ts.
 */
import { DEFAULT_REFERENCE_FLOPS_PER_SEC, DEFAULT_TASK_OVERHEAD_MS, estimateComputeMs, msPerByte } from './cost-model.ts';
import { resolveDevicePower } from '../../power/presets.ts';
import type {
  Constraints, DevicePower, DeviceRole, DeviceSpec, Objective, PlanIssue, PlanRequest, SearchLimits,
} from './types.ts';
import { checkDevices, checkGraph, checkRequestFields } from './validation.ts';
import { buildEdges, type InstanceEdges } from './instance-edges.ts';
import { firstGap, mergeIntervals } from './intervals.ts';

export { ENCODINGS } from './instance-edges.ts';
export { firstGap } from './intervals.ts';

/** Smallest compute time a task may have: keeps every stage of positive length (stage order stays acyclic). */
export const MIN_TASK_MS = 1e-6;

export const DEFAULT_LIMITS: Readonly<Required<SearchLimits>> = Object.freeze({
  exactMaxNodes: 2_000_000,
  autoExactMaxTasks: 32,
  autoExactMaxNodes: 100_000,
  improveWork: 400_000,
});

export interface Instance extends InstanceEdges {
  n: number;
  D: number;
  modelId: string;
  taskIds: string[];
  deviceIds: string[];
  taskIndex: Map<string, number>;
  deviceIndex: Map<string, number>;
  roles: DeviceRole[];
  power: DevicePower[];
  specs: DeviceSpec[];
  origin: number;
  isInput: Uint8Array;
  isOutput: Uint8Array;
  outputs: Int32Array;
  inputs: Int32Array;
  /** float32 bytes of each output returned to the origin. */
  resultBytes: Float64Array;
  /** Compute ms of task t on device d at [t * D + d]. */
  compute: Float64Array;
  /** 1 where task t may run on device d (pin and memory). */
  allowed: Uint8Array;
  /** Device a task is pinned to, or -1. */
  pinned: Int32Array;
  params: Float64Array;
  act: Float64Array;
  memCap: Float64Array;
  lanes: Int32Array;
  /** Busy intervals per device and executor: [device][lane] = flat [start0, end0, start1, end1, ...], sorted, merged. */
  busy: Float64Array[][];
  hasBusy: boolean;
  /** Transfer a -> c of b bytes: b * perByte[a * D + c] + fixed[a * D + c]; 0 on the diagonal. */
  perByte: Float64Array;
  fixed: Float64Array;
  upPerByte: Float64Array;
  downPerByte: Float64Array;
  halfRtt: Float64Array;
  /** Time other jobs' data take on each device's uplink / downlink: flat [start0, end0, ...], sorted, merged. */
  upBusy: Float64Array[];
  downBusy: Float64Array[];
  /** Some link carries other jobs' data: transfers go through arriveAt()'s queues. */
  hasLinkBacklog: boolean;
  idleW: Float64Array;
  busyW: Float64Array;
  /** Upward ranks and the priority order (decreasing rank, ties by topological position). */
  rank: Float64Array;
  order: Int32Array;
  pos: Int32Array;
  objective: Objective;
  constraints: Constraints;
  timing: 'parallel' | 'serial';
  returnResult: boolean;
  /** The objective or a constraint involves energy. */
  needsEnergy: boolean;
  /** Every task has at most one predecessor and one successor. */
  isChain: boolean;
  limits: Required<SearchLimits>;
}

export type InstanceOutcome = { ok: true; inst: Instance } | { ok: false; issues: PlanIssue[] };

/** Validates a request and builds its instance, or says precisely what is wrong. */
export function buildInstance(request: PlanRequest): InstanceOutcome {
  const issues: PlanIssue[] = [...checkRequestFields(request), ...checkDevices(request.devices)];
  const checked = checkGraph(request.graph);
  if (!checked.ok) issues.push(...checked.issues);
  if (issues.length > 0 || !checked.ok) return { ok: false, issues };
  const g = checked.graph;

  const excluded = new Set(request.excludeDevices ?? []);
  const specs = request.devices.filter((d) => !excluded.has(d.id));
  if (specs.length === 0) return { ok: false, issues: [{ code: 'E_NO_DEVICES', message: 'every device is excluded or offline', reason: 'no-device' }] };
  const deviceIndex = new Map<string, number>();
  specs.forEach((d, i) => deviceIndex.set(d.id, i));
  const origin = deviceIndex.get(request.origin);
  if (origin === undefined) {
    const why = request.devices.some((d) => d.id === request.origin) ? 'is excluded (offline)' : 'is not among the devices';
    return { ok: false, issues: [{ code: 'E_NO_DEVICES', message: `the origin device "${request.origin}" ${why}`, reason: 'no-device', path: 'origin' }] };
  }

  const n = g.tasks.length;
  const D = specs.length;
  const cost = request.cost ?? {};
  const refFlops = cost.referenceFlopsPerSec ?? DEFAULT_REFERENCE_FLOPS_PER_SEC;
  const overhead = cost.taskOverheadMs ?? DEFAULT_TASK_OVERHEAD_MS;
  const returnResult = cost.returnResult ?? true;
  const pinInputs = cost.pinInputsToOrigin ?? true;
  const taskIds = g.tasks.map((t) => t.id);

  // Pins: explicit request pins, then TaskNode.pinned, then inputs on the origin.
  const pinned = new Int32Array(n).fill(-1);
  const isInput = new Uint8Array(n);
  for (const i of g.inputs) isInput[i] = 1;
  const pinIssue = (task: string, device: string): PlanIssue => ({
    code: 'E_INFEASIBLE', reason: 'pin',
    message: `task "${task}" is pinned to device "${device}", which ${request.devices.some((d) => d.id === device) ? 'is excluded (offline)' : 'is not among the devices'}`,
  });
  for (let t = 0; t < n; t++) {
    const node = g.tasks[t]!;
    const explicit = request.pins?.[node.id] ?? node.pinned;
    if (explicit !== undefined) {
      const d = deviceIndex.get(explicit);
      if (d === undefined) issues.push(pinIssue(node.id, explicit));
      else pinned[t] = d;
    } else if (pinInputs && isInput[t]) {
      pinned[t] = origin;
    }
  }
  for (const task of Object.keys(request.pins ?? {})) {
    if (!g.index.has(task)) issues.push({ code: 'E_CONFIG', message: `pins names an unknown task "${task}"`, path: 'pins' });
  }

  const power = specs.map((d) => resolveDevicePower(d));
  power.forEach((p, d) => {
    if (p.busyW < p.idleW) issues.push({ code: 'E_CONFIG', message: `device "${specs[d]!.id}": busy power (${p.busyW} W) is below idle power (${p.idleW} W)`, path: `devices.${specs[d]!.id}.power` });
  });
  if (issues.length > 0) return { ok: false, issues };

  // Compute matrix, memory, allowed.
  const compute = new Float64Array(n * D);
  const allowed = new Uint8Array(n * D);
  const params = new Float64Array(n);
  const act = new Float64Array(n);
  const memCap = new Float64Array(D);
  for (let d = 0; d < D; d++) memCap[d] = specs[d]!.memoryBytes;
  for (let t = 0; t < n; t++) {
    const node = g.tasks[t]!;
    params[t] = node.paramBytes;
    act[t] = node.activationBytes;
    let any = false;
    for (let d = 0; d < D; d++) {
      const spec = specs[d]!;
      const load = spec.loadFactor ?? 1;
      const profiled = spec.profileMs?.[node.id];
      const ms = profiled !== undefined
        ? profiled * load
        : estimateComputeMs(node.flops, spec.speed, { referenceFlopsPerSec: refFlops, taskOverheadMs: overhead, loadFactor: load });
      compute[t * D + d] = Math.max(ms, MIN_TASK_MS);
      const ok = (pinned[t] === -1 || pinned[t] === d) && params[t]! + act[t]! <= memCap[d]!;
      allowed[t * D + d] = ok ? 1 : 0;
      any ||= ok;
    }
    if (!any) {
      const need = (params[t]! + act[t]!) / 2 ** 20;
      if (pinned[t] !== -1) {
        issues.push({ code: 'E_INFEASIBLE', reason: 'memory', message: `task "${node.id}" is pinned to "${specs[pinned[t]!]!.id}" but needs ${need.toFixed(1)} MiB there, more than its ${(memCap[pinned[t]!]! / 2 ** 20).toFixed(1)} MiB` });
      } else {
        const largest = Math.max(...memCap) / 2 ** 20;
        issues.push({ code: 'E_INFEASIBLE', reason: 'memory', message: `task "${node.id}" needs ${need.toFixed(1)} MiB (weights and working set), more than any device offers (largest: ${largest.toFixed(1)} MiB); split large Dense layers into shards` });
      }
    }
  }
  if (issues.length > 0) return { ok: false, issues: issues.slice(0, 10) };

  // Edges and encodings.
  const { E, predStart, predTask, edgeBytes, edgeEnc, tensorBytes, succStart, succTask, succEdge } = buildEdges(g, taskIds, isInput, cost.edgeBytes ?? {}, request.transport);
  const isOutput = new Uint8Array(n);
  for (const o of g.outputs) isOutput[o] = 1;
  const resultBytes = new Float64Array(n);
  for (const o of g.outputs) resultBytes[o] = g.tasks[o]!.outputBytes;

  // Links, power, executors, busy time.
  const perByte = new Float64Array(D * D);
  const fixed = new Float64Array(D * D);
  const upPerByte = new Float64Array(D);
  const downPerByte = new Float64Array(D);
  const halfRtt = new Float64Array(D);
  const upBusy: Float64Array[] = [];
  const downBusy: Float64Array[] = [];
  let hasLinkBacklog = false;
  const idleW = new Float64Array(D);
  const busyW = new Float64Array(D);
  const lanes = new Int32Array(D);
  const busy: Float64Array[][] = [];
  let hasBusy = false;
  for (let d = 0; d < D; d++) {
    const spec = specs[d]!;
    upPerByte[d] = msPerByte(spec.link.upBps);
    downPerByte[d] = msPerByte(spec.link.downBps);
    halfRtt[d] = spec.link.rttMs / 2;
    const linkBusy = (until: number | undefined, list: Array<{ startMs: number; endMs: number }> | undefined): Float64Array =>
      mergeIntervals([...(until !== undefined && until > 0 ? [[0, until] as [number, number]] : []), ...(list ?? []).map((b): [number, number] => [b.startMs, b.endMs])]);
    upBusy.push(linkBusy(spec.uplinkBusyUntilMs, spec.uplinkBusy));
    downBusy.push(linkBusy(spec.downlinkBusyUntilMs, spec.downlinkBusy));
    if (upBusy[d]!.length > 0 || downBusy[d]!.length > 0) hasLinkBacklog = true;
    idleW[d] = power[d]!.idleW;
    busyW[d] = power[d]!.busyW;
    lanes[d] = spec.workers ?? 1;
    const perLane: Float64Array[] = [];
    for (let l = 0; l < lanes[d]!; l++) {
      const list: Array<[number, number]> = [];
      if (spec.busyUntilMs !== undefined && spec.busyUntilMs > 0) list.push([0, spec.busyUntilMs]);
      for (const b of spec.busy ?? []) if (b.worker === undefined || b.worker === l) list.push([b.startMs, b.endMs]);
      const merged = mergeIntervals(list);
      if (merged.length > 0) hasBusy = true;
      perLane.push(merged);
    }
    busy.push(perLane);
  }
  for (let a = 0; a < D; a++) {
    for (let c = 0; c < D; c++) {
      if (a === c) continue;
      perByte[a * D + c] = upPerByte[a]! + downPerByte[c]!;
      fixed[a * D + c] = halfRtt[a]! + halfRtt[c]!;
    }
  }

  // Upward ranks with mean compute (over allowed devices) and mean transfer cost (over device pairs).
  let meanPerByte = 0;
  let meanFixed = 0;
  if (D > 1) {
    for (let a = 0; a < D; a++) for (let c = 0; c < D; c++) if (a !== c) {
      meanPerByte += perByte[a * D + c]!;
      meanFixed += fixed[a * D + c]!;
    }
    meanPerByte /= D * (D - 1);
    meanFixed /= D * (D - 1);
  }
  let meanReturnPerByte = 0;
  let meanReturnFixed = 0;
  for (let d = 0; d < D; d++) {
    meanReturnPerByte += perByte[d * D + origin]! / D;
    meanReturnFixed += fixed[d * D + origin]! / D;
  }
  const rank = new Float64Array(n);
  const topoPos = new Int32Array(n);
  g.topo.forEach((t, k) => { topoPos[t] = k; });
  for (let k = n - 1; k >= 0; k--) {
    const t = g.topo[k]!;
    let sum = 0;
    let cnt = 0;
    for (let d = 0; d < D; d++) if (allowed[t * D + d]) {
      sum += compute[t * D + d]!;
      cnt++;
    }
    let tail = returnResult && isOutput[t] ? resultBytes[t]! * meanReturnPerByte + meanReturnFixed : 0;
    for (let s = succStart[t]!; s < succStart[t + 1]!; s++) {
      const via = edgeBytes[succEdge[s]!]! * meanPerByte + meanFixed + rank[succTask[s]!]!;
      if (via > tail) tail = via;
    }
    rank[t] = sum / cnt + tail;
  }
  const keys = new Float64Array(n);
  for (let t = 0; t < n; t++) keys[t] = Math.round(rank[t]! * 1e6);
  const order = Int32Array.from(g.topo).sort((a, b) => (keys[b]! - keys[a]!) || (topoPos[a]! - topoPos[b]!));
  const pos = new Int32Array(n);
  order.forEach((t, k) => { pos[t] = k; });

  let isChain = g.inputs.length === 1;
  for (let t = 0; t < n && isChain; t++) {
    if (predStart[t + 1]! - predStart[t]! > 1 || succStart[t + 1]! - succStart[t]! > 1) isChain = false;
  }

  const objective: Objective = request.objective ?? { kind: 'latency' };
  const constraints: Constraints = { ...request.constraints };
  return {
    ok: true,
    inst: {
      n, D, E,
      modelId: typeof request.graph.modelId === 'string' ? request.graph.modelId : '',
      taskIds,
      deviceIds: specs.map((d) => d.id),
      taskIndex: g.index,
      deviceIndex,
      roles: specs.map((d) => d.role),
      power,
      specs,
      origin,
      predStart, predTask, edgeBytes, edgeEnc,
      succStart, succTask, succEdge,
      tensorBytes, isInput, isOutput,
      outputs: Int32Array.from(g.outputs),
      inputs: Int32Array.from(g.inputs),
      resultBytes,
      compute, allowed, pinned, params, act, memCap, lanes, busy, hasBusy,
      perByte, fixed, upPerByte, downPerByte, halfRtt, upBusy, downBusy, hasLinkBacklog, idleW, busyW,
      rank, order, pos,
      objective,
      constraints,
      timing: cost.timing ?? 'parallel',
      returnResult,
      needsEnergy: objective.kind !== 'latency' || constraints.energyBudgetJ !== undefined,
      isChain,
      limits: { ...DEFAULT_LIMITS, ...request.limits },
    },
  };
}

/** Transfer time of `bytes` from device a to device c (0 when a === c), on idle links. */
export function transferMs(inst: Instance, bytes: number, a: number, c: number): number {
  return a === c ? 0 : bytes * inst.perByte[a * inst.D + c]! + inst.fixed[a * inst.D + c]!;
}

/**
 * When `bytes` sent from device a at `sendAt` arrive on device c: across a's uplink, then c's
 * downlink, each leg in the first gap of its link's time taken by other jobs that holds it.
 * With idle links this is sendAt + transferMs(). Non-decreasing in sendAt, so any bound built
 * from earlier send times stays a bound.
 */
export function arriveAt(inst: Instance, a: number, c: number, bytes: number, sendAt: number): number {
  if (a === c) return sendAt;
  if (!inst.hasLinkBacklog) return sendAt + bytes * inst.perByte[a * inst.D + c]! + inst.fixed[a * inst.D + c]!;
  const upMs = bytes * inst.upPerByte[a]!;
  const up = firstGap(inst.upBusy[a]!, sendAt, upMs) + upMs + inst.halfRtt[a]!;
  const downMs = bytes * inst.downPerByte[c]!;
  return firstGap(inst.downBusy[c]!, up, downMs) + downMs + inst.halfRtt[c]!;
}
