/**
 * Checks a planning request before anything is computed. Data may come off the wire or out of a
 * JSON file, so nothing is trusted: every problem becomes a PlanIssue, never an exception or a hang.
 */
import type { TaskNode } from '../../schemas/graph.ts';
import { isPowerPresetName, isRadioKind } from '../../power/presets.ts';
import type { DeviceSpec, PlanIssue, PlanRequest } from './types.ts';

export interface CheckedGraph {
  /** Task index -> node. */
  tasks: TaskNode[];
  index: Map<string, number>;
  /** Distinct predecessor indices per task, in first-seen order. */
  preds: number[][];
  /** A topological order (the graph's own order where it is one). */
  topo: number[];
  inputs: number[];
  outputs: number[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNonNegative = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;
const isPositive = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;

function badDag(message: string, path?: string): PlanIssue {
  return path === undefined ? { code: 'E_BAD_DAG', message } : { code: 'E_BAD_DAG', message, path };
}

function stringList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

/** Validates a task graph: shape, ids, references, symmetry of preds/succs, acyclicity. */
export function checkGraph(graph: unknown): { ok: true; graph: CheckedGraph } | { ok: false; issues: PlanIssue[] } {
  const issues: PlanIssue[] = [];
  if (!isObject(graph) || !Array.isArray(graph['tasks'])) {
    return { ok: false, issues: [badDag('the task graph must be an object with a tasks array', 'graph')] };
  }
  const rawTasks = graph['tasks'] as unknown[];
  if (rawTasks.length === 0) return { ok: false, issues: [badDag('the task graph has no tasks', 'graph.tasks')] };

  const index = new Map<string, number>();
  const tasks: TaskNode[] = [];
  rawTasks.forEach((raw, i) => {
    const path = `graph.tasks[${i}]`;
    if (!isObject(raw)) {
      issues.push(badDag('a task must be an object', path));
      return;
    }
    const id = raw['id'];
    if (typeof id !== 'string' || id.length === 0) {
      issues.push(badDag('a task needs a non-empty string id', `${path}.id`));
      return;
    }
    if (index.has(id)) {
      issues.push(badDag(`duplicate task id "${id}"`, `${path}.id`));
      return;
    }
    if (!stringList(raw['preds'])) issues.push(badDag(`task "${id}": preds must be an array of task ids`, `${path}.preds`));
    if (!stringList(raw['succs'])) issues.push(badDag(`task "${id}": succs must be an array of task ids`, `${path}.succs`));
    for (const field of ['outputBytes', 'flops', 'paramBytes', 'activationBytes'] as const) {
      if (!isNonNegative(raw[field])) issues.push(badDag(`task "${id}": ${field} must be a finite number >= 0`, `${path}.${field}`));
    }
    if (raw['pinned'] !== undefined && typeof raw['pinned'] !== 'string') {
      issues.push(badDag(`task "${id}": pinned must be a device id`, `${path}.pinned`));
    }
    if (raw['outputShape'] !== undefined && !(Array.isArray(raw['outputShape']) && raw['outputShape'].every((n) => isNonNegative(n)))) {
      issues.push(badDag(`task "${id}": outputShape must be an array of sizes`, `${path}.outputShape`));
    }
    index.set(id, tasks.length);
    tasks.push(raw as unknown as TaskNode);
  });
  if (issues.length > 0) return { ok: false, issues };

  const n = tasks.length;
  const preds: number[][] = [];
  const succSets: Array<Set<number>> = [];
  for (let i = 0; i < n; i++) succSets.push(new Set());
  for (let i = 0; i < n; i++) {
    const task = tasks[i]!;
    const own: number[] = [];
    for (const p of task.preds) {
      const j = index.get(p);
      if (j === undefined) {
        issues.push(badDag(`task "${task.id}" has an unknown predecessor "${p}"`, `graph.tasks[${i}].preds`));
        continue;
      }
      if (j === i) {
        issues.push(badDag(`task "${task.id}" depends on itself`, `graph.tasks[${i}].preds`));
        continue;
      }
      if (!own.includes(j)) own.push(j);
      succSets[j]!.add(i);
    }
    preds.push(own);
  }
  for (let i = 0; i < n; i++) {
    const task = tasks[i]!;
    for (const s of task.succs) {
      const j = index.get(s);
      if (j === undefined) {
        issues.push(badDag(`task "${task.id}" has an unknown successor "${s}"`, `graph.tasks[${i}].succs`));
      } else if (!succSets[i]!.has(j)) {
        issues.push(badDag(`task "${task.id}" lists "${s}" as a successor, but "${s}" does not list it as a predecessor`, `graph.tasks[${i}].succs`));
      }
    }
    for (const j of succSets[i]!) {
      if (!task.succs.includes(tasks[j]!.id)) {
        issues.push(badDag(`task "${tasks[j]!.id}" lists "${task.id}" as a predecessor, but "${task.id}" does not list it as a successor`, `graph.tasks[${i}].succs`));
      }
    }
  }
  if (issues.length > 0) return { ok: false, issues: issues.slice(0, 20) };

  // Kahn's algorithm with a min-heap on the index: the graph's own order wherever it is topological.
  const indegree = new Int32Array(n);
  for (let i = 0; i < n; i++) indegree[i] = preds[i]!.length;
  const topo: number[] = [];
  const heap: number[] = [];
  const push = (v: number): void => {
    heap.push(v);
    let k = heap.length - 1;
    while (k > 0) {
      const parent = (k - 1) >> 1;
      if (heap[parent]! <= v) break;
      heap[k] = heap[parent]!;
      k = parent;
    }
    heap[k] = v;
  };
  const pop = (): number => {
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      let k = 0;
      for (;;) {
        const l = 2 * k + 1;
        if (l >= heap.length) break;
        const r = l + 1;
        const c = r < heap.length && heap[r]! < heap[l]! ? r : l;
        if (heap[c]! >= last) break;
        heap[k] = heap[c]!;
        k = c;
      }
      heap[k] = last;
    }
    return top;
  };
  for (let i = 0; i < n; i++) if (indegree[i] === 0) push(i);
  while (heap.length > 0) {
    const i = pop();
    topo.push(i);
    for (const j of succSets[i]!) {
      indegree[j]!--;
      if (indegree[j] === 0) push(j);
    }
  }
  if (topo.length < n) {
    const stuck = [];
    for (let i = 0; i < n && stuck.length < 5; i++) if (indegree[i]! > 0) stuck.push(`"${tasks[i]!.id}"`);
    return { ok: false, issues: [badDag(`the task graph has a cycle (through ${stuck.join(', ')}${n - topo.length > 5 ? ', ...' : ''})`, 'graph.tasks')] };
  }

  const refList = (name: 'inputs' | 'outputs'): number[] => {
    const list = (graph as Record<string, unknown>)[name];
    if (!stringList(list) || list.length === 0) {
      issues.push(badDag(`graph.${name} must be a non-empty array of task ids`, `graph.${name}`));
      return [];
    }
    const out: number[] = [];
    for (const id of list) {
      const i = index.get(id);
      if (i === undefined) issues.push(badDag(`graph.${name} names an unknown task "${id}"`, `graph.${name}`));
      else if (!out.includes(i)) out.push(i);
    }
    return out;
  };
  const inputs = refList('inputs');
  const outputs = refList('outputs');
  for (const i of inputs) {
    if (preds[i]!.length > 0) issues.push(badDag(`input task "${tasks[i]!.id}" has predecessors`, 'graph.inputs'));
  }
  if (issues.length > 0) return { ok: false, issues };
  return { ok: true, graph: { tasks, index, preds, topo, inputs, outputs } };
}

function config(message: string, path: string): PlanIssue {
  return { code: 'E_CONFIG', message, path };
}

/** Validates device specs (values the energy and cost models rely on). */
export function checkDevices(devices: unknown): PlanIssue[] {
  if (!Array.isArray(devices)) return [config('devices must be an array', 'devices')];
  if (devices.length === 0) return [{ code: 'E_NO_DEVICES', message: 'no devices to plan over', path: 'devices' }];
  const issues: PlanIssue[] = [];
  const seen = new Set<string>();
  devices.forEach((raw: unknown, i) => {
    const path = `devices[${i}]`;
    if (!isObject(raw)) {
      issues.push(config('a device must be an object', path));
      return;
    }
    const d = raw as unknown as DeviceSpec;
    if (typeof d.id !== 'string' || d.id.length === 0) issues.push(config('a device needs a non-empty string id', `${path}.id`));
    else if (seen.has(d.id)) issues.push(config(`duplicate device id "${d.id}"`, `${path}.id`));
    else seen.add(d.id);
    if (d.role !== 'iot' && d.role !== 'edge' && d.role !== 'cloud') issues.push(config('role must be iot, edge or cloud', `${path}.role`));
    if (!isPositive(d.speed)) issues.push(config('speed must be a number > 0', `${path}.speed`));
    if (!isPositive(d.memoryBytes)) issues.push(config('memoryBytes must be a number > 0', `${path}.memoryBytes`));
    if (!isObject(d.link)) issues.push(config('link must be an object', `${path}.link`));
    else {
      if (!isPositive(d.link.upBps)) issues.push(config('link.upBps must be a number > 0', `${path}.link.upBps`));
      if (!isPositive(d.link.downBps)) issues.push(config('link.downBps must be a number > 0', `${path}.link.downBps`));
      if (!isNonNegative(d.link.rttMs)) issues.push(config('link.rttMs must be a number >= 0', `${path}.link.rttMs`));
    }
    if (d.radio !== undefined && !isRadioKind(String(d.radio))) issues.push(config('radio must be wifi, lte, 3g or wired', `${path}.radio`));
    if (d.workers !== undefined && !(Number.isInteger(d.workers) && d.workers >= 1 && d.workers <= 1024)) {
      issues.push(config('workers must be a whole number from 1 to 1024', `${path}.workers`));
    }
    if (d.busyUntilMs !== undefined && !isNonNegative(d.busyUntilMs)) issues.push(config('busyUntilMs must be a number >= 0', `${path}.busyUntilMs`));
    for (const key of ['uplinkBusyUntilMs', 'downlinkBusyUntilMs'] as const) {
      if (d[key] !== undefined && !isNonNegative(d[key])) issues.push(config(`${key} must be a number >= 0`, `${path}.${key}`));
    }
    for (const key of ['uplinkBusy', 'downlinkBusy'] as const) {
      const list = d[key];
      if (list === undefined) continue;
      if (!Array.isArray(list)) issues.push(config(`${key} must be an array of intervals`, `${path}.${key}`));
      else list.forEach((b, k) => {
        if (!(typeof b === 'object' && b !== null && isNonNegative(b.startMs) && isNonNegative(b.endMs) && b.startMs <= b.endMs)) {
          issues.push(config(`a ${key} interval needs 0 <= startMs <= endMs`, `${path}.${key}[${k}]`));
        }
      });
    }
    if (d.loadFactor !== undefined && !isPositive(d.loadFactor)) issues.push(config('loadFactor must be a number > 0', `${path}.loadFactor`));
    if (d.busy !== undefined) {
      if (!Array.isArray(d.busy)) issues.push(config('busy must be an array of intervals', `${path}.busy`));
      else {
        d.busy.forEach((b, k) => {
          const ok = isObject(b) && isNonNegative(b.startMs) && isNonNegative(b.endMs) && b.endMs >= b.startMs &&
            (b.worker === undefined || (Number.isInteger(b.worker) && b.worker >= 0 && b.worker < (d.workers ?? 1)));
          if (!ok) issues.push(config('a busy interval needs 0 <= startMs <= endMs and an optional worker index below workers', `${path}.busy[${k}]`));
        });
      }
    }
    if (d.profileMs !== undefined) {
      if (!isObject(d.profileMs)) issues.push(config('profileMs must map task ids to milliseconds', `${path}.profileMs`));
      else {
        for (const [task, ms] of Object.entries(d.profileMs)) {
          if (!isNonNegative(ms)) issues.push(config(`profileMs.${task} must be a number >= 0`, `${path}.profileMs`));
        }
      }
    }
    const power = d.power;
    if (typeof power === 'string') {
      if (!isPowerPresetName(power)) issues.push(config(`unknown power preset "${power}"`, `${path}.power`));
    } else if (power !== undefined) {
      if (!isObject(power)) issues.push(config('power must be a preset name or an object', `${path}.power`));
      else {
        if (power.preset !== undefined && !isPowerPresetName(String(power.preset))) issues.push(config(`unknown power preset "${String(power.preset)}"`, `${path}.power.preset`));
        if (power.idleW !== undefined && !isNonNegative(power.idleW)) issues.push(config('power.idleW must be a number >= 0', `${path}.power.idleW`));
        if (power.busyW !== undefined && !isNonNegative(power.busyW)) issues.push(config('power.busyW must be a number >= 0', `${path}.power.busyW`));
        const rm = power.radioModel;
        if (rm !== undefined) {
          if (!isObject(rm)) issues.push(config('power.radioModel must be an object', `${path}.power.radioModel`));
          else {
            for (const key of ['upAlphaMwPerMbps', 'downAlphaMwPerMbps', 'betaMw'] as const) {
              if (rm[key] !== undefined && !isNonNegative(rm[key])) issues.push(config(`power.radioModel.${key} must be a number >= 0`, `${path}.power.radioModel.${key}`));
            }
          }
        }
      }
    }
  });
  return issues;
}

/** Validates the request's own fields (objective, constraints, origin, options); devices and graph separately. */
export function checkRequestFields(request: PlanRequest): PlanIssue[] {
  const issues: PlanIssue[] = [];
  const o = request.objective;
  if (o !== undefined) {
    if (!isObject(o) || !['latency', 'energy', 'energy-total', 'weighted'].includes(String(o.kind))) {
      issues.push(config('objective.kind must be latency, energy, energy-total or weighted', 'objective'));
    } else if (o.kind === 'weighted') {
      if (!isNonNegative(o.latencyWeight) || !isNonNegative(o.energyWeight) || o.latencyWeight + o.energyWeight <= 0) {
        issues.push(config('a weighted objective needs latencyWeight and energyWeight >= 0, not both 0', 'objective'));
      }
    }
  }
  const c = request.constraints;
  if (c !== undefined) {
    if (c.deadlineMs !== undefined && !isPositive(c.deadlineMs)) issues.push(config('deadlineMs must be a number > 0', 'constraints.deadlineMs'));
    if (c.energyBudgetJ !== undefined && !isPositive(c.energyBudgetJ)) issues.push(config('energyBudgetJ must be a number > 0', 'constraints.energyBudgetJ'));
  }
  const cost = request.cost;
  if (cost !== undefined) {
    if (cost.referenceFlopsPerSec !== undefined && !isPositive(cost.referenceFlopsPerSec)) issues.push(config('referenceFlopsPerSec must be > 0', 'cost.referenceFlopsPerSec'));
    if (cost.taskOverheadMs !== undefined && !isNonNegative(cost.taskOverheadMs)) issues.push(config('taskOverheadMs must be >= 0', 'cost.taskOverheadMs'));
    if (cost.timing !== undefined && cost.timing !== 'parallel' && cost.timing !== 'serial') issues.push(config('timing must be parallel or serial', 'cost.timing'));
    if (cost.edgeBytes !== undefined) {
      for (const [key, bytes] of Object.entries(cost.edgeBytes)) {
        if (!isNonNegative(bytes)) issues.push(config(`edgeBytes["${key}"] must be >= 0`, 'cost.edgeBytes'));
      }
    }
  }
  if (typeof request.origin !== 'string' || request.origin.length === 0) issues.push(config('origin must name a device', 'origin'));
  return issues;
}
