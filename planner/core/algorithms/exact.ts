/**
 * `exact`: branch and bound over placements, the yardstick for small instances.
 *
 * Tasks are placed in the instance's priority order, which is the order the evaluator schedules
 * them in, so the partial schedule of the first k tasks is final: every node extends it by one
 * task on one device. Leaves are scored by the evaluator itself, so the optimum found is the
 * optimum of exactly what every plan reports (brute force over all placements agrees; see tests).
 *
 * Bounds (each a valid lower bound on any completion):
 * - latency: the larger of (a) the latest finish or result arrival so far, (b) for every task not
 *   yet placed, its earliest finish with unlimited parallelism — each device's committed timeline
 *   is respected, later tasks ignored — plus its result's trip home, and (c) all remaining work
 *   spread perfectly over every executor;
 * - energy: the origin idles at least until the latency bound; committed compute and radio are
 *   paid; each remaining task costs at least its cheapest device's marginal energy.
 * Pruned: memory overflow, bounds past the deadline or the energy budget, bounds no better than
 * the incumbent. Devices that are indistinguishable and both still unused are tried once.
 */
import { Evaluator } from '../evaluator.ts';
import { arriveAt, type Instance } from '../instance.ts';
import { compareScores, isFeasibleScore, objectiveCost, type Score } from '../objective.ts';
import { radioLegEnergyJ } from '../../../power/energy.ts';
import { Timelines } from '../timeline.ts';

export interface ExactOptions {
  maxNodes: number;
  /** A feasible placement to beat (its score prunes from the start). */
  incumbent?: { placement: Int32Array; score: Score };
}

export interface ExactResult {
  placement: Int32Array | null;
  score: Score | null;
  nodes: number;
  /** The search finished: the placement is optimal, or none is feasible. */
  complete: boolean;
}

const TOL = 1e-9;

export function exactSearch(inst: Instance, options: ExactOptions): ExactResult {
  const { n, D, order, origin } = inst;
  const serial = inst.timing === 'serial';
  const ev = new Evaluator(inst);
  const timelines = new Timelines(inst);
  const dev = new Int32Array(n).fill(-1);
  const laneOf = new Int32Array(n);
  const start = new Float64Array(n);
  const finish = new Float64Array(n);
  const memParams = new Float64Array(D);
  const memPeak = new Float64Array(D);
  const used = new Int32Array(D);
  const eft = new Float64Array(n * D);
  const minW = new Float64Array(n);
  const marginalJ = new Float64Array(n);
  const recv = new Int32Array(serial || inst.needsEnergy ? n * D : 0);
  let stamp = 0;
  const stampOf = new Int32Array(serial || inst.needsEnergy ? n * D : 0);
  let totalLanes = 0;
  for (let d = 0; d < D; d++) totalLanes += inst.lanes[d]!;
  for (let t = 0; t < n; t++) {
    let m = Infinity;
    let mj = Infinity;
    for (let d = 0; d < D; d++) {
      if (!inst.allowed[t * D + d]) continue;
      const w = inst.compute[t * D + d]!;
      m = Math.min(m, w);
      mj = Math.min(mj, d === origin ? ((inst.busyW[d]! - inst.idleW[d]!) * w) / 1000 : (inst.busyW[d]! * w) / 1000);
    }
    minW[t] = m;
    marginalJ[t] = mj;
  }
  const classOf = deviceClasses(inst);

  let best: { placement: Int32Array; score: Score } | null = null;
  if (options.incumbent && isFeasibleScore(options.incumbent.score)) {
    best = { placement: Int32Array.from(options.incumbent.placement), score: { ...options.incumbent.score } };
  }
  let nodes = 0;
  let work = 0;
  // Bounds cost more per node on big instances: cap the inner-loop steps too.
  const maxWork = options.maxNodes * 200;
  let aborted = false;
  let clock = 0;
  let committedMs = 0;
  let partialMax = 0;

  const deadline = inst.constraints.deadlineMs;
  const budget = inst.constraints.energyBudgetJ;

  const bound = (k: number): { m: number; cost: number; originJ: number } => {
    // Latency.
    let lbM: number;
    if (serial) {
      lbM = clock;
      for (let i = k; i < n; i++) lbM += minW[order[i]!]!;
      for (let i = 0; i < k; i++) {
        const t = order[i]!;
        if (inst.returnResult && inst.isOutput[t] && dev[t] !== origin) lbM += inst.resultBytes[t]! * inst.perByte[dev[t]! * D + origin]! + inst.fixed[dev[t]! * D + origin]!;
      }
    } else {
      lbM = partialMax;
      let remaining = committedMs;
      for (let i = k; i < n; i++) {
        const t = order[i]!;
        remaining += minW[t]!;
        let bestF = Infinity;
        let bestTail = Infinity;
        for (let d = 0; d < D; d++) {
          if (!inst.allowed[t * D + d]) {
            eft[t * D + d] = Infinity;
            continue;
          }
          let r = 0;
          for (let e = inst.predStart[t]!; e < inst.predStart[t + 1]!; e++) {
            const p = inst.predTask[e]!;
            const bytes = inst.edgeBytes[e]!;
            let arrive: number;
            if (dev[p]! >= 0) {
              const a = dev[p]!;
              arrive = arriveAt(inst, a, d, bytes, finish[p]!);
            } else {
              arrive = Infinity;
              work += D;
              for (let a = 0; a < D; a++) {
                const f = eft[p * D + a]!;
                if (f === Infinity) continue;
                const v = arriveAt(inst, a, d, bytes, f);
                if (v < arrive) arrive = v;
              }
            }
            if (arrive > r) r = arrive;
          }
          const w = inst.compute[t * D + d]!;
          const f = timelines.earliestStart(d, r, w) + w;
          eft[t * D + d] = f;
          if (f < bestF) bestF = f;
          if (inst.returnResult && inst.isOutput[t]) {
            const tail = arriveAt(inst, d, origin, inst.resultBytes[t]!, f);
            if (tail < bestTail) bestTail = tail;
          }
        }
        work += D;
        if (bestF > lbM) lbM = bestF;
        if (bestTail !== Infinity && bestTail > lbM) lbM = bestTail;
      }
      const load = remaining / totalLanes;
      if (load > lbM) lbM = load;
    }
    if (!inst.needsEnergy) return { m: lbM, cost: objectiveCost(inst.objective, lbM, 0, 0), originJ: 0 };
    // Energy: committed compute and radio (each tensor counted once per receiving device).
    const stampNow = ++stamp;
    let originJ = 0;
    let helpersJ = 0;
    let originMs = 0;
    const charge = (a: number, c: number, bytes: number): void => {
      const up = bytes * inst.upPerByte[a]! + inst.halfRtt[a]!;
      const down = bytes * inst.downPerByte[c]! + inst.halfRtt[c]!;
      const upJ = radioLegEnergyJ(inst.power[a]!.radioModel, 'up', bytes, up);
      const downJ = radioLegEnergyJ(inst.power[c]!.radioModel, 'down', bytes, down);
      if (a === origin) originJ += upJ;
      else helpersJ += upJ + (inst.idleW[a]! * up) / 1000;
      if (c === origin) originJ += downJ;
      else helpersJ += downJ + (inst.idleW[c]! * down) / 1000;
    };
    for (let i = 0; i < k; i++) {
      const t = order[i]!;
      const d = dev[t]!;
      const w = inst.compute[t * D + d]!;
      if (d === origin) originMs += w;
      else helpersJ += (inst.busyW[d]! * w) / 1000;
      for (let e = inst.predStart[t]!; e < inst.predStart[t + 1]!; e++) {
        const p = inst.predTask[e]!;
        const a = dev[p]!;
        if (a === d) continue;
        const key = p * D + d;
        if (stampOf[key] === stampNow) continue;
        stampOf[key] = stampNow;
        charge(a, d, inst.edgeBytes[e]!);
      }
      if (inst.returnResult && inst.isOutput[t] && d !== origin) charge(d, origin, inst.resultBytes[t]!);
    }
    const idleO = inst.idleW[origin]!;
    const lbOrigin = (idleO * lbM) / 1000 + ((inst.busyW[origin]! - idleO) * originMs) / 1000 + originJ;
    let lbTotal = lbOrigin + helpersJ;
    for (let i = k; i < n; i++) lbTotal += marginalJ[order[i]!]!;
    return { m: lbM, cost: objectiveCost(inst.objective, lbM, lbOrigin, lbTotal), originJ: lbOrigin };
  };

  const prune = (k: number): boolean => {
    const lb = bound(k);
    if (deadline !== undefined && lb.m > deadline * (1 + 1e-12)) return true;
    if (budget !== undefined && lb.originJ > budget * (1 + 1e-12)) return true;
    if (best !== null && lb.cost >= best.score.cost - TOL * Math.max(1, Math.abs(best.score.cost))) return true;
    return false;
  };

  const leaf = (): void => {
    const score = ev.score(dev);
    if (!isFeasibleScore(score)) return;
    if (best === null || compareScores(score, best.score) < 0) best = { placement: Int32Array.from(dev), score: { ...score } };
  };

  const candidates: Array<Array<{ d: number; s: number; f: number; lane: number; clock: number }>> = [];
  for (let k = 0; k < n; k++) candidates.push([]);

  const visit = (k: number): void => {
    if (aborted) return;
    if (k === n) {
      leaf();
      return;
    }
    nodes++;
    if (nodes > options.maxNodes || work > maxWork) {
      aborted = true;
      return;
    }
    const t = order[k]!;
    const list = candidates[k]!;
    list.length = 0;
    for (let d = 0; d < D; d++) {
      if (!inst.allowed[t * D + d]) continue;
      if (memParams[d]! + inst.params[t]! + Math.max(memPeak[d]!, inst.act[t]!) > inst.memCap[d]!) continue;
      if (used[d] === 0 && classOf[d]! >= 0) {
        let twin = false;
        for (let c = 0; c < d && !twin; c++) twin = classOf[c] === classOf[d] && used[c] === 0;
        if (twin) continue;
      }
      const w = inst.compute[t * D + d]!;
      let r = 0;
      let newClock = clock;
      if (serial) {
        for (let e = inst.predStart[t]!; e < inst.predStart[t + 1]!; e++) {
          const p = inst.predTask[e]!;
          const a = dev[p]!;
          if (a === d) continue;
          const key = p * D + d;
          if (recv[key]! > 0) continue;
          // Count each (tensor, device) once even when two edges of t share it.
          let dup = false;
          for (let q = inst.predStart[t]!; q < e && !dup; q++) dup = inst.predTask[q] === p;
          if (dup) continue;
          newClock = arriveAt(inst, a, d, inst.tensorBytes[p]!, newClock);
        }
        r = newClock;
      } else {
        for (let e = inst.predStart[t]!; e < inst.predStart[t + 1]!; e++) {
          const p = inst.predTask[e]!;
          const a = dev[p]!;
          const arrive = arriveAt(inst, a, d, inst.edgeBytes[e]!, finish[p]!);
          if (arrive > r) r = arrive;
        }
      }
      const s = timelines.earliestStart(d, r, w);
      list.push({ d, s, f: s + w, lane: timelines.lastLane, clock: s + w });
    }
    list.sort((x, y) => x.f - y.f || x.d - y.d);
    const options2 = list.slice();
    for (const c of options2) {
      const d = c.d;
      const prevPeak = memPeak[d]!;
      const prevClock = clock;
      const prevMax = partialMax;
      dev[t] = d;
      laneOf[t] = c.lane;
      start[t] = c.s;
      finish[t] = c.f;
      timelines.insert(d, c.lane, c.s, c.f, t);
      memParams[d]! += inst.params[t]!;
      memPeak[d] = Math.max(prevPeak, inst.act[t]!);
      used[d]!++;
      committedMs += inst.compute[t * D + d]!;
      if (serial) {
        for (let e = inst.predStart[t]!; e < inst.predStart[t + 1]!; e++) {
          const p = inst.predTask[e]!;
          if (dev[p] !== d) recv[p * D + d]!++;
        }
        clock = c.clock;
      }
      let arrive = c.f;
      if (inst.returnResult && inst.isOutput[t] && d !== origin) arrive = arriveAt(inst, d, origin, inst.resultBytes[t]!, c.f);
      partialMax = Math.max(partialMax, arrive);

      if (!prune(k + 1)) visit(k + 1);

      partialMax = prevMax;
      if (serial) {
        for (let e = inst.predStart[t]!; e < inst.predStart[t + 1]!; e++) {
          const p = inst.predTask[e]!;
          if (dev[p] !== d) recv[p * D + d]!--;
        }
        clock = prevClock;
      }
      committedMs -= inst.compute[t * D + d]!;
      used[d]!--;
      memPeak[d] = prevPeak;
      memParams[d]! -= inst.params[t]!;
      timelines.remove(d, c.lane, t);
      dev[t] = -1;
      if (aborted) return;
    }
  };

  if (!prune(0)) visit(0);
  const found = best as { placement: Int32Array; score: Score } | null;
  return { placement: found?.placement ?? null, score: found?.score ?? null, nodes, complete: !aborted };
}

/** Class id per device (-1: unique, the origin, or a pin target); equal ids are interchangeable. */
function deviceClasses(inst: Instance): Int32Array {
  const { n, D } = inst;
  const classOf = new Int32Array(D).fill(-1);
  const special = new Uint8Array(D);
  special[inst.origin] = 1;
  for (let t = 0; t < n; t++) if (inst.pinned[t]! >= 0) special[inst.pinned[t]!] = 1;
  const same = (a: number, b: number): boolean => {
    if (inst.lanes[a] !== inst.lanes[b] || inst.memCap[a] !== inst.memCap[b]) return false;
    if (inst.upPerByte[a] !== inst.upPerByte[b] || inst.downPerByte[a] !== inst.downPerByte[b] || inst.halfRtt[a] !== inst.halfRtt[b]) return false;
    if (inst.upBusy[a]!.length > 0 || inst.upBusy[b]!.length > 0 || inst.downBusy[a]!.length > 0 || inst.downBusy[b]!.length > 0) return false;
    if (inst.idleW[a] !== inst.idleW[b] || inst.busyW[a] !== inst.busyW[b]) return false;
    const ra = inst.power[a]!.radioModel;
    const rb = inst.power[b]!.radioModel;
    if (ra.upAlphaMwPerMbps !== rb.upAlphaMwPerMbps || ra.downAlphaMwPerMbps !== rb.downAlphaMwPerMbps || ra.betaMw !== rb.betaMw) return false;
    if (!inst.busy[a]!.every((l) => l.length === 0) || !inst.busy[b]!.every((l) => l.length === 0)) return false;
    for (let t = 0; t < n; t++) {
      if (inst.compute[t * D + a] !== inst.compute[t * D + b] || inst.allowed[t * D + a] !== inst.allowed[t * D + b]) return false;
    }
    return true;
  };
  let next = 0;
  for (let a = 0; a < D; a++) {
    if (special[a] || classOf[a]! >= 0) continue;
    let shared = false;
    for (let b = a + 1; b < D; b++) {
      if (special[b] || classOf[b]! >= 0) continue;
      if (same(a, b)) {
        classOf[b] = next;
        shared = true;
      }
    }
    if (shared) classOf[a] = next++;
  }
  return classOf;
}
