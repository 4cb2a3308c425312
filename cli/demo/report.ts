/** The demo's comparison table (text), and its JSON and HTML reports. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DemoResult, DemoRow } from './run-demo.ts';
import { barChart, htmlPage, htmlTable, scatterChart } from '../report/svg.ts';
import { table } from '../commands/run.ts';

const f1 = (n: number): string => n.toFixed(1);

export function demoTable(rows: DemoRow[]): string {
  const header = ['model', 'link', 'algorithm', 'latency ms', 'predicted ms', 'error %', 'car1 J', 'car1 J pred', 'speed-up', 'placement'];
  const body = rows.map((r) => [
    r.model, r.link, r.algorithm, r.status === 'ok' ? f1(r.latencyMs) : r.status, f1(r.predictedMs),
    r.status === 'ok' && r.predictedMs > 0 ? f1((r.latencyMs / r.predictedMs - 1) * 100) : '-',
    r.car1EnergyJ.toFixed(2), r.car1PredictedJ.toFixed(2), r.speedup > 0 ? `${r.speedup.toFixed(2)}x` : '-', r.placement,
  ]);
  return table(header, body) + '\n';
}

function pct(values: number[], q: number): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * (s.length - 1) + 0.5))]!;
}

export interface DemoFigures {
  /** |measured / predicted - 1| over all successful jobs. */
  predictionErrorMedian: number;
  predictionErrorP90: number;
  /** auto over local, per model (geometric mean over links). */
  autoSpeedup: Record<string, number>;
  /** auto's latency / the best fixed strategy's, per model and link. */
  autoVsBestFixed: Array<{ model: string; link: string; best: string; ratio: number }>;
}

export function demoFigures(rows: DemoRow[]): DemoFigures {
  const ok = rows.filter((r) => r.status === 'ok' && r.predictedMs > 0);
  const errors = ok.map((r) => Math.abs(r.latencyMs / r.predictedMs - 1));
  const autoSpeedup: Record<string, number> = {};
  for (const model of new Set(rows.map((r) => r.model))) {
    const s = ok.filter((r) => r.model === model && r.algorithm === 'auto' && r.speedup > 0).map((r) => r.speedup);
    if (s.length > 0) autoSpeedup[model] = Math.exp(s.reduce((a, b) => a + Math.log(b), 0) / s.length);
  }
  const autoVsBestFixed: DemoFigures['autoVsBestFixed'] = [];
  for (const model of new Set(rows.map((r) => r.model))) {
    for (const link of new Set(rows.map((r) => r.link))) {
      const cell = ok.filter((r) => r.model === model && r.link === link);
      const mean = (alg: string): number => {
        const xs = cell.filter((r) => r.algorithm === alg).map((r) => r.latencyMs);
        return xs.length > 0 ? xs.reduce((a, b) => a + b, 0) / xs.length : Infinity;
      };
      const fixed = ['local', 'edge', 'cloud', 'neurosurgeon'].filter((a) => Number.isFinite(mean(a)));
      if (fixed.length === 0 || !Number.isFinite(mean('auto'))) continue;
      const best = fixed.reduce((a, b) => (mean(b) < mean(a) ? b : a));
      autoVsBestFixed.push({ model, link, best, ratio: mean('auto') / mean(best) });
    }
  }
  return { predictionErrorMedian: pct(errors, 0.5), predictionErrorP90: pct(errors, 0.9), autoSpeedup, autoVsBestFixed };
}

export function writeDemoReports(result: DemoResult, dir: string): { json: string; html: string } {
  const figures = demoFigures(result.rows);
  const json = join(dir, 'demo-report.json');
  writeFileSync(json, JSON.stringify({ ...result, figures }, null, 2));
  const sections: string[] = [
    `<p>Started ${result.startedAt}, ${result.durationS.toFixed(0)} s, broker ${result.brokerUrl}. car1: Raspberry Pi 4 class (speed 0.1, 1 GiB); edge1: speed 0.5, 200 Mbps, 2 ms; cloud1: speed 1, 50 Mbps, 40 ms.</p>`,
    `<p>Prediction error |measured/predicted - 1|: median ${(figures.predictionErrorMedian * 100).toFixed(1)}%, p90 ${(figures.predictionErrorP90 * 100).toFixed(1)}%.</p>`,
    htmlTable(['model', 'link', 'algorithm', 'status', 'latency ms', 'predicted ms', 'car1 J', 'car1 J predicted', 'speed-up', 'placement'],
      result.rows.map((r) => [r.model, r.link, r.algorithm, r.status, f1(r.latencyMs), f1(r.predictedMs), r.car1EnergyJ.toFixed(3), r.car1PredictedJ.toFixed(3), r.speedup.toFixed(2), r.placement])),
  ];
  const charts: string[] = [];
  for (const model of new Set(result.rows.map((r) => r.model))) {
    const rows = result.rows.filter((r) => r.model === model);
    const links = [...new Set(rows.map((r) => r.link))];
    const algs = [...new Set(rows.map((r) => r.algorithm))];
    const value = (link: string, alg: string, pick: (r: DemoRow) => number): number | null => {
      const xs = rows.filter((r) => r.link === link && r.algorithm === alg && r.status === 'ok').map(pick);
      return xs.length > 0 ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
    };
    charts.push(barChart(`${model}: end-to-end latency`, 'ms', links, algs.map((a) => ({ name: a, values: links.map((l) => value(l, a, (r) => r.latencyMs)) })), 'car1 link'));
    charts.push(barChart(`${model}: car1 energy per job`, 'J', links, algs.map((a) => ({ name: a, values: links.map((l) => value(l, a, (r) => r.car1EnergyJ)) })), 'car1 link'));
    charts.push(barChart(`${model}: speed-up over local`, 'x', links, algs.map((a) => ({ name: a, values: links.map((l) => value(l, a, (r) => r.speedup)) })), 'car1 link'));
  }
  const algs = [...new Set(result.rows.map((r) => r.algorithm))];
  charts.push(scatterChart('predicted vs measured latency', 'predicted ms', 'measured ms',
    algs.map((a) => ({ name: a, points: result.rows.filter((r) => r.algorithm === a && r.status === 'ok').map((r) => [r.predictedMs, r.latencyMs] as [number, number]) })), true));
  sections.push(`<div class="charts">${charts.join('')}</div>`);
  const html = join(dir, 'demo-report.html');
  writeFileSync(html, htmlPage('edgeweave demo', sections));
  return { json, html };
}
