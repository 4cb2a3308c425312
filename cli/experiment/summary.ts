/**
 * An experiment in one table: per sweep cell (model, speeds, link, algorithm) or per
 * trajectory strategy, means over the successful jobs. Printed by the command, shown in the
 * report.
 */
import { groupSpeedup, mean, percentile, type ExperimentResult, type JobRow, type SweepRow, type TrajectoryRow } from './results.ts';

const f1 = (n: number): string => (Number.isFinite(n) ? n.toFixed(1) : '-');
const f3 = (n: number): string => (Number.isFinite(n) ? n.toFixed(3) : '-');
const speedup = (n: number): string => (Number.isFinite(n) && n > 0 ? `${n.toFixed(2)}x` : '-');

export interface SummaryTable {
  header: string[];
  rows: string[][];
}

function mostCommon(xs: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const x of xs) counts.set(x, (counts.get(x) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1])[0]?.[0] ?? '-';
}

function stats(all: readonly JobRow[]): { okText: string; good: JobRow[] } {
  const good = all.filter((r) => r.status === 'ok');
  return { okText: `${good.length}/${all.length}`, good };
}

export function summaryTable(result: ExperimentResult): SummaryTable {
  const s = result.scenario;
  const origin = s.origin;
  if (s.kind === 'sweep') {
    const rows = result.rows as SweepRow[];
    const multiSpeed = s.speeds.length > 1;
    const out: string[][] = [];
    for (const model of s.models) for (const speed of s.speeds) for (const link of s.links) for (const a of s.algorithms) {
      const cell = rows.filter((r) => r.model === model && r.speeds === speed.name && r.link === link.name && r.algorithm === a);
      if (cell.length === 0) continue;
      const { okText, good } = stats(cell);
      out.push([model, link.name, ...(multiSpeed ? [speed.name] : []), a, okText, f1(mean(good.map((r) => r.latencyMs))), f1(mean(good.map((r) => r.predictedMs))),
        f3(mean(good.map((r) => r.carEnergyJ))), speedup(groupSpeedup(good)), mostCommon(good.map((r) => r.placement))]);
    }
    return { header: ['model', 'link', ...(multiSpeed ? ['speeds'] : []), 'algorithm', 'ok', 'latency ms', 'predicted ms', `${origin} J`, 'speed-up', 'placement'], rows: out };
  }
  const rows = result.rows as TrajectoryRow[];
  return {
    header: ['strategy', 'car', 'ok', 'latency ms', 'median', 'p90', 'predicted ms', 'car J', 'speed-up', 'placements'],
    rows: s.strategies.map((st) => {
      const all = rows.filter((r) => r.algorithm === st);
      const { okText, good } = stats(all);
      const lat = good.map((r) => r.latencyMs);
      return [st, all[0]?.device ?? '-', okText, f1(mean(lat)), f1(percentile(lat, 0.5)), f1(percentile(lat, 0.9)), f1(mean(good.map((r) => r.predictedMs))),
        f3(mean(good.map((r) => r.carEnergyJ))), speedup(groupSpeedup(good)), String(new Set(good.map((r) => r.placement)).size)];
    }),
  };
}
