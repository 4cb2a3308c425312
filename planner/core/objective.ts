/**
 * Objectives and constraints as one comparable score. Placements compare lexicographically:
 * memory overflow first, then constraint violation (deadline, energy budget), then the
 * objective's value, then latency and total energy as tie-breakers.
 */
import type { Objective } from './types.ts';

export interface Score {
  /** Sum over devices of the relative memory overflow (0 = fits). */
  memViolation: number;
  /** Relative excess over the deadline plus relative excess over the energy budget (0 = met). */
  constraintViolation: number;
  cost: number;
  makespanMs: number;
  originEnergyJ: number;
  totalEnergyJ: number;
}

export const WORST_SCORE: Readonly<Score> = Object.freeze({
  memViolation: Infinity, constraintViolation: Infinity, cost: Infinity, makespanMs: Infinity, originEnergyJ: Infinity, totalEnergyJ: Infinity,
});

const REL = 1e-12;

function differ(a: number, b: number): boolean {
  if (a === b) return false;
  return Math.abs(a - b) > REL * Math.max(1, Math.abs(a), Math.abs(b));
}

/** Negative when a is better than b, positive when worse, 0 when equal within rounding. */
export function compareScores(a: Score, b: Score): number {
  if (differ(a.memViolation, b.memViolation)) return a.memViolation < b.memViolation ? -1 : 1;
  if (differ(a.constraintViolation, b.constraintViolation)) return a.constraintViolation < b.constraintViolation ? -1 : 1;
  if (differ(a.cost, b.cost)) return a.cost < b.cost ? -1 : 1;
  if (differ(a.makespanMs, b.makespanMs)) return a.makespanMs < b.makespanMs ? -1 : 1;
  if (differ(a.totalEnergyJ, b.totalEnergyJ)) return a.totalEnergyJ < b.totalEnergyJ ? -1 : 1;
  return 0;
}

export function isFeasibleScore(s: Score): boolean {
  return s.memViolation === 0 && s.constraintViolation === 0;
}

/** The objective's value from latency and energies. */
export function objectiveCost(objective: Objective, makespanMs: number, originEnergyJ: number, totalEnergyJ: number): number {
  switch (objective.kind) {
    case 'latency': return makespanMs;
    case 'energy': return originEnergyJ;
    case 'energy-total': return totalEnergyJ;
    case 'weighted': return objective.latencyWeight * (makespanMs / 1000) + objective.energyWeight * originEnergyJ;
  }
}

export function objectiveLabel(objective: Objective): string {
  switch (objective.kind) {
    case 'latency': return 'latency';
    case 'energy': return 'origin energy';
    case 'energy-total': return 'total energy';
    case 'weighted': return `${objective.latencyWeight} x latency_s + ${objective.energyWeight} x origin energy_J`;
  }
}
