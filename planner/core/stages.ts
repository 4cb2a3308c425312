/**
 * Fusing a scheduled placement into stages.
 *
 * A stage is a maximal run of tasks that one executor of one device runs back to back. Walking
 * each executor's tasks in time order, task t joins the stage of the task u just before it when:
 * - u feeds nothing outside its executor (no consumer on another device or executor, and u is not
 *   a model output that must travel to the origin): only a stage's last task sends tensors away;
 * - t starts the moment u finishes (no gap: nothing of another job in between, no waiting);
 * - every input of t from outside the stage has arrived by the stage's start: the stage never
 *   waits for another device in the middle.
 * Consequences: a stage starts when its last input arrives and sends its outputs when it ends,
 * and that reproduces the task-level schedule exactly. Every edge between stages X -> Y has
 * Y.start >= X.end > X.start (tasks take > 0 ms), so stage start times increase along every path:
 * fusing never creates a cycle between stages.
 */
import type { Instance } from './instance.ts';
import type { Timelines } from './timeline.ts';

export interface StageLayout {
  count: number;
  /** Stage index of every task. Stages are numbered by start time (ties: device, executor). */
  stageOf: Int32Array;
  device: Int32Array;
  lane: Int32Array;
  /** Tasks of stage s: members[memberStart[s] .. memberStart[s+1]-1], in execution order. */
  memberStart: Int32Array;
  members: Int32Array;
}

export interface ScheduleView {
  placement: Int32Array;
  lane: Int32Array;
  start: Float64Array;
  finish: Float64Array;
  /** Arrival time of each edge's tensor at its consumer's device. */
  edgeArrive: Float64Array;
}

const EPS = 1e-9;

/** Forms stages from a schedule; `timelines` must hold that schedule. */
export function formStages(inst: Instance, sched: ScheduleView, timelines: Timelines): StageLayout {
  const { n, D } = inst;
  const { placement, lane, start, finish, edgeArrive } = sched;
  const closes = new Uint8Array(n);
  for (let u = 0; u < n; u++) {
    if (inst.returnResult && inst.isOutput[u] && placement[u] !== inst.origin) {
      closes[u] = 1;
      continue;
    }
    for (let s = inst.succStart[u]!; s < inst.succStart[u + 1]!; s++) {
      const v = inst.succTask[s]!;
      if (placement[v] !== placement[u] || lane[v] !== lane[u]) {
        closes[u] = 1;
        break;
      }
    }
  }

  const raw = new Int32Array(n).fill(-1);
  const rawStart: number[] = [];
  const rawDevice: number[] = [];
  const rawLane: number[] = [];
  const seq: number[] = [];
  const walk: number[] = [];
  for (let d = 0; d < D; d++) {
    for (let l = 0; l < timelines.laneCount[d]!; l++) {
      timelines.tasksOn(d, l, seq);
      let current = -1;
      let prev = -1;
      for (const t of seq) {
        let join = current >= 0 && closes[prev] === 0 && start[t]! <= finish[prev]! + EPS * Math.max(1, finish[prev]!);
        if (join) {
          const stageStart = rawStart[current]!;
          const limit = stageStart + EPS * Math.max(1, stageStart);
          for (let e = inst.predStart[t]!; e < inst.predStart[t + 1]!; e++) {
            const p = inst.predTask[e]!;
            if (raw[p] === current) continue;
            if (edgeArrive[e]! > limit) {
              join = false;
              break;
            }
          }
        }
        if (!join) {
          current = rawStart.length;
          rawStart.push(start[t]!);
          rawDevice.push(d);
          rawLane.push(l);
        }
        raw[t] = current;
        walk.push(t);
        prev = t;
      }
    }
  }

  // Renumber by (start, device, lane).
  const count = rawStart.length;
  const byTime = Array.from({ length: count }, (_, i) => i).sort((a, b) =>
    (rawStart[a]! - rawStart[b]!) || (rawDevice[a]! - rawDevice[b]!) || (rawLane[a]! - rawLane[b]!) || (a - b));
  const rename = new Int32Array(count);
  byTime.forEach((old, k) => { rename[old] = k; });
  const stageOf = new Int32Array(n);
  const device = new Int32Array(count);
  const laneOf = new Int32Array(count);
  const sizes = new Int32Array(count + 1);
  for (let t = 0; t < n; t++) {
    const s = rename[raw[t]!]!;
    stageOf[t] = s;
    sizes[s + 1]!++;
  }
  for (let old = 0; old < count; old++) {
    device[rename[old]!] = rawDevice[old]!;
    laneOf[rename[old]!] = rawLane[old]!;
  }
  const memberStart = new Int32Array(count + 1);
  for (let s = 0; s < count; s++) memberStart[s + 1] = memberStart[s]! + sizes[s + 1]!;
  const members = new Int32Array(n);
  const fillAt = memberStart.slice(0, count);
  // The walk visits each executor's tasks in time order: members come out in execution order.
  for (const t of walk) members[fillAt[stageOf[t]!]!++] = t;
  return { count, stageOf, device, lane: laneOf, memberStart, members };
}
