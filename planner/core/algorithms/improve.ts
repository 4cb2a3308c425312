/**
 * Local improvement of a placement under the instance's score (memory, constraints, objective):
 * first-improvement descent over two neighbourhoods, until no move helps or the work budget
 * (task + edge visits of the evaluator) is spent:
 * - move one task to another device;
 * - move a whole same-device group (a connected run of tasks on one device) to another device,
 *   which escapes the trap where moving one task alone adds two transfers.
 * Small instances try every task and device; large ones try the tasks on the critical path and,
 * for each, the devices of its neighbours, the origin and its few fastest devices.
 */
import { Evaluator, newScore } from '../evaluator.ts';
import type { Instance } from '../instance.ts';
import { compareScores, type Score } from '../objective.ts';

export interface ImproveResult {
  placement: Int32Array;
  score: Score;
  moves: number;
}

const TOP_DEVICES = 4;

export function improvePlacement(inst: Instance, start: Int32Array, workBudget: number, ev: Evaluator = new Evaluator(inst)): ImproveResult {
  const { n, D } = inst;
  const cur = Int32Array.from(start);
  const curScore = { ...ev.score(cur) };
  const trial = newScore();
  const stopAt = ev.work + workBudget;
  const small = n * D <= 256;
  const fastest = fastestDevices(inst);
  let moves = 0;

  const tryPlacement = (): boolean => {
    ev.score(cur, trial);
    if (compareScores(trial, curScore) < 0) {
      Object.assign(curScore, trial);
      moves++;
      return true;
    }
    return false;
  };

  let improved = true;
  while (improved && ev.work < stopAt) {
    improved = false;
    // Single-task moves.
    const tasks = small ? Array.from(inst.order) : criticalTasks(inst, cur, ev);
    for (const t of tasks) {
      if (ev.work >= stopAt) break;
      if (inst.pinned[t]! >= 0) continue;
      const from = cur[t]!;
      for (const d of candidateDevices(inst, t, cur, fastest, small)) {
        if (d === from || !inst.allowed[t * D + d]) continue;
        cur[t] = d;
        if (tryPlacement()) {
          improved = true;
          break;
        }
        cur[t] = from;
        if (ev.work >= stopAt) break;
      }
    }
    if (ev.work >= stopAt) break;
    // Group moves.
    const groups = sameDeviceGroups(inst, cur);
    for (const group of groups) {
      if (ev.work >= stopAt) break;
      if (group.length < 2) continue;
      const from = cur[group[0]!]!;
      const targets = new Set<number>();
      for (const t of group) for (const d of candidateDevices(inst, t, cur, fastest, small)) targets.add(d);
      for (const d of targets) {
        if (d === from) continue;
        let ok = true;
        for (const t of group) if (!inst.allowed[t * D + d]) ok = false;
        if (!ok) continue;
        for (const t of group) cur[t] = d;
        if (tryPlacement()) {
          improved = true;
          break;
        }
        for (const t of group) cur[t] = from;
        if (ev.work >= stopAt) break;
      }
    }
  }
  return { placement: cur, score: curScore, moves };
}

function fastestDevices(inst: Instance): Int32Array[] {
  const { n, D } = inst;
  const out: Int32Array[] = [];
  const idx = Array.from({ length: D }, (_, d) => d);
  for (let t = 0; t < n; t++) {
    const list = idx.filter((d) => inst.allowed[t * D + d]).sort((a, b) => inst.compute[t * D + a]! - inst.compute[t * D + b]!);
    out.push(Int32Array.from(list.slice(0, TOP_DEVICES)));
  }
  return out;
}

function candidateDevices(inst: Instance, t: number, cur: Int32Array, fastest: Int32Array[], all: boolean): number[] {
  if (all) return Array.from({ length: inst.D }, (_, d) => d);
  const set = new Set<number>(fastest[t]!);
  set.add(inst.origin);
  for (let e = inst.predStart[t]!; e < inst.predStart[t + 1]!; e++) set.add(cur[inst.predTask[e]!]!);
  for (let s = inst.succStart[t]!; s < inst.succStart[t + 1]!; s++) set.add(cur[inst.succTask[s]!]!);
  return [...set];
}

/** Tasks on the critical path of the current schedule, last first. */
function criticalTasks(inst: Instance, cur: Int32Array, ev: Evaluator): number[] {
  ev.schedule(cur);
  let last = -1;
  let latest = -Infinity;
  for (const o of inst.outputs) {
    if (ev.resultArrive[o]! > latest) {
      latest = ev.resultArrive[o]!;
      last = o;
    }
  }
  for (let t = 0; t < inst.n; t++) {
    if (ev.finish[t]! > latest) {
      latest = ev.finish[t]!;
      last = t;
    }
  }
  const path: number[] = [];
  const seen = new Uint8Array(inst.n);
  const laneTasks: number[] = [];
  let t = last;
  while (t >= 0 && !seen[t]) {
    seen[t] = 1;
    path.push(t);
    const st = ev.start[t]!;
    let next = -1;
    if (st > ev.ready[t]! + 1e-9 * Math.max(1, st)) {
      // Waited for its executor: follow the task just before it there.
      ev.timelines.tasksOn(cur[t]!, ev.lane[t]!, laneTasks);
      let bestFinish = -Infinity;
      for (const u of laneTasks) if (ev.finish[u]! <= st + 1e-9 * Math.max(1, st) && ev.finish[u]! > bestFinish && u !== t) {
        bestFinish = ev.finish[u]!;
        next = u;
      }
    }
    if (next < 0) {
      let arrive = -Infinity;
      for (let e = inst.predStart[t]!; e < inst.predStart[t + 1]!; e++) {
        if (ev.edgeArrive[e]! > arrive) {
          arrive = ev.edgeArrive[e]!;
          next = inst.predTask[e]!;
        }
      }
    }
    t = next;
  }
  return path;
}

/** Connected groups of tasks joined by edges within one device. */
function sameDeviceGroups(inst: Instance, cur: Int32Array): number[][] {
  const parent = Int32Array.from({ length: inst.n }, (_, i) => i);
  const find = (x: number): number => {
    while (parent[x] !== x) {
      parent[x] = parent[parent[x]!]!;
      x = parent[x]!;
    }
    return x;
  };
  for (let t = 0; t < inst.n; t++) {
    if (inst.pinned[t]! >= 0) continue;
    for (let e = inst.predStart[t]!; e < inst.predStart[t + 1]!; e++) {
      const p = inst.predTask[e]!;
      if (cur[p] === cur[t] && inst.pinned[p]! < 0) parent[find(p)] = find(t);
    }
  }
  const groups = new Map<number, number[]>();
  for (let k = 0; k < inst.n; k++) {
    const t = inst.order[k]!;
    if (inst.pinned[t]! >= 0) continue;
    const r = find(t);
    const g = groups.get(r);
    if (g) g.push(t);
    else groups.set(r, [t]);
  }
  return [...groups.values()];
}
