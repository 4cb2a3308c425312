/**
 * Turns a placement into a Plan: the predicted schedule, stages with their cross-stage edges and
 * per-cut encodings, results, energy and memory per device. Runs once per returned plan.
 */
import { radioLegEnergyJ } from '../../power/energy.ts';
import { Evaluator } from './evaluator.ts';
import { ENCODINGS, arriveAt, type Instance } from './instance.ts';
import type { Score } from './objective.ts';
import type {
  DeviceEnergy, Plan, PlanDiagnostics, PlannedStage, PlannedTask, ResultRoute, StageEdge,
} from './types.ts';

export interface PlanMeta {
  algorithm: string;
  diagnostics: PlanDiagnostics;
}

/** Evaluates a placement in full and assembles the Plan; also returns its score. */
export function buildPlan(inst: Instance, placement: Int32Array, meta: PlanMeta): { plan: Plan; score: Score } {
  const ev = new Evaluator(inst);
  const score = ev.score(placement);
  if (ev.stages === null) ev.computeEnergy();
  const layout = ev.stages!;
  const { D, taskIds, deviceIds } = inst;
  const stageId = (s: number): string => `s${s}`;

  const tasks: PlannedTask[] = [];
  for (let k = 0; k < inst.n; k++) {
    const t = inst.order[k]!;
    const d = placement[t]!;
    tasks.push({
      id: taskIds[t]!, device: deviceIds[d]!, worker: ev.lane[t]!, stage: stageId(layout.stageOf[t]!),
      readyMs: ev.ready[t]!, startMs: ev.start[t]!, computeMs: inst.compute[t * D + d]!, finishMs: ev.finish[t]!,
    });
  }

  const stageEnd = new Float64Array(layout.count);
  const stageStart = new Float64Array(layout.count);
  for (let s = 0; s < layout.count; s++) {
    stageStart[s] = ev.start[layout.members[layout.memberStart[s]!]!]!;
    stageEnd[s] = ev.finish[layout.members[layout.memberStart[s + 1]! - 1]!]!;
  }

  // Cross-stage edges, grouped by (producing task, receiving stage).
  const edges: StageEdge[] = [];
  const stageRadioJ = new Float64Array(layout.count);
  for (let s = 0; s < layout.count; s++) {
    const groups = new Map<number, { toTasks: string[]; bytes: number; enc: number; arrive: number }>();
    for (let m = layout.memberStart[s]!; m < layout.memberStart[s + 1]!; m++) {
      const v = layout.members[m]!;
      for (let e = inst.predStart[v]!; e < inst.predStart[v + 1]!; e++) {
        const p = inst.predTask[e]!;
        if (layout.stageOf[p] === s) continue;
        const g = groups.get(p);
        if (g === undefined) {
          groups.set(p, { toTasks: [taskIds[v]!], bytes: inst.edgeBytes[e]!, enc: inst.edgeEnc[e]!, arrive: ev.edgeArrive[e]! });
        } else {
          g.toTasks.push(taskIds[v]!);
          if (inst.edgeBytes[e]! > g.bytes) {
            g.bytes = inst.edgeBytes[e]!;
            g.enc = inst.edgeEnc[e]!;
          }
          g.arrive = Math.max(g.arrive, ev.edgeArrive[e]!);
        }
      }
    }
    for (const [p, g] of groups) {
      const from = layout.stageOf[p]!;
      const a = placement[p]!;
      const c = layout.device[s]!;
      const sendMs = stageEnd[from]!;
      // Queueing behind other jobs' data on either link included.
      const transferMs = arriveAt(inst, a, c, g.bytes, sendMs) - sendMs;
      if (a !== c) {
        const up = g.bytes * inst.upPerByte[a]! + inst.halfRtt[a]!;
        const down = g.bytes * inst.downPerByte[c]! + inst.halfRtt[c]!;
        stageRadioJ[from]! += radioLegEnergyJ(inst.power[a]!.radioModel, 'up', g.bytes, up);
        stageRadioJ[s]! += radioLegEnergyJ(inst.power[c]!.radioModel, 'down', g.bytes, down);
      }
      edges.push({
        fromStage: stageId(from), toStage: stageId(s), fromDevice: deviceIds[a]!, toDevice: deviceIds[c]!,
        tensor: taskIds[p]!, toTasks: g.toTasks, encoding: ENCODINGS[g.enc]!, bytes: g.bytes,
        sendMs, transferMs, arriveMs: Math.max(g.arrive, sendMs + transferMs),
      });
    }
  }

  const results: ResultRoute[] = [];
  for (const o of inst.outputs) {
    const d = placement[o]!;
    const s = layout.stageOf[o]!;
    const away = inst.returnResult && d !== inst.origin;
    const transferMs = away ? arriveAt(inst, d, inst.origin, inst.resultBytes[o]!, stageEnd[s]!) - stageEnd[s]! : 0;
    if (away) {
      const up = inst.resultBytes[o]! * inst.upPerByte[d]! + inst.halfRtt[d]!;
      stageRadioJ[s]! += radioLegEnergyJ(inst.power[d]!.radioModel, 'up', inst.resultBytes[o]!, up);
    }
    results.push({
      tensor: taskIds[o]!, fromStage: stageId(s), fromDevice: deviceIds[d]!, encoding: 'float32', bytes: inst.resultBytes[o]!,
      sendMs: away ? stageEnd[s]! : ev.finish[o]!, transferMs, arriveMs: ev.resultArrive[o]!,
    });
  }

  const inputsOf: number[][] = Array.from({ length: layout.count }, () => []);
  const outputsOf: number[][] = Array.from({ length: layout.count }, () => []);
  const order = edges.map((_, i) => i);
  const parse = (id: string): number => Number(id.slice(1));
  order.sort((x, y) => (parse(edges[x]!.toStage) - parse(edges[y]!.toStage)) || (parse(edges[x]!.fromStage) - parse(edges[y]!.fromStage)));
  const sorted = order.map((i) => edges[i]!);
  sorted.forEach((edge, i) => {
    inputsOf[parse(edge.toStage)]!.push(i);
    outputsOf[parse(edge.fromStage)]!.push(i);
  });

  const stages: PlannedStage[] = [];
  for (let s = 0; s < layout.count; s++) {
    const d = layout.device[s]!;
    const memberTasks: string[] = [];
    const localInputs: string[] = [];
    let computeMs = 0;
    let final = false;
    for (let m = layout.memberStart[s]!; m < layout.memberStart[s + 1]!; m++) {
      const t = layout.members[m]!;
      memberTasks.push(taskIds[t]!);
      computeMs += inst.compute[t * D + d]!;
      if (inst.isInput[t]) localInputs.push(taskIds[t]!);
      if (inst.isOutput[t]) final = true;
    }
    let readyMs = 0;
    let transferInMs = 0;
    const sources = new Set<string>();
    for (const i of inputsOf[s]!) {
      const edge = sorted[i]!;
      sources.add(edge.fromStage);
      if (edge.arriveMs > readyMs || (edge.arriveMs === readyMs && edge.transferMs > transferInMs)) {
        readyMs = edge.arriveMs;
        transferInMs = edge.transferMs;
      }
    }
    stages.push({
      id: stageId(s), device: deviceIds[d]!, worker: layout.lane[s]!, tasks: memberTasks,
      inputs: inputsOf[s]!, outputs: outputsOf[s]!, join: sources.size >= 2, final, localInputs,
      readyMs, startMs: stageStart[s]!, transferInMs, computeMs, finishMs: stageEnd[s]!,
      energyJ: (inst.busyW[d]! * computeMs) / 1000 + stageRadioJ[s]!,
    });
  }

  const energy: Record<string, DeviceEnergy> = {};
  const predictedEnergyJ: Record<string, number> = {};
  const memoryBytes: Record<string, number> = {};
  let totalEnergyJ = 0;
  for (let d = 0; d < D; d++) {
    const id = deviceIds[d]!;
    const computeJ = (inst.busyW[d]! * ev.computeMs[d]!) / 1000;
    const idleJ = (inst.idleW[d]! * ev.idleMs[d]!) / 1000;
    energy[id] = {
      totalJ: ev.energyJ[d]!, computeJ, idleJ, radioJ: ev.radioJ[d]!,
      computeMs: ev.computeMs[d]!, idleMs: ev.idleMs[d]!, radioMs: ev.radioMs[d]!,
    };
    predictedEnergyJ[id] = ev.energyJ[d]!;
    memoryBytes[id] = ev.memBytes[d]!;
    totalEnergyJ += ev.energyJ[d]!;
  }
  const placementRecord: Record<string, string> = {};
  for (let t = 0; t < inst.n; t++) placementRecord[taskIds[t]!] = deviceIds[placement[t]!]!;

  const plan: Plan = {
    algorithm: meta.algorithm,
    objective: inst.objective,
    constraints: inst.constraints,
    origin: deviceIds[inst.origin]!,
    modelId: inst.modelId,
    placement: placementRecord,
    tasks,
    stages,
    edges: sorted,
    results,
    predictedLatencyMs: score.makespanMs,
    predictedEnergyJ,
    energy,
    originEnergyJ: ev.energyJ[inst.origin]!,
    totalEnergyJ,
    memoryBytes,
    cost: inst.needsEnergy ? score.cost : score.makespanMs,
    diagnostics: meta.diagnostics,
  };
  return { plan, score: { ...score, originEnergyJ: plan.originEnergyJ, totalEnergyJ } };
}
