/**
 * Executor timelines with insertion: per device and executor (lane), the sorted, disjoint
 * intervals already taken (by other jobs, and by this job's tasks as they are scheduled). A task
 * goes into the earliest gap at or after its ready time that holds it (Topcuoglu et al.'s
 * insertion policy); on a device with several executors, into the executor where it starts
 * first (ties: the lowest executor).
 */
import type { Instance } from './instance.ts';

interface Lane {
  starts: Float64Array;
  ends: Float64Array;
  /** Task index, or -1 for time taken by other jobs. */
  owners: Int32Array;
  count: number;
  /** Intervals restored by reset(). */
  busy: Float64Array;
}

function makeLane(busy: Float64Array): Lane {
  const cap = Math.max(8, busy.length);
  const lane: Lane = { starts: new Float64Array(cap), ends: new Float64Array(cap), owners: new Int32Array(cap), count: 0, busy };
  return lane;
}

export class Timelines {
  readonly laneBase: Int32Array;
  readonly laneCount: Int32Array;
  private readonly lanes: Lane[] = [];
  /** Lane (within its device) chosen by the last earliestStart() call. */
  lastLane = 0;

  constructor(inst: Instance) {
    this.laneBase = new Int32Array(inst.D);
    this.laneCount = new Int32Array(inst.D);
    let k = 0;
    for (let d = 0; d < inst.D; d++) {
      this.laneBase[d] = k;
      this.laneCount[d] = inst.lanes[d]!;
      for (let l = 0; l < inst.lanes[d]!; l++) this.lanes.push(makeLane(inst.busy[d]![l]!));
      k += inst.lanes[d]!;
    }
    this.reset();
  }

  /** Empties every lane but the time other jobs hold. */
  reset(): void {
    for (const lane of this.lanes) restore(lane);
  }

  /** Like reset(), for one device. */
  resetDevice(d: number): void {
    for (let l = 0; l < this.laneCount[d]!; l++) restore(this.lanes[this.laneBase[d]! + l]!);
  }

  /** Earliest start >= ready of a task of `duration` on device d; sets lastLane. */
  earliestStart(d: number, ready: number, duration: number): number {
    const base = this.laneBase[d]!;
    const count = this.laneCount[d]!;
    let best = Infinity;
    let bestLane = 0;
    for (let l = 0; l < count; l++) {
      const s = slotIn(this.lanes[base + l]!, ready, duration);
      if (s < best) {
        best = s;
        bestLane = l;
      }
    }
    this.lastLane = bestLane;
    return best;
  }

  /** Earliest start on one given lane. */
  earliestStartOnLane(d: number, lane: number, ready: number, duration: number): number {
    return slotIn(this.lanes[this.laneBase[d]! + lane]!, ready, duration);
  }

  insert(d: number, lane: number, start: number, end: number, task: number): void {
    const ln = this.lanes[this.laneBase[d]! + lane]!;
    if (ln.count === ln.starts.length) grow(ln);
    // After every interval starting at or before `start`.
    let lo = 0;
    let hi = ln.count;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (ln.starts[mid]! <= start) lo = mid + 1;
      else hi = mid;
    }
    if (lo < ln.count) {
      ln.starts.copyWithin(lo + 1, lo, ln.count);
      ln.ends.copyWithin(lo + 1, lo, ln.count);
      ln.owners.copyWithin(lo + 1, lo, ln.count);
    }
    ln.starts[lo] = start;
    ln.ends[lo] = end;
    ln.owners[lo] = task;
    ln.count++;
  }

  remove(d: number, lane: number, task: number): void {
    const ln = this.lanes[this.laneBase[d]! + lane]!;
    for (let i = ln.count - 1; i >= 0; i--) {
      if (ln.owners[i] === task) {
        ln.starts.copyWithin(i, i + 1, ln.count);
        ln.ends.copyWithin(i, i + 1, ln.count);
        ln.owners.copyWithin(i, i + 1, ln.count);
        ln.count--;
        return;
      }
    }
  }

  /** This job's tasks on a lane, in time order. */
  tasksOn(d: number, lane: number, out: number[]): number[] {
    out.length = 0;
    const ln = this.lanes[this.laneBase[d]! + lane]!;
    for (let i = 0; i < ln.count; i++) if (ln.owners[i]! >= 0) out.push(ln.owners[i]!);
    return out;
  }
}

function restore(lane: Lane): void {
  const b = lane.busy;
  lane.count = 0;
  for (let i = 0; i < b.length; i += 2) {
    lane.starts[lane.count] = b[i]!;
    lane.ends[lane.count] = b[i + 1]!;
    lane.owners[lane.count] = -1;
    lane.count++;
  }
}

function grow(ln: Lane): void {
  const cap = ln.starts.length * 2;
  const s = new Float64Array(cap);
  s.set(ln.starts);
  const e = new Float64Array(cap);
  e.set(ln.ends);
  const o = new Int32Array(cap);
  o.set(ln.owners);
  ln.starts = s;
  ln.ends = e;
  ln.owners = o;
}

function slotIn(ln: Lane, ready: number, duration: number): number {
  const count = ln.count;
  if (count === 0 || ln.ends[count - 1]! <= ready) return ready;
  // First interval ending after `ready` (ends are sorted: intervals are disjoint and sorted).
  let lo = 0;
  let hi = count;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ln.ends[mid]! <= ready) lo = mid + 1;
    else hi = mid;
  }
  let candidate = ready;
  for (let i = lo; i < count; i++) {
    if (candidate + duration <= ln.starts[i]!) return candidate;
    if (ln.ends[i]! > candidate) candidate = ln.ends[i]!;
  }
  return candidate;
}
