/**
 * `edge` and `cloud`: the input stays where its data is (the origin, or a data-source device) and
 * everything else runs on the best device of that role, judged by the objective. When no single
 * device of the role can hold the whole model, the tasks that do not fit spill, in priority
 * order, onto the next devices of the role (how split Dense shards spread).
 */
import { failed, type AlgorithmResult } from '../algorithm.ts';
import { Evaluator } from '../evaluator.ts';
import type { Instance } from '../instance.ts';
import { compareScores, type Score } from '../objective.ts';
import type { DeviceRole } from '../types.ts';

export function planOffload(inst: Instance, role: Exclude<DeviceRole, 'iot'>): AlgorithmResult {
  const candidates: number[] = [];
  for (let d = 0; d < inst.D; d++) if (inst.roles[d] === role && d !== inst.origin) candidates.push(d);
  if (candidates.length === 0) {
    return failed({ code: 'E_NO_DEVICES', reason: 'no-device', message: `${role}: there is no ${role} device (other than the origin) to offload to` });
  }
  const ev = new Evaluator(inst);
  const ranked: Array<{ d: number; score: Score; placement: Int32Array }> = [];
  for (const d of candidates) {
    const placement = new Int32Array(inst.n);
    for (let t = 0; t < inst.n; t++) {
      if (inst.pinned[t]! >= 0) placement[t] = inst.pinned[t]!;
      else if (inst.isInput[t]) placement[t] = inst.origin;
      else placement[t] = inst.allowed[t * inst.D + d] ? d : inst.origin;
    }
    ranked.push({ d, placement, score: { ...ev.score(placement) } });
  }
  ranked.sort((a, b) => compareScores(a.score, b.score) || a.d - b.d);
  const best = ranked[0]!;
  if (best.score.memViolation === 0) {
    return { placement: best.placement, optimal: null, notes: [], chosen: inst.deviceIds[best.d]! };
  }
  // Spill: fill devices of the role in rank order, each task to the first with room.
  const order = ranked.map((r) => r.d);
  const used = new Float64Array(inst.D);
  const peak = new Float64Array(inst.D);
  const placement = new Int32Array(inst.n);
  for (let k = 0; k < inst.n; k++) {
    const t = inst.order[k]!;
    let target = -1;
    if (inst.pinned[t]! >= 0) target = inst.pinned[t]!;
    else if (inst.isInput[t]) target = inst.origin;
    else {
      for (const d of order) {
        if (inst.allowed[t * inst.D + d] && used[d]! + inst.params[t]! + Math.max(peak[d]!, inst.act[t]!) <= inst.memCap[d]!) {
          target = d;
          break;
        }
      }
      if (target < 0) target = best.d;
    }
    placement[t] = target;
    used[target]! += inst.params[t]!;
    peak[target] = Math.max(peak[target]!, inst.act[t]!);
  }
  const spread = new Set(order.filter((d) => placement.includes(d))).size;
  return { placement, optimal: null, notes: spread > 1 ? [`no single ${role} device holds the model; spread over ${spread} ${role} devices`] : [] };
}
