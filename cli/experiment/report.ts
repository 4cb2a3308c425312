/**
 * The experiment's HTML report: one self-contained page (inline SVG, no scripts) with the
 * set-up, summary tables and the plots — latency, car energy and speed-up over local against
 * the car's uplink bandwidth per algorithm, predicted against measured latency, and for a
 * trajectory the latency of every job along the drive above the bandwidth of the trace.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { htmlPage, htmlTable, lineChart, scatterChart, trackChart, escapeHtml, type LineSeries } from '../report/svg.ts';
import { groupSpeedup, mean, percentile, type ExperimentResult, type JobRow, type SweepRow, type TrajectoryRow } from './results.ts';
import { summaryTable } from './summary.ts';
import { linkText, type SweepScenario, type TrajectoryScenario } from './scenario.ts';

const f1 = (n: number): string => (Number.isFinite(n) ? n.toFixed(1) : '-');
const ok = <R extends JobRow>(rows: readonly R[]): R[] => rows.filter((r) => r.status === 'ok');
const unique = <T>(xs: readonly T[]): T[] => [...new Set(xs)];

function predictedVsMeasured(rows: readonly JobRow[]): string {
  return scatterChart('predicted vs measured latency', 'predicted ms', 'measured ms',
    unique(rows.map((r) => r.algorithm)).map((a) => ({ name: a, points: ok(rows).filter((r) => r.algorithm === a).map((r) => [r.predictedMs, r.latencyMs] as [number, number]) })), true);
}

function predictionError(rows: readonly JobRow[]): string {
  const errors = ok(rows).filter((r) => r.predictedMs > 0).map((r) => Math.abs(r.latencyMs / r.predictedMs - 1));
  return errors.length > 0 ? `median ${(percentile(errors, 0.5) * 100).toFixed(1)}%, p90 ${(percentile(errors, 0.9) * 100).toFixed(1)}%` : 'no successful job';
}

function header(result: ExperimentResult): string[] {
  const s = result.scenario;
  const failed = result.rows.filter((r) => r.status !== 'ok').length;
  const out = [
    `<p>${escapeHtml(s.kind)} experiment${s.file ? ` from <code>${escapeHtml(s.file)}</code>` : ''}, started ${escapeHtml(result.startedAt)}, ${result.durationS.toFixed(0)} s; `
      + `broker ${escapeHtml(result.brokerUrl)}; seed ${s.seed}; ${result.rows.length} jobs, ${failed} not ok. `
      + `Prediction error |measured/predicted - 1|: ${predictionError(result.rows)}.</p>`,
  ];
  if (result.interrupted) out.push('<p><strong>Interrupted: the results are partial.</strong></p>');
  out.push(htmlTable(['device', 'role', 'speed', 'link (Mbps, Mbps, ms)', 'memory MiB', 'power', 'radio'],
    s.devices.map((d) => [d.id, d.role, d.speed, d.link ? linkText(d.link) : 'none', d.memoryMiB ?? '-', d.power ?? 'by role', d.radio ?? 'by power'])));
  return out;
}

function sweepSections(s: SweepScenario, result: ExperimentResult, rows: SweepRow[]): string[] {
  const sections: string[] = [];
  const ups = rows.map((r) => r.upMbps);
  const logX = ups.length > 0 && Math.max(...ups) / Math.min(...ups) >= 10;
  sections.push(`<p>${escapeHtml(s.origin)}'s link is set by each link setting (${s.links.map((l) => `${escapeHtml(l.name)}: ${linkText(l)}${l.radio ? ` ${l.radio}` : ''}`).join('; ')}); `
    + `${s.jobsPerCell} job(s) per cell after ${s.warmupJobs} warm-up job(s); inputs are seeded synthetic frames (pixels:${s.seed}+job).</p>`);
  const charts: string[] = [];
  for (const model of s.models) {
    for (const speed of s.speeds) {
      const group = rows.filter((r) => r.model === model && r.speeds === speed.name);
      const suffix = s.speeds.length > 1 ? ` (${speed.name})` : '';
      const series = (value: (cell: SweepRow[]) => number): LineSeries[] => s.algorithms.map((a) => ({
        name: a,
        points: s.links.map((l) => [l.upMbps, value(ok(group).filter((r) => r.algorithm === a && r.link === l.name))] as [number, number]).filter((p) => Number.isFinite(p[1])),
      }));
      charts.push(lineChart(`${model}${suffix}: latency vs car uplink`, 'car uplink Mbps', 'end-to-end latency ms', series((c) => mean(c.map((r) => r.latencyMs))), { logX }));
      charts.push(lineChart(`${model}${suffix}: car energy vs car uplink`, 'car uplink Mbps', `${s.origin} energy per job J`, series((c) => mean(c.map((r) => r.carEnergyJ))), { logX }));
      charts.push(lineChart(`${model}${suffix}: speed-up over local`, 'car uplink Mbps', 'x local latency', series(groupSpeedup), { logX }));
    }
  }
  charts.push(predictedVsMeasured(rows));
  sections.push(`<div class="charts">${charts.join('')}</div>`);
  const t = summaryTable(result);
  sections.push('<h2>Per cell (means over successful jobs)</h2>', htmlTable(t.header, t.rows));
  return sections;
}

function trajectorySections(s: TrajectoryScenario, result: ExperimentResult, rows: TrajectoryRow[]): string[] {
  const driveS = result.driveS ?? s.durationS;
  const strategies = s.strategies;
  const sections: string[] = [
    `<p>The car's uplink follows <code>${escapeHtml(s.trace)}</code>${s.durationS < s.traceDurationS ? `, its first ${s.durationS} s` : ''}, replayed ${s.timeScale === 1 ? 'in real time' : `${s.timeScale}x faster than the drive`}; `
      + `one job every ${(1 / s.jobsPerSecond).toFixed(2)} s of drive per strategy (${s.strategies.length} cars, ${s.schedule}). `
      + '<strong>The traces are HSDPA 3G downlink throughput measurements</strong> (Riiser et al., MMSys 2013); replaying them as the car\'s uplink is an approximation. '
      + 'Times along the drive are positions in the replayed trace, in seconds of drive; each car\'s trace starts when its runtime does, located from the rates it announces '
      + `(${(result.traceClocks ?? []).map((c) => `${escapeHtml(c.device)} ±${f1(c.uncertaintyMs)} ms`).join(', ')}).</p>`,
  ];
  const trace = result.driveTrace ?? [];
  const ups = rows.map((r) => r.uplinkMbps).filter((v) => v > 0);
  const logX = ups.length > 0 && Math.max(...ups) / Math.min(...ups) >= 10;
  const byStrategy = (pick: (r: TrajectoryRow) => [number, number]): LineSeries[] =>
    strategies.map((st) => ({ name: st, points: ok(rows).filter((r) => r.algorithm === st).map(pick) }));
  const charts = [
    trackChart('latency along the drive, bandwidth underneath', 'position along the drive s', [
      { yLabel: 'latency ms', series: byStrategy((r) => [r.tracePositionS, r.latencyMs]) },
      { yLabel: 'car uplink Mbps', series: [{ name: 'uplink (trace)', points: trace }], step: true },
    ], [0, driveS]),
    scatterChart('latency vs car uplink', 'car uplink Mbps at submission', 'end-to-end latency ms', byStrategy((r) => [r.uplinkMbps, r.latencyMs]), false, { logX }),
    scatterChart('car energy vs car uplink', 'car uplink Mbps at submission', 'car energy per job J', byStrategy((r) => [r.uplinkMbps, r.carEnergyJ]), false, { logX }),
    scatterChart('speed-up over local vs car uplink', 'car uplink Mbps at submission', 'x local latency', byStrategy((r) => [r.uplinkMbps, r.speedup]), false, { logX }),
    predictedVsMeasured(rows),
  ];
  sections.push(`<div class="charts">${charts.join('')}</div>`);
  const t = summaryTable(result);
  sections.push('<h2>Per strategy (means over successful jobs)</h2>', htmlTable(t.header, t.rows));
  return sections;
}

export function experimentHtml(result: ExperimentResult): string {
  const s = result.scenario;
  const sections = header(result);
  if (s.kind === 'sweep') sections.push(...sweepSections(s, result, result.rows as SweepRow[]));
  else sections.push(...trajectorySections(s, result, result.rows as TrajectoryRow[]));
  sections.push(`<p>Raw results: <code>results.csv</code>, <code>results.json</code> beside this page; device logs in <code>logs/</code>.</p>`);
  return htmlPage(`edgeweave experiment: ${s.name}`, sections);
}

export function writeReport(result: ExperimentResult, outDir: string): string {
  const html = join(outDir, 'report.html');
  writeFileSync(html, experimentHtml(result));
  return html;
}
