/**
 * DADS (Hu et al., INFOCOM 2019): the DAG split between the origin and one server as a minimum
 * s-t cut. Under its assumptions (one thing at a time, so the objective is a sum of per-task and
 * per-transfer costs; a tensor sent once to the other side; two devices) the cut is optimal, and
 * in either direction: tasks may go back to the origin after the server.
 *
 * Graph: source = origin side, sink = server side. source -> t costs t on the server, t -> sink
 * costs t on the origin; a pinned task gets an infinite edge. A tensor of u costs c_os(u) when u
 * is on the origin and some consumer on the server, c_so(u) the other way; with several consumers
 * two auxiliary nodes make each direction count once (u -> u' -> consumers, consumers -> u'' -> u).
 * A model output on the server pays its result's trip back (source -> output).
 * Costs follow the objective: ms for latency; for energy, the origin idles through every step and
 * pays its own compute and radio (and the server's for energy-total); weighted mixes both.
 * Tasks pinned to a third device stay there; their transfers become per-task costs (approximate).
 * The cut ignores memory totals: if a device overflows, local improvement repairs the placement.
 */
import { failed, type AlgorithmResult } from '../algorithm.ts';
import { radioLegEnergyJ } from '../../../power/energy.ts';
import { Evaluator } from '../evaluator.ts';
import type { Instance } from '../instance.ts';
import { FlowNetwork } from '../min-cut.ts';
import { compareScores, type Score } from '../objective.ts';
import { improvePlacement } from './improve.ts';

interface Weights {
  /** Cost per ms of end-to-end time (latency weight plus the origin's idle power). */
  perMs: number;
  /** Multiplier of the origin's own energy terms, and of a helper's. */
  origin: number;
  helper: number;
}

function weightsFor(inst: Instance): Weights {
  const o = inst.objective;
  const idleO = inst.idleW[inst.origin]! / 1000;
  switch (o.kind) {
    case 'latency': return { perMs: 1, origin: 0, helper: 0 };
    case 'energy': return { perMs: idleO, origin: 1, helper: 0 };
    case 'energy-total': return { perMs: idleO, origin: 1, helper: 1 };
    case 'weighted': return { perMs: o.latencyWeight / 1000 + o.energyWeight * idleO, origin: o.energyWeight, helper: 0 };
  }
}

/** Cost of running task t on device d under the serial model. */
function taskCost(inst: Instance, w: Weights, t: number, d: number): number {
  const ms = inst.compute[t * inst.D + d]!;
  let c = w.perMs * ms;
  if (d === inst.origin) c += w.origin * ((inst.busyW[d]! - inst.idleW[d]!) / 1000) * ms;
  else c += w.helper * (inst.busyW[d]! / 1000) * ms;
  return c;
}

/** Cost of moving `bytes` from a to c under the serial model. */
export function transferCost(inst: Instance, w: Weights, bytes: number, a: number, c: number): number {
  if (a === c) return 0;
  const up = bytes * inst.upPerByte[a]! + inst.halfRtt[a]!;
  const down = bytes * inst.downPerByte[c]! + inst.halfRtt[c]!;
  let cost = w.perMs * (up + down);
  const leg = (d: number, dir: 'up' | 'down', ms: number): number => {
    const radio = radioLegEnergyJ(inst.power[d]!.radioModel, dir, bytes, ms);
    if (d === inst.origin) return w.origin * radio;
    return w.helper * (radio + (inst.idleW[d]! * ms) / 1000);
  };
  cost += leg(a, 'up', up) + leg(c, 'down', down);
  return cost;
}

/** The min-cut placement between the origin and one server (null when pins make it impossible). */
export function dadsCut(inst: Instance, server: number): Int32Array | null {
  const { n, D, origin } = inst;
  const w = weightsFor(inst);
  const S = 0;
  const T = 1;
  const node = (t: number): number => 2 + t;
  let extra = 2 + n;
  const net = new FlowNetwork(2 + 3 * n);
  const inGraph = (t: number): boolean => inst.pinned[t]! < 0 || inst.pinned[t] === origin || inst.pinned[t] === server;
  const onServer = new Float64Array(n);
  const onOrigin = new Float64Array(n);
  for (let t = 0; t < n; t++) {
    if (!inGraph(t)) continue;
    onServer[t] = inst.pinned[t] === origin || !inst.allowed[t * D + server] ? Infinity : taskCost(inst, w, t, server);
    onOrigin[t] = inst.pinned[t] === server || !inst.allowed[t * D + origin] ? Infinity : taskCost(inst, w, t, origin);
    if (inst.returnResult && inst.isOutput[t]) onServer[t]! += transferCost(inst, w, inst.resultBytes[t]!, server, origin);
  }
  for (let u = 0; u < n; u++) {
    const consumers: number[] = [];
    for (let s = inst.succStart[u]!; s < inst.succStart[u + 1]!; s++) consumers.push(inst.succTask[s]!);
    if (!inGraph(u)) {
      // A third-device source: each consumer pays the transfer to whichever side it takes.
      const x = inst.pinned[u]!;
      for (const v of consumers) {
        if (!inGraph(v)) continue;
        onOrigin[v]! += transferCost(inst, w, inst.tensorBytes[u]!, x, origin);
        onServer[v]! += transferCost(inst, w, inst.tensorBytes[u]!, x, server);
      }
      continue;
    }
    const inside = consumers.filter(inGraph);
    for (const v of consumers) {
      if (inGraph(v)) continue;
      const x = inst.pinned[v]!;
      onOrigin[u]! += transferCost(inst, w, inst.tensorBytes[u]!, origin, x);
      onServer[u]! += transferCost(inst, w, inst.tensorBytes[u]!, server, x);
    }
    if (inside.length === 0) continue;
    const cOS = transferCost(inst, w, inst.tensorBytes[u]!, origin, server);
    const cSO = transferCost(inst, w, inst.tensorBytes[u]!, server, origin);
    if (inside.length === 1) {
      net.addEdge(node(u), node(inside[0]!), cOS, cSO);
    } else {
      const out = extra++;
      const back = extra++;
      net.addEdge(node(u), out, cOS);
      net.addEdge(back, node(u), cSO);
      for (const v of inside) {
        net.addEdge(out, node(v), Infinity);
        net.addEdge(node(v), back, Infinity);
      }
    }
  }
  for (let t = 0; t < n; t++) {
    if (!inGraph(t)) continue;
    net.addEdge(S, node(t), onServer[t]!);
    net.addEdge(node(t), T, onOrigin[t]!);
  }
  const flow = net.maxFlow(S, T);
  if (!Number.isFinite(flow)) return null;
  const side = net.sourceSide(S);
  const placement = new Int32Array(n);
  for (let t = 0; t < n; t++) placement[t] = inGraph(t) ? (side[node(t)] ? origin : server) : inst.pinned[t]!;
  return placement;
}

export function planDads(inst: Instance, servers?: number[]): AlgorithmResult {
  const list = servers ?? Array.from({ length: inst.D }, (_, d) => d).filter((d) => d !== inst.origin);
  if (list.length === 0) {
    return failed({ code: 'E_NO_DEVICES', reason: 'no-device', message: 'dads: there is no server besides the origin to split with' });
  }
  const ev = new Evaluator(inst);
  let best: { placement: Int32Array; score: Score; server: number } | null = null;
  for (const s of list) {
    const placement = dadsCut(inst, s);
    if (placement === null) continue;
    const score = { ...ev.score(placement) };
    if (best === null || compareScores(score, best.score) < 0) best = { placement, score, server: s };
  }
  if (best === null) {
    return failed({ code: 'E_INFEASIBLE', reason: 'pin', message: 'dads: the pins leave no cut between the origin and any single server' });
  }
  const notes = [`cut between "${inst.deviceIds[inst.origin]}" and "${inst.deviceIds[best.server]}"`];
  if (best.score.memViolation > 0) {
    const repaired = improvePlacement(inst, best.placement, inst.limits.improveWork, ev);
    notes.push('the cut overflowed a device\'s memory; repaired by local moves');
    return { placement: repaired.placement, optimal: null, notes };
  }
  return { placement: best.placement, optimal: null, notes };
}
