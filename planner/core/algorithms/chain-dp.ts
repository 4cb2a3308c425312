/**
 * `chain-dp`: dynamic programming over a chain, any number of devices.
 *
 * The DAG is read as a chain of blocks: cut the priority order wherever exactly one tensor, made
 * by the task just before the cut, crosses it (or none). A chain is a chain of one-task blocks;
 * ResNet's residual blocks and Inception's modules become single blocks. Each block runs whole on
 * one device; block b on device d after block b-1 on device a costs the transfer of the cut tensor
 * a -> d and then the block's compute (inserted around other jobs' busy time).
 *
 * Labels per (block, device) carry the finish time and the additive energy parts (the origin's
 * own compute and radio; everybody's for energy-total); the origin's idle power applies to the
 * end-to-end time at the end. Labels are kept Pareto-optimal in the dimensions the objective and
 * constraints use, so the result is exact for chains under every objective, queued devices
 * included. Memory is checked per block; if blocks on one device overflow it together, local
 * improvement repairs the placement and the plan is no longer claimed optimal.
 */
import { failed, type AlgorithmResult } from '../algorithm.ts';
import { radioLegEnergyJ } from '../../../power/energy.ts';
import { Evaluator } from '../evaluator.ts';
import { arriveAt, type Instance } from '../instance.ts';
import { objectiveCost } from '../objective.ts';
import { Timelines } from '../timeline.ts';
import { improvePlacement } from './improve.ts';

const MAX_LABELS = 64;

interface Label {
  finish: number;
  /** Additive part of the origin's energy (J), and of the total. */
  eOrigin: number;
  eTotal: number;
  prevDevice: number;
  prevLabel: number;
}

export interface Blocks {
  /** Block b holds priority positions start[b] .. start[b+1]-1. */
  start: number[];
  /** The task whose tensor enters block b (-1: none). */
  entry: number[];
}

/** Splits the priority order into blocks joined by single tensors. */
export function chainBlocks(inst: Instance): Blocks {
  const { n, order, pos } = inst;
  const lastUse = new Int32Array(n).fill(-1);
  const open = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) {
    const t = order[i]!;
    let last = -1;
    for (let s = inst.succStart[t]!; s < inst.succStart[t + 1]!; s++) last = Math.max(last, pos[inst.succTask[s]!]!);
    lastUse[i] = last;
    if (last > i) {
      open[i + 1]!++;
      open[last + 1]!--;
    }
  }
  const start = [0];
  const entry = [-1];
  let crossing = 0;
  for (let k = 1; k <= n; k++) {
    crossing += open[k]!;
    if (k === n) break;
    if (crossing === 0) {
      start.push(k);
      entry.push(-1);
    } else if (crossing === 1 && lastUse[k - 1]! >= k) {
      start.push(k);
      entry.push(order[k - 1]!);
    }
  }
  start.push(n);
  return { start, entry };
}

export function planChainDp(inst: Instance): AlgorithmResult {
  const { n, D, origin, order } = inst;
  const blocks = chainBlocks(inst);
  const B = blocks.start.length - 1;
  const useOrigin = inst.objective.kind === 'energy' || inst.objective.kind === 'weighted' || inst.constraints.energyBudgetJ !== undefined;
  const useTotal = inst.objective.kind === 'energy-total';
  const timelines = new Timelines(inst);
  const idleO = inst.idleW[origin]!;
  let capped = false;

  // Which devices can take each block whole (pins, memory of the block alone).
  const fits: Uint8Array[] = [];
  let oversized = 0;
  for (let b = 0; b < B; b++) {
    const ok = new Uint8Array(D);
    for (let d = 0; d < D; d++) {
      let params = 0;
      let peak = 0;
      let allowed = true;
      for (let i = blocks.start[b]!; i < blocks.start[b + 1]!; i++) {
        const t = order[i]!;
        if (!inst.allowed[t * D + d]) allowed = false;
        params += inst.params[t]!;
        peak = Math.max(peak, inst.act[t]!);
      }
      ok[d] = allowed && params + peak <= inst.memCap[d]! ? 1 : 0;
    }
    if (!ok.includes(1)) {
      // No device holds the block whole (Dense shards that must spread): let the DP ignore its
      // weights and leave the spreading to the memory repair below.
      oversized++;
      for (let d = 0; d < D; d++) {
        let allowed = true;
        for (let i = blocks.start[b]!; i < blocks.start[b + 1]!; i++) if (!inst.allowed[order[i]! * D + d]) allowed = false;
        ok[d] = allowed ? 1 : 0;
      }
    }
    fits.push(ok);
  }

  // Fast path: on a device with one executor and no queued work, a block whose tasks all wait for
  // its entry tensor runs back to back.
  const blockMs: Float64Array[] = [];
  const simple = new Uint8Array(B);
  for (let b = 0; b < B; b++) {
    const ms = new Float64Array(D);
    for (let k = blocks.start[b]!; k < blocks.start[b + 1]!; k++) for (let d = 0; d < D; d++) ms[d]! += inst.compute[order[k]! * D + d]!;
    blockMs.push(ms);
    let ok = b > 0 && blocks.entry[b]! >= 0;
    for (let k = blocks.start[b]!; k < blocks.start[b + 1]! && ok; k++) if (inst.predStart[order[k]! + 1] === inst.predStart[order[k]!]) ok = false;
    simple[b] = ok ? 1 : 0;
  }
  const quiet = new Uint8Array(D);
  for (let d = 0; d < D; d++) quiet[d] = inst.lanes[d] === 1 && inst.busy[d]!.every((l) => l.length === 0) ? 1 : 0;

  /** Finish of block b on d when its entry tensor arrives at `ready`. */
  const runBlock = (b: number, d: number, ready: number): number => {
    if (simple[b] && quiet[d]) return ready + blockMs[b]![d]!;
    timelines.resetDevice(d);
    const finish = new Map<number, number>();
    let end = ready;
    for (let i = blocks.start[b]!; i < blocks.start[b + 1]!; i++) {
      const t = order[i]!;
      let r = 0;
      for (let e = inst.predStart[t]!; e < inst.predStart[t + 1]!; e++) {
        const f = finish.get(inst.predTask[e]!);
        r = Math.max(r, f ?? ready);
      }
      const w = inst.compute[t * D + d]!;
      const s = timelines.earliestStart(d, r, w);
      timelines.insert(d, timelines.lastLane, s, s + w, t);
      finish.set(t, s + w);
      end = Math.max(end, s + w);
    }
    return end;
  };
  const blockEnergy = (b: number, d: number): [number, number] => {
    const ms = blockMs[b]![d]!;
    if (d === origin) {
      const e = ((inst.busyW[d]! - idleO) * ms) / 1000;
      return [e, e];
    }
    return [0, (inst.busyW[d]! * ms) / 1000];
  };
  /** Energy parts of moving `bytes` from a to c: [origin part, total part]; and its time. */
  const moveEnergy = (bytes: number, a: number, c: number): [number, number] => {
    if (a === c) return [0, 0];
    const up = bytes * inst.upPerByte[a]! + inst.halfRtt[a]!;
    const down = bytes * inst.downPerByte[c]! + inst.halfRtt[c]!;
    const upJ = radioLegEnergyJ(inst.power[a]!.radioModel, 'up', bytes, up);
    const downJ = radioLegEnergyJ(inst.power[c]!.radioModel, 'down', bytes, down);
    let eo = 0;
    let et = 0;
    if (a === origin) {
      eo += upJ;
      et += upJ;
    } else et += upJ + (inst.idleW[a]! * up) / 1000;
    if (c === origin) {
      eo += downJ;
      et += downJ;
    } else et += downJ + (inst.idleW[c]! * down) / 1000;
    return [eo, et];
  };

  const dominates = (x: Label, y: Label): boolean =>
    x.finish <= y.finish && (!useOrigin || x.eOrigin <= y.eOrigin) && (!useTotal || x.eTotal <= y.eTotal);
  const addLabel = (list: Label[], label: Label): void => {
    for (const other of list) if (dominates(other, label)) return;
    for (let i = list.length - 1; i >= 0; i--) if (dominates(label, list[i]!)) list.splice(i, 1);
    list.push(label);
  };
  const estimate = (l: Label): number => objectiveCost(inst.objective, l.finish, idleO * l.finish / 1000 + l.eOrigin, idleO * l.finish / 1000 + l.eTotal);

  const labels: Label[][][] = [];
  for (let b = 0; b < B; b++) {
    const row: Label[][] = [];
    const entry = blocks.entry[b]!;
    const bytes = entry >= 0 ? inst.tensorBytes[entry]! : 0;
    for (let d = 0; d < D; d++) {
      const list: Label[] = [];
      if (fits[b]![d]) {
        const [cO, cT] = blockEnergy(b, d);
        if (b === 0) {
          addLabel(list, { finish: runBlock(b, d, 0), eOrigin: cO, eTotal: cT, prevDevice: -1, prevLabel: -1 });
        } else {
          for (let a = 0; a < D; a++) {
            const prev = labels[b - 1]![a]!;
            if (prev.length === 0) continue;

            const [mO, mT] = entry >= 0 ? moveEnergy(bytes, a, d) : [0, 0];
            prev.forEach((p, i) => {
              const arrive = entry >= 0 ? arriveAt(inst, a, d, bytes, p.finish) : p.finish;
              addLabel(list, { finish: runBlock(b, d, arrive), eOrigin: p.eOrigin + mO + cO, eTotal: p.eTotal + mT + cT, prevDevice: a, prevLabel: i });
            });
          }
        }
      }
      if (list.length > MAX_LABELS) {
        capped = true;
        list.sort((x, y) => estimate(x) - estimate(y));
        list.length = MAX_LABELS;
      }
      row.push(list);
    }
    labels.push(row);
  }

  // Close: results travel back to the origin from the last block's outputs.
  const lastStart = blocks.start[B - 1]!;
  let best: { d: number; i: number; key: [number, number, number] } | null = null;
  for (let d = 0; d < D; d++) {
    labels[B - 1]![d]!.forEach((l, i) => {
      let m = l.finish;
      let eo = l.eOrigin;
      let et = l.eTotal;
      if (inst.returnResult && d !== origin) {
        for (let k = lastStart; k < n; k++) {
          const t = order[k]!;
          if (!inst.isOutput[t]) continue;
          m = Math.max(m, arriveAt(inst, d, origin, inst.resultBytes[t]!, l.finish));
          const [mo, mt] = moveEnergy(inst.resultBytes[t]!, d, origin);
          eo += mo;
          et += mt;
        }
      }
      const originJ = (idleO * m) / 1000 + eo;
      const totalJ = (idleO * m) / 1000 + et;
      let violation = 0;
      if (inst.constraints.deadlineMs !== undefined && m > inst.constraints.deadlineMs) violation += (m - inst.constraints.deadlineMs) / inst.constraints.deadlineMs;
      if (inst.constraints.energyBudgetJ !== undefined && originJ > inst.constraints.energyBudgetJ) violation += (originJ - inst.constraints.energyBudgetJ) / inst.constraints.energyBudgetJ;
      const key: [number, number, number] = [violation, objectiveCost(inst.objective, m, originJ, totalJ), m];
      if (best === null || key[0] < best.key[0] || (key[0] === best.key[0] && (key[1] < best.key[1] || (key[1] === best.key[1] && key[2] < best.key[2])))) {
        best = { d, i, key };
      }
    });
  }
  if (best === null) {
    return failed({ code: 'E_INFEASIBLE', reason: 'memory', message: 'chain-dp: some block fits no device whole (memory or pins)' });
  }
  const chosen: { d: number; i: number } = best;
  const placement = new Int32Array(n);
  let d = chosen.d;
  let i = chosen.i;
  for (let b = B - 1; b >= 0; b--) {
    const l = labels[b]![d]![i]!;
    for (let k = blocks.start[b]!; k < blocks.start[b + 1]!; k++) placement[order[k]!] = d;
    d = l.prevDevice;
    i = l.prevLabel;
  }
  const notes: string[] = [];
  if (B < n) notes.push(`${n} tasks read as a chain of ${B} blocks`);
  if (oversized > 0) notes.push(`${oversized} block(s) fit no device whole`);
  let optimal: boolean | null = inst.isChain && !capped ? true : null;
  if (capped) notes.push(`label lists were capped at ${MAX_LABELS}; the plan may not be optimal`);
  const ev = new Evaluator(inst);
  if (ev.memoryViolation(placement) > 0) {
    notes.push('blocks together overflowed a device\'s memory; repaired by local moves');
    optimal = null;
    return { placement: improvePlacement(inst, placement, inst.limits.improveWork, ev).placement, optimal, notes };
  }
  return { placement, optimal, notes };
}
