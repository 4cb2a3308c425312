/**
 * HEFT (Topcuoglu, Hariri, Wu, IEEE TPDS 13(3), 2002): tasks in decreasing upward rank, each on
 * the device where it finishes earliest, inserted into the earliest idle gap that holds it.
 * Extensions: pins and memory limits restrict the devices a task may take, executors are lanes,
 * and a model output counts the trip of its result back to the origin.
 * The evaluator reproduces HEFT's schedule for HEFT's placement exactly (same order, same rule).
 */
import { failed, type AlgorithmResult } from '../algorithm.ts';
import { arriveAt, type Instance } from '../instance.ts';
import { Timelines } from '../timeline.ts';

const REL = 1e-9;

export function planHeft(inst: Instance): AlgorithmResult {
  const { n, D, order, predStart, predTask, edgeBytes, compute, allowed } = inst;
  const timelines = new Timelines(inst);
  const placement = new Int32Array(n).fill(-1);
  const finish = new Float64Array(n);
  const memParams = new Float64Array(D);
  const memPeak = new Float64Array(D);
  for (let k = 0; k < n; k++) {
    const t = order[k]!;
    let best = -1;
    let bestKey = Infinity;
    let bestStart = 0;
    let bestLane = 0;
    for (let d = 0; d < D; d++) {
      if (!allowed[t * D + d]) continue;
      if (memParams[d]! + inst.params[t]! + Math.max(memPeak[d]!, inst.act[t]!) > inst.memCap[d]!) continue;
      let r = 0;
      for (let e = predStart[t]!; e < predStart[t + 1]!; e++) {
        const p = predTask[e]!;
        const a = placement[p]!;
        const arrive = arriveAt(inst, a, d, edgeBytes[e]!, finish[p]!);
        if (arrive > r) r = arrive;
      }
      const w = compute[t * D + d]!;
      const s = timelines.earliestStart(d, r, w);
      let key = s + w;
      if (inst.returnResult && inst.isOutput[t]) key = arriveAt(inst, d, inst.origin, inst.resultBytes[t]!, key);
      if (best < 0 || key < bestKey - REL * Math.max(1, Math.abs(bestKey))) {
        best = d;
        bestKey = key;
        bestStart = s;
        bestLane = timelines.lastLane;
      }
    }
    if (best < 0) {
      return failed({
        code: 'E_INFEASIBLE', reason: 'memory',
        message: `heft: no device has memory left for task "${inst.taskIds[t]}" after placing the tasks before it`,
      });
    }
    const w = compute[t * D + best]!;
    placement[t] = best;
    finish[t] = bestStart + w;
    timelines.insert(best, bestLane, bestStart, bestStart + w, t);
    memParams[best]! += inst.params[t]!;
    if (inst.act[t]! > memPeak[best]!) memPeak[best] = inst.act[t]!;
  }
  return { placement, optimal: null, notes: [] };
}
