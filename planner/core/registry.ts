/**
 * Every algorithm by name, and `planJob`: request in, `{ ok: true, plan }` or
 * `{ ok: false, issues }` out. Nothing here throws on bad input.
 */
import { failed, type AlgorithmResult, type PlacementAlgorithm } from './algorithm.ts';
import { planAuto } from './algorithms/auto.ts';
import { planChainDp } from './algorithms/chain-dp.ts';
import { planDads } from './algorithms/dads.ts';
import { exactSearch } from './algorithms/exact.ts';
import { planHeft } from './algorithms/heft.ts';
import { planLocal } from './algorithms/local.ts';
import { planNeurosurgeon } from './algorithms/neurosurgeon.ts';
import { planOffload } from './algorithms/offload.ts';
import { buildPlan } from './build-plan.ts';
import { Evaluator } from './evaluator.ts';
import { buildInstance, type Instance } from './instance.ts';
import { isFeasibleScore } from './objective.ts';
import type { InfeasibleReason, PlanIssue, PlanOutcome, PlanRequest } from './types.ts';

export const ALGORITHM_NAMES = ['auto', 'local', 'edge', 'cloud', 'neurosurgeon', 'chain-dp', 'dads', 'heft', 'exact'] as const;
export type AlgorithmName = (typeof ALGORITHM_NAMES)[number];

export interface AlgorithmInfo {
  summary: string;
  run: PlacementAlgorithm;
}

function planExact(inst: Instance): AlgorithmResult {
  // Seed with auto's heuristic path (every heuristic, improved locally): a good incumbent prunes
  // from the first node, and a search that stops early is still never worse than auto's heuristics.
  const ev = new Evaluator(inst);
  const seed = planAuto(inst, { heuristicOnly: true }).placement!;
  const seeded = { placement: seed, score: { ...ev.score(seed) } };
  const incumbent = isFeasibleScore(seeded.score) ? seeded : undefined;
  const search = exactSearch(inst, incumbent ? { maxNodes: inst.limits.exactMaxNodes, incumbent } : { maxNodes: inst.limits.exactMaxNodes });
  if (search.placement === null) {
    return failed(search.complete
      ? { code: 'E_INFEASIBLE', reason: feasibilityReason(inst), message: 'exact: no placement satisfies the constraints (proven by exhaustive search)' }
      : { code: 'E_INFEASIBLE', reason: feasibilityReason(inst), message: `exact: no feasible placement found within ${search.nodes} nodes` });
  }
  const notes = search.complete ? [] : [`search stopped after ${search.nodes} nodes; the best placement found is not proven optimal`];
  return { placement: search.placement, optimal: search.complete, nodes: search.nodes, notes };
}

function feasibilityReason(inst: Instance): InfeasibleReason {
  if (inst.constraints.deadlineMs !== undefined) return 'deadline';
  if (inst.constraints.energyBudgetJ !== undefined) return 'energy-budget';
  return 'memory';
}

export const ALGORITHMS: Readonly<Record<AlgorithmName, AlgorithmInfo>> = Object.freeze({
  auto: { summary: 'exact on small instances, else the best heuristic refined by local moves', run: (inst: Instance) => planAuto(inst) },
  local: { summary: 'everything on the origin', run: planLocal },
  edge: { summary: 'everything after the input on the best edge device', run: (inst: Instance) => planOffload(inst, 'edge') },
  cloud: { summary: 'everything after the input on the best cloud device', run: (inst: Instance) => planOffload(inst, 'cloud') },
  neurosurgeon: { summary: 'best single split between the origin and one server (Kang et al. 2017)', run: planNeurosurgeon },
  'chain-dp': { summary: 'dynamic programming over the chain of blocks, any number of devices', run: planChainDp },
  dads: { summary: 'minimum cut of the DAG between the origin and one server (Hu et al. 2019)', run: (inst: Instance) => planDads(inst) },
  heft: { summary: 'list scheduling with insertion over all devices (Topcuoglu et al. 2002)', run: planHeft },
  exact: { summary: 'branch and bound: optimal on small instances', run: planExact },
});

export function isAlgorithmName(name: string): name is AlgorithmName {
  return (ALGORITHM_NAMES as readonly string[]).includes(name);
}

const now = (): number => globalThis.performance.now();

/** Plans one job. Pure apart from reading the clock for diagnostics.planningMs. */
export function planJob(request: PlanRequest): PlanOutcome {
  const started = now();
  const name = request.algorithm ?? 'auto';
  if (!isAlgorithmName(name)) {
    return { ok: false, issues: [{ code: 'E_UNKNOWN_ALGORITHM', message: `unknown algorithm "${name}"; known: ${ALGORITHM_NAMES.join(', ')}`, path: 'algorithm' }] };
  }
  const built = buildInstance(request);
  if (!built.ok) return built;
  const inst = built.inst;
  const result = ALGORITHMS[name].run(inst);
  if (result.placement === null) {
    return { ok: false, issues: [result.failure ?? { code: 'E_INFEASIBLE', message: `${name} found no placement` }] };
  }
  const diagnostics = {
    planningMs: 0,
    optimal: result.optimal,
    notes: result.notes,
    ...(result.nodes !== undefined ? { nodes: result.nodes } : {}),
    ...(result.chosen !== undefined ? { chosen: result.chosen } : {}),
  };
  const { plan, score } = buildPlan(inst, result.placement, { algorithm: name, diagnostics });
  plan.diagnostics.planningMs = now() - started;
  const issues = constraintIssues(inst, name, plan.memoryBytes, score.memViolation, plan.predictedLatencyMs, plan.originEnergyJ);
  return issues.length > 0 ? { ok: false, issues } : { ok: true, plan };
}

function constraintIssues(inst: Instance, name: string, memory: Record<string, number>, memViolation: number, latencyMs: number, originJ: number): PlanIssue[] {
  const issues: PlanIssue[] = [];
  if (memViolation > 0) {
    const over = inst.deviceIds
      .map((id, d) => ({ id, need: memory[id]!, cap: inst.memCap[d]! }))
      .filter((x) => x.need > x.cap)
      .map((x) => `"${x.id}" needs ${(x.need / 2 ** 20).toFixed(1)} MiB of ${(x.cap / 2 ** 20).toFixed(1)} MiB`);
    issues.push({ code: 'E_INFEASIBLE', reason: 'memory', message: `${name}: the plan does not fit in memory: ${over.join('; ')}` });
  }
  const { deadlineMs, energyBudgetJ } = inst.constraints;
  if (deadlineMs !== undefined && latencyMs > deadlineMs * (1 + 1e-12)) {
    issues.push({ code: 'E_INFEASIBLE', reason: 'deadline', message: `${name}: predicted latency ${latencyMs.toFixed(1)} ms exceeds the deadline of ${deadlineMs} ms` });
  }
  if (energyBudgetJ !== undefined && originJ > energyBudgetJ * (1 + 1e-12)) {
    issues.push({ code: 'E_INFEASIBLE', reason: 'energy-budget', message: `${name}: predicted origin energy ${originJ.toFixed(3)} J exceeds the budget of ${energyBudgetJ} J` });
  }
  return issues;
}

export interface ComparedPlan {
  algorithm: AlgorithmName;
  outcome: PlanOutcome;
  planningMs: number;
}

/** Runs every algorithm on the same request, side by side. */
export function compareAlgorithms(request: PlanRequest, names: readonly AlgorithmName[] = ALGORITHM_NAMES): ComparedPlan[] {
  return names.map((algorithm) => {
    const started = now();
    const outcome = planJob({ ...request, algorithm });
    return { algorithm, outcome, planningMs: now() - started };
  });
}
