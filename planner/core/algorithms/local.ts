/** `local`: every task on the origin (tasks pinned to a data-source device stay there). */
import { uniformPlacement, type AlgorithmResult } from '../algorithm.ts';
import type { Instance } from '../instance.ts';

export function planLocal(inst: Instance): AlgorithmResult {
  return { placement: uniformPlacement(inst, inst.origin), optimal: null, notes: [] };
}
