/**
 * `auto`: the best plan the planner can afford.
 * 1. Heuristics: local, the best edge and cloud offloads, HEFT, Neurosurgeon, DADS with the most
 *    promising servers, and chain-dp when the block chain is small enough, all scored under the
 *    objective and constraints.
 * 2. Local improvement of the two best distinct candidates.
 * 3. Small instances: branch and bound seeded with that plan; when it completes the plan is
 *    optimal. It only ever replaces the seed with something better, so `auto` is never worse
 *    than any of its heuristics, HEFT included.
 */
import type { AlgorithmResult } from '../algorithm.ts';
import { Evaluator } from '../evaluator.ts';
import type { Instance } from '../instance.ts';
import { compareScores, isFeasibleScore, type Score } from '../objective.ts';
import { chainBlocks, planChainDp } from './chain-dp.ts';
import { planDads } from './dads.ts';
import { exactSearch } from './exact.ts';
import { planHeft } from './heft.ts';
import { improvePlacement } from './improve.ts';
import { planLocal } from './local.ts';
import { planNeurosurgeon } from './neurosurgeon.ts';
import { planOffload } from './offload.ts';

const DADS_SERVERS = 3;
const CHAIN_DP_LIMIT = 400_000;

interface Candidate {
  name: string;
  placement: Int32Array;
  score: Score;
}

export interface AutoOptions {
  /** Skip branch and bound (the heuristic path alone). */
  heuristicOnly?: boolean;
}

export function planAuto(inst: Instance, options: AutoOptions = {}): AlgorithmResult {
  const ev = new Evaluator(inst);
  const candidates: Candidate[] = [];
  const consider = (name: string, result: AlgorithmResult): void => {
    if (result.placement === null) return;
    candidates.push({ name, placement: result.placement, score: { ...ev.score(result.placement) } });
  };
  consider('local', planLocal(inst));
  consider('edge', planOffload(inst, 'edge'));
  consider('cloud', planOffload(inst, 'cloud'));
  consider('heft', planHeft(inst));
  if (inst.D > 1) {
    consider('neurosurgeon', planNeurosurgeon(inst));
    consider('dads', planDads(inst, promisingServers(inst, ev)));
  }
  const blocks = chainBlocks(inst).start.length - 1;
  if (blocks * inst.D * inst.D <= CHAIN_DP_LIMIT) consider('chain-dp', planChainDp(inst));
  candidates.sort((a, b) => compareScores(a.score, b.score));

  // Improve the two best distinct candidates.
  const seeds: Candidate[] = [];
  for (const c of candidates) {
    if (seeds.length === 2) break;
    if (!seeds.some((s) => samePlacement(s.placement, c.placement))) seeds.push(c);
  }
  let best: Candidate = candidates[0]!;
  const budget = inst.limits.improveWork / Math.max(1, seeds.length);
  for (const seed of seeds) {
    const improved = improvePlacement(inst, seed.placement, budget, ev);
    const c: Candidate = { name: improved.moves > 0 ? `${seed.name}+improve` : seed.name, placement: improved.placement, score: improved.score };
    if (compareScores(c.score, best.score) < 0) best = c;
  }

  const notes: string[] = [];
  if (!options.heuristicOnly && inst.n <= inst.limits.autoExactMaxTasks) {
    const incumbent = isFeasibleScore(best.score) ? { placement: best.placement, score: best.score } : undefined;
    const search = exactSearch(inst, incumbent ? { maxNodes: inst.limits.autoExactMaxNodes, incumbent } : { maxNodes: inst.limits.autoExactMaxNodes });
    if (search.placement && search.score && compareScores(search.score, best.score) < 0) {
      best = { name: 'exact', placement: search.placement, score: search.score };
    }
    if (!search.complete) notes.push(`branch and bound stopped after ${search.nodes} nodes`);
    return { placement: best.placement, optimal: search.complete && search.placement !== null, nodes: search.nodes, chosen: best.name, notes };
  }
  return { placement: best.placement, optimal: null, chosen: best.name, notes };
}

function samePlacement(a: Int32Array, b: Int32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Servers whose all-on-that-server plan scores best. */
function promisingServers(inst: Instance, ev: Evaluator): number[] {
  const scored: Array<{ d: number; score: Score }> = [];
  const placement = new Int32Array(inst.n);
  for (let d = 0; d < inst.D; d++) {
    if (d === inst.origin) continue;
    for (let t = 0; t < inst.n; t++) {
      placement[t] = inst.pinned[t]! >= 0 ? inst.pinned[t]! : inst.isInput[t] ? inst.origin : inst.allowed[t * inst.D + d] ? d : inst.origin;
    }
    scored.push({ d, score: { ...ev.score(placement) } });
  }
  scored.sort((a, b) => compareScores(a.score, b.score) || a.d - b.d);
  return scored.slice(0, DADS_SERVERS).map((s) => s.d);
}
