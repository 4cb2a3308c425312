/**
 * Evaluating a placement: the predicted schedule, memory, energy and score. Every algorithm's
 * placement is judged by this one evaluator, so plans compare fairly and `exact` is exact for
 * exactly what every plan reports.
 *
 * The schedule of a placement is list scheduling in the instance's fixed priority order
 * (decreasing upward rank): each task starts at the earliest time its inputs have all arrived and
 * an executor of its device has a gap long enough (insertion). This is the schedule HEFT builds
 * for its own placement, so HEFT's plan is reproduced exactly.
 *
 * Buffers are reused between calls: read results before the next evaluation, or copy them.
 */
import { cpuEnergyJ, radioLegEnergyJ } from '../../power/energy.ts';
import { arriveAt, type Instance } from './instance.ts';
import { objectiveCost, type Score } from './objective.ts';
import { formStages, type StageLayout } from './stages.ts';
import { Timelines } from './timeline.ts';

export class Evaluator {
  readonly inst: Instance;
  readonly timelines: Timelines;
  readonly start: Float64Array;
  readonly finish: Float64Array;
  readonly ready: Float64Array;
  readonly lane: Int32Array;
  readonly edgeArrive: Float64Array;
  /** Arrival at the origin of each output task's result (indexed by task; 0 for others). */
  readonly resultArrive: Float64Array;
  makespanMs = 0;
  // Energy, per device.
  readonly computeMs: Float64Array;
  readonly idleMs: Float64Array;
  readonly radioMs: Float64Array;
  readonly radioJ: Float64Array;
  readonly energyJ: Float64Array;
  readonly memBytes: Float64Array;
  private readonly memPeak: Float64Array;
  /** Stages of the last energy computation. */
  stages: StageLayout | null = null;
  /** Schedules computed so far, and their cost in task + edge visits (the budget unit of local search). */
  evaluations = 0;
  work = 0;
  /** The placement of the last schedule. */
  placement: Int32Array;
  private readonly recvStamp: Int32Array;
  private readonly recvTime: Float64Array;
  private stamp = 0;

  constructor(inst: Instance) {
    this.inst = inst;
    const { n, D, E } = inst;
    this.timelines = new Timelines(inst);
    this.start = new Float64Array(n);
    this.finish = new Float64Array(n);
    this.ready = new Float64Array(n);
    this.lane = new Int32Array(n);
    this.edgeArrive = new Float64Array(E);
    this.resultArrive = new Float64Array(n);
    this.computeMs = new Float64Array(D);
    this.idleMs = new Float64Array(D);
    this.radioMs = new Float64Array(D);
    this.radioJ = new Float64Array(D);
    this.energyJ = new Float64Array(D);
    this.memBytes = new Float64Array(D);
    this.memPeak = new Float64Array(D);
    this.placement = new Int32Array(n);
    this.recvStamp = inst.timing === 'serial' ? new Int32Array(n * D) : new Int32Array(0);
    this.recvTime = inst.timing === 'serial' ? new Float64Array(n * D) : new Float64Array(0);
  }

  /** Predicted schedule of a placement; returns the makespan (result back at the origin included). */
  schedule(placement: Int32Array): number {
    this.placement = placement;
    this.stages = null;
    this.evaluations++;
    this.work += this.inst.n + this.inst.E;
    return this.inst.timing === 'serial' ? this.scheduleSerial(placement) : this.scheduleParallel(placement);
  }

  private scheduleParallel(placement: Int32Array): number {
    const inst = this.inst;
    const { D, order, predStart, predTask, edgeBytes, perByte, fixed, compute, hasLinkBacklog } = inst;
    const { start, finish, ready, lane, edgeArrive, timelines } = this;
    timelines.reset();
    let makespan = 0;
    for (let k = 0; k < inst.n; k++) {
      const t = order[k]!;
      const d = placement[t]!;
      let r = 0;
      for (let e = predStart[t]!; e < predStart[t + 1]!; e++) {
        const p = predTask[e]!;
        const a = placement[p]!;
        const arrive = a === d ? finish[p]!
          : hasLinkBacklog ? arriveAt(inst, a, d, edgeBytes[e]!, finish[p]!)
          : finish[p]! + edgeBytes[e]! * perByte[a * D + d]! + fixed[a * D + d]!;
        edgeArrive[e] = arrive;
        if (arrive > r) r = arrive;
      }
      const w = compute[t * D + d]!;
      const s = timelines.earliestStart(d, r, w);
      const l = timelines.lastLane;
      timelines.insert(d, l, s, s + w, t);
      ready[t] = r;
      start[t] = s;
      finish[t] = s + w;
      lane[t] = l;
      if (s + w > makespan) makespan = s + w;
    }
    this.makespanMs = this.addResults(placement, makespan, false);
    return this.makespanMs;
  }

  /** One thing at a time: compute and transfers add up (the Neurosurgeon / DADS assumption). */
  private scheduleSerial(placement: Int32Array): number {
    const inst = this.inst;
    const { D, order, predStart, predTask, tensorBytes, compute } = inst;
    const { start, finish, ready, lane, edgeArrive, timelines, recvStamp, recvTime } = this;
    timelines.reset();
    const stamp = ++this.stamp;
    let clock = 0;
    for (let k = 0; k < inst.n; k++) {
      const t = order[k]!;
      const d = placement[t]!;
      for (let e = predStart[t]!; e < predStart[t + 1]!; e++) {
        const p = predTask[e]!;
        const a = placement[p]!;
        if (a === d) {
          edgeArrive[e] = finish[p]!;
          continue;
        }
        const key = p * D + d;
        if (recvStamp[key] !== stamp) {
          clock = arriveAt(inst, a, d, tensorBytes[p]!, clock);
          recvStamp[key] = stamp;
          recvTime[key] = clock;
        }
        edgeArrive[e] = recvTime[key]!;
      }
      const w = compute[t * D + d]!;
      const s = timelines.earliestStart(d, clock, w);
      const l = timelines.lastLane;
      timelines.insert(d, l, s, s + w, t);
      ready[t] = clock;
      start[t] = s;
      finish[t] = s + w;
      lane[t] = l;
      clock = s + w;
    }
    this.makespanMs = this.addResults(placement, clock, true);
    return this.makespanMs;
  }

  private addResults(placement: Int32Array, makespan: number, serial: boolean): number {
    const inst = this.inst;
    const { origin } = inst;
    let m = makespan;
    for (let k = 0; k < inst.outputs.length; k++) {
      const o = inst.outputs[k]!;
      const d = placement[o]!;
      if (!inst.returnResult || d === origin) {
        this.resultArrive[o] = this.finish[o]!;
        continue;
      }
      if (serial) {
        m = arriveAt(inst, d, origin, inst.resultBytes[o]!, m);
        this.resultArrive[o] = m;
      } else {
        this.resultArrive[o] = arriveAt(inst, d, origin, inst.resultBytes[o]!, this.finish[o]!);
        if (this.resultArrive[o]! > m) m = this.resultArrive[o]!;
      }
    }
    return m;
  }

  /** Memory per device (weights of its tasks + the largest working set) and the relative overflow. */
  memoryViolation(placement: Int32Array): number {
    const inst = this.inst;
    const mem = this.memBytes;
    const peak = this.memPeak;
    mem.fill(0);
    peak.fill(0);
    for (let t = 0; t < inst.n; t++) {
      const d = placement[t]!;
      mem[d]! += inst.params[t]!;
      if (inst.act[t]! > peak[d]!) peak[d] = inst.act[t]!;
    }
    let v = 0;
    for (let d = 0; d < inst.D; d++) {
      mem[d]! += peak[d]!;
      if (mem[d]! > inst.memCap[d]!) v += (mem[d]! - inst.memCap[d]!) / inst.memCap[d]!;
    }
    return v;
  }

  /** Energy per device for the last schedule (forms its stages). */
  computeEnergy(): void {
    const inst = this.inst;
    const { D, n } = inst;
    const placement = this.placement;
    const stages = formStages(inst, this, this.timelines);
    this.stages = stages;
    const { computeMs, idleMs, radioMs, radioJ, energyJ } = this;
    computeMs.fill(0);
    radioMs.fill(0);
    radioJ.fill(0);
    for (let t = 0; t < n; t++) computeMs[placement[t]!]! += inst.compute[t * D + placement[t]!]!;
    // One message per (tensor, receiving stage), as the wire routes them. The serial model keeps
    // its assumption that a device receives each tensor once: there it is per (tensor, device).
    const stageOf = inst.timing === 'serial' ? placement : stages.stageOf;
    for (let p = 0; p < n; p++) {
      const a = placement[p]!;
      const s0 = inst.succStart[p]!;
      const s1 = inst.succStart[p + 1]!;
      for (let s = s0; s < s1; s++) {
        const v = inst.succTask[s]!;
        if (placement[v] === a) continue;
        const st = stageOf[v]!;
        let seen = false;
        for (let q = s0; q < s && !seen; q++) seen = stageOf[inst.succTask[q]!] === st && placement[inst.succTask[q]!] !== a;
        if (seen) continue;
        let bytes = 0;
        for (let q = s; q < s1; q++) if (stageOf[inst.succTask[q]!] === st) bytes = Math.max(bytes, inst.edgeBytes[inst.succEdge[q]!]!);
        this.chargeTransfer(a, placement[v]!, bytes);
      }
    }
    if (inst.returnResult) {
      for (let k = 0; k < inst.outputs.length; k++) {
        const o = inst.outputs[k]!;
        if (placement[o] !== inst.origin) this.chargeTransfer(placement[o]!, inst.origin, inst.resultBytes[o]!);
      }
    }
    for (let d = 0; d < D; d++) {
      idleMs[d] = d === inst.origin ? Math.max(0, this.makespanMs - computeMs[d]!) : radioMs[d]!;
      energyJ[d] = cpuEnergyJ(inst.busyW[d]!, inst.idleW[d]!, computeMs[d]!, idleMs[d]!) + radioJ[d]!;
    }
  }

  private chargeTransfer(a: number, c: number, bytes: number): void {
    const inst = this.inst;
    const up = bytes * inst.upPerByte[a]! + inst.halfRtt[a]!;
    const down = bytes * inst.downPerByte[c]! + inst.halfRtt[c]!;
    this.radioMs[a]! += up;
    this.radioMs[c]! += down;
    this.radioJ[a]! += radioLegEnergyJ(inst.power[a]!.radioModel, 'up', bytes, up);
    this.radioJ[c]! += radioLegEnergyJ(inst.power[c]!.radioModel, 'down', bytes, down);
  }

  /** Schedules, checks memory, computes energy when the objective needs it, and scores. */
  score(placement: Int32Array, out: Score = newScore()): Score {
    const inst = this.inst;
    out.memViolation = this.memoryViolation(placement);
    const m = this.schedule(placement);
    let originJ = 0;
    let totalJ = 0;
    if (inst.needsEnergy) {
      this.computeEnergy();
      originJ = this.energyJ[inst.origin]!;
      for (let d = 0; d < inst.D; d++) totalJ += this.energyJ[d]!;
    }
    out.makespanMs = m;
    out.originEnergyJ = originJ;
    out.totalEnergyJ = totalJ;
    out.cost = objectiveCost(inst.objective, m, originJ, totalJ);
    let cv = 0;
    const { deadlineMs, energyBudgetJ } = inst.constraints;
    if (deadlineMs !== undefined && m > deadlineMs) cv += (m - deadlineMs) / deadlineMs;
    if (energyBudgetJ !== undefined && originJ > energyBudgetJ) cv += (originJ - energyBudgetJ) / energyBudgetJ;
    out.constraintViolation = cv;
    return out;
  }
}

export function newScore(): Score {
  return { memViolation: 0, constraintViolation: 0, cost: 0, makespanMs: 0, originEnergyJ: 0, totalEnergyJ: 0 };
}
