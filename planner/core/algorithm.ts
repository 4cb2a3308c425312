/** What every placement algorithm returns, and small helpers they share. */
import type { Instance } from './instance.ts';
import type { PlanIssue } from './types.ts';

export interface AlgorithmResult {
  /** Device index per task, or null when the algorithm found no placement (see failure). */
  placement: Int32Array | null;
  /** true: proven optimal under the cost model; false: a search stopped early; null: a heuristic. */
  optimal: boolean | null;
  nodes?: number;
  chosen?: string;
  notes: string[];
  failure?: PlanIssue;
}

export type PlacementAlgorithm = (inst: Instance) => AlgorithmResult;

export function failed(issue: PlanIssue, notes: string[] = []): AlgorithmResult {
  return { placement: null, optimal: null, notes, failure: issue };
}

/** Every task on `device`, except tasks pinned elsewhere. */
export function uniformPlacement(inst: Instance, device: number): Int32Array {
  const p = new Int32Array(inst.n);
  for (let t = 0; t < inst.n; t++) p[t] = inst.pinned[t]! >= 0 ? inst.pinned[t]! : device;
  return p;
}
