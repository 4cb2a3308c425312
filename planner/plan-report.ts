/** Plans as text tables and as the JSON of `edgeweave plan --json`. Pure. */
import { objectiveLabel } from './core/objective.ts';
import type { ComparedPlan } from './core/registry.ts';
import type { Plan, PlanIssue } from './core/types.ts';

export interface PlanJson {
  algorithm: string;
  ok: true;
  predictedLatencyMs: number;
  predictedEnergyJ: Record<string, number>;
  originEnergyJ: number;
  totalEnergyJ: number;
  cost: number;
  planningMs: number;
  optimal: boolean | null;
  chosen?: string;
  stages: Array<{
    id: string;
    device: string;
    worker: number;
    tasks: string[];
    inputs: Array<{ fromStage: string; tensor: string; encoding: string; bytes: number; transferMs: number }>;
    join: boolean;
    readyMs: number;
    startMs: number;
    computeMs: number;
    transferInMs: number;
    finishMs: number;
    energyJ: number;
  }>;
  results: Array<{ tensor: string; fromDevice: string; bytes: number; transferMs: number; arriveMs: number }>;
  placement: Record<string, string>;
  memoryBytes: Record<string, number>;
  notes: string[];
}

export interface FailedJson {
  algorithm: string;
  ok: false;
  planningMs: number;
  issues: PlanIssue[];
}

const r3 = (x: number): number => Math.round(x * 1000) / 1000;

export function planToJson(plan: Plan): PlanJson {
  const energy: Record<string, number> = {};
  for (const [id, j] of Object.entries(plan.predictedEnergyJ)) energy[id] = r3(j * 1000) / 1000;
  const json: PlanJson = {
    algorithm: plan.algorithm,
    ok: true,
    predictedLatencyMs: r3(plan.predictedLatencyMs),
    predictedEnergyJ: energy,
    originEnergyJ: r3(plan.originEnergyJ * 1000) / 1000,
    totalEnergyJ: r3(plan.totalEnergyJ * 1000) / 1000,
    cost: r3(plan.cost),
    planningMs: r3(plan.diagnostics.planningMs),
    optimal: plan.diagnostics.optimal,
    stages: plan.stages.map((s) => ({
      id: s.id, device: s.device, worker: s.worker, tasks: s.tasks,
      inputs: s.inputs.map((i) => {
        const e = plan.edges[i]!;
        return { fromStage: e.fromStage, tensor: e.tensor, encoding: e.encoding, bytes: e.bytes, transferMs: r3(e.transferMs) };
      }),
      join: s.join,
      readyMs: r3(s.readyMs), startMs: r3(s.startMs), computeMs: r3(s.computeMs), transferInMs: r3(s.transferInMs), finishMs: r3(s.finishMs),
      energyJ: r3(s.energyJ * 1000) / 1000,
    })),
    results: plan.results.map((x) => ({ tensor: x.tensor, fromDevice: x.fromDevice, bytes: x.bytes, transferMs: r3(x.transferMs), arriveMs: r3(x.arriveMs) })),
    placement: plan.placement,
    memoryBytes: plan.memoryBytes,
    notes: plan.diagnostics.notes,
  };
  if (plan.diagnostics.chosen !== undefined) json.chosen = plan.diagnostics.chosen;
  return json;
}

export function comparedToJson(list: ComparedPlan[]): Array<PlanJson | FailedJson> {
  return list.map((c) => (c.outcome.ok ? planToJson(c.outcome.plan) : { algorithm: c.algorithm, ok: false, planningMs: r3(c.planningMs), issues: c.outcome.issues }));
}

function table(header: string[], rows: string[][], rightAligned: Set<number>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (rightAligned.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

const ms = (x: number): string => x.toFixed(1);
const joules = (x: number): string => (x >= 100 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toFixed(3));

/** Wraps task ids into lines of at most `width` characters. */
function wrap(ids: string[], width: number, indent: string): string {
  const lines: string[] = [];
  let cur = '';
  for (const id of ids) {
    if (cur.length > 0 && cur.length + 1 + id.length > width) {
      lines.push(cur);
      cur = id;
    } else cur = cur.length === 0 ? id : `${cur} ${id}`;
  }
  if (cur.length > 0) lines.push(cur);
  return lines.map((l) => indent + l).join('\n');
}

/** The placement by stage, latency, per-device energy and memory. */
export function formatPlan(plan: Plan, memoryCapBytes: Record<string, number> = {}): string {
  const out: string[] = [];
  const chosen = plan.diagnostics.chosen ? ` (via ${plan.diagnostics.chosen})` : '';
  const optimal = plan.diagnostics.optimal === true ? ', proven optimal' : plan.diagnostics.optimal === false ? ', search stopped early' : '';
  out.push(`model ${plan.modelId || '(unnamed)'}, origin ${plan.origin}, algorithm ${plan.algorithm}${chosen}${optimal}; objective: ${objectiveLabel(plan.objective)}`);
  out.push('');
  const rows = plan.stages.map((s) => {
    const inputs = s.inputs.map((i) => plan.edges[i]!).filter((e) => e.fromDevice !== e.toDevice);
    const transfer = inputs.length === 0 ? '-' : inputs.map((e) => `${e.fromDevice} ${formatBytes(e.bytes)} ${e.encoding} ${ms(e.transferMs)} ms`).join('; ');
    return [s.id, s.device, String(s.worker), String(s.tasks.length), ms(s.readyMs), ms(s.startMs), ms(s.computeMs), ms(s.finishMs), transfer + (s.join ? ' (join)' : '')];
  });
  const header = ['stage', 'device', 'worker', 'tasks', 'ready ms', 'start ms', 'compute ms', 'finish ms', 'inputs from other devices'];
  const lines = table(header, rows, new Set([2, 3, 4, 5, 6, 7])).split('\n');
  out.push(lines[0]!);
  plan.stages.forEach((s, i) => {
    out.push(lines[i + 1]!);
    out.push(wrap(s.tasks, 96, '      '));
  });
  for (const r of plan.results) {
    if (r.transferMs > 0) out.push(`result ${r.tensor}: ${r.fromDevice} -> ${plan.origin}, ${formatBytes(r.bytes)} ${r.encoding}, ${ms(r.transferMs)} ms, arrives at ${ms(r.arriveMs)} ms`);
  }
  out.push('');
  out.push(`predicted latency: ${ms(plan.predictedLatencyMs)} ms`);
  out.push(`predicted energy: origin ${joules(plan.originEnergyJ)} J, all devices ${joules(plan.totalEnergyJ)} J`);
  const energyRows = Object.entries(plan.energy).map(([id, e]) => [
    id, joules(e.totalJ), joules(e.computeJ), joules(e.idleJ), joules(e.radioJ), ms(e.computeMs), ms(e.idleMs), ms(e.radioMs),
    `${formatBytes(plan.memoryBytes[id] ?? 0)}${memoryCapBytes[id] !== undefined ? ` of ${formatBytes(memoryCapBytes[id])}` : ''}`,
  ]);
  out.push(table(['device', 'energy J', 'compute J', 'idle J', 'radio J', 'compute ms', 'idle ms', 'radio ms', 'memory'], energyRows, new Set([1, 2, 3, 4, 5, 6, 7])));
  for (const note of plan.diagnostics.notes) out.push(`note: ${note}`);
  return out.join('\n') + '\n';
}

/** Every algorithm side by side. */
export function formatComparison(list: ComparedPlan[]): string {
  const rows = list.map((c) => {
    if (!c.outcome.ok) {
      const issue = c.outcome.issues[0]!;
      return [c.algorithm, '-', '-', '-', '-', c.planningMs.toFixed(2), `${issue.code}: ${issue.message}`];
    }
    const p = c.outcome.plan;
    const devices = new Set(Object.values(p.placement)).size;
    const note = [p.diagnostics.chosen ? `via ${p.diagnostics.chosen}` : '', p.diagnostics.optimal === true ? 'optimal' : ''].filter(Boolean).join(', ');
    return [c.algorithm, ms(p.predictedLatencyMs), joules(p.originEnergyJ), joules(p.totalEnergyJ), `${p.stages.length}/${devices}`, c.planningMs.toFixed(2), note];
  });
  return table(['algorithm', 'latency ms', 'origin J', 'total J', 'stages/devices', 'plan ms', 'note'], rows, new Set([1, 2, 3, 4, 5])) + '\n';
}
