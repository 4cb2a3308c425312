/**
 * `npm run bench -- load --sweep`: latency against load. The load bench's mix (its cars' model
 * and the VGG16 stream, in the same shares) runs first at the asked rate for a while, so the
 * planner sees the mix and computes the fleet's capacity for it (PlannerStatus); then at 10% to
 * 150% of that capacity, a step each, every job with a deadline of 4x its model's unloaded
 * latency. Per step: offered rate, submitted, OK, rejected (E_OVERLOADED: the planner saw the
 * deadline could not be met), lost, throughput, latency percentiles of the OK jobs, the
 * prediction error, and the planner's CPU (% of a core) and the whole host's (% of all its
 * cores: where it nears 100%, the emulation itself is what saturates). The knee is the highest
 * step before the first that breaks the load bench's bounds (throughput >= 0.98 x offered,
 * nothing lost, p50 <= 1.5x and p99 <= 4x unloaded). Writes an HTML plot of the curve
 * (bench-results/load-sweep.html, or --out).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { percentile } from '../node-runtime/client-stream.ts';
import type { JobOutcome } from '../node-runtime/client.ts';
import { JobStatus, type PlannerStatus } from '../schemas/generated/edgeweave.ts';
import type { BenchOptions } from './options.ts';
import { PLANNER_ID, cpuSeconds, hostCpu, isOk, predictionError, runMix, unloadedLatencies, type LoadFleet } from './load-fleet.ts';

const STEPS = [0.1, 0.25, 0.5, 0.7, 0.85, 1, 1.15, 1.3, 1.5];
export const BOUNDS = { throughput: 0.98, p50: 1.5, p99: 4 };

export interface SweepStep {
  fraction: number;
  offered: number;
  submitted: number;
  ok: number;
  rejected: number;
  lost: number;
  throughput: number;
  p50: number;
  p95: number;
  p99: number;
  predictionError: number;
  /** The bounds this step breaks (empty: within all). */
  broken: string[];
}

export async function runSweep(fleet: LoadFleet, options: BenchOptions): Promise<void> {
  const { system, clients, carCount, model, inputs } = fleet;
  const stepMs = (options.load.durationS ?? (options.quick ? 6 : 20)) * 1000;
  const write = (s: string): void => { process.stdout.write(s + '\n'); };
  const unloaded = percentile(await unloadedLatencies(clients[0]!, model, inputs.model, options.quick ? 5 : 10), 0.5);
  const vggUnloaded = percentile(await unloadedLatencies(clients[carCount]!, 'vgg16', inputs.vgg, options.quick ? 2 : 4), 0.5);

  // Show the planner the mix, then read the capacity it computed for it.
  const calibrateMs = options.quick ? 16_000 : 20_000;
  write(`calibrating: the mix at the asked rate for ${calibrateMs / 1000} s...`);
  // The planner's last status while every stream of the mix was running (in its last 40%).
  const calibrating = Date.now();
  let status: PlannerStatus | undefined;
  const watch = setInterval(() => {
    const s = system.watcher.planners.get(PLANNER_ID);
    if (s && s.sentAtMs > calibrating + 0.6 * calibrateMs && s.sentAtMs < calibrating + calibrateMs && s.capacityJobsPerS > 0) status = s;
  }, 100);
  try {
    await runMix(fleet, fleet.rate, fleet.vggRate, calibrateMs);
  } finally {
    clearInterval(watch);
  }
  if (!status) throw new Error('the planner published no capacity for the mix while it ran');
  const capacity = status.capacityJobsPerS;
  const baseOffered = carCount * fleet.rate + fleet.vggRate;
  write(`fleet capacity for the mix (computed by the planner): ${capacity.toFixed(1)} jobs/s; bottleneck: ${status.capacityBottleneck.join(', ') || '-'}`);
  write(`${model} unloaded p50 ${unloaded.toFixed(0)} ms, VGG16 ${vggUnloaded.toFixed(0)} ms; deadlines ${(BOUNDS.p99 * unloaded).toFixed(0)} / ${(BOUNDS.p99 * vggUnloaded).toFixed(0)} ms; ${stepMs / 1000} s per step; compute ${fleet.compute}\n`);

  const steps: SweepStep[] = [];
  write('| load | offered/s | submitted | ok | rejected | lost | done/s | p50 ms | p95 ms | p99 ms | pred. err | planner CPU | host CPU | bounds |');
  write('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  const plannerPid = system.procs.pidOf('planner');
  for (const fraction of STEPS) {
    const scale = (fraction * capacity) / baseOffered;
    const extra = {
      model: { objective: { deadlineMs: BOUNDS.p99 * unloaded }, timeoutMs: 60_000 },
      vgg: { objective: { deadlineMs: BOUNDS.p99 * vggUnloaded }, timeoutMs: 60_000 },
    };
    const cpu0 = { s: cpuSeconds(plannerPid), at: Date.now(), host: hostCpu() };
    const run = await runMix(fleet, fleet.rate * scale, fleet.vggRate * scale, stepMs, extra);
    const plannerCpu = (cpuSeconds(plannerPid) - cpu0.s) / ((Date.now() - cpu0.at) / 1000);
    const host = hostCpu();
    const hostBusy = (host.busy - cpu0.host.busy) / (host.total - cpu0.host.total);
    const step = summarize(fraction, [...run.mobile, ...run.vgg], run.mobile, stepMs, run.staggerS * 1000, unloaded);
    steps.push(step);
    const ms = (v: number): string => (Number.isFinite(v) ? v.toFixed(0) : '-');
    write(`| ${(fraction * 100).toFixed(0)}% | ${step.offered.toFixed(1)} | ${step.submitted} | ${step.ok} | ${step.rejected} | ${step.lost} | ${step.throughput.toFixed(1)} | ${ms(step.p50)} | ${ms(step.p95)} | ${ms(step.p99)} | ${(step.predictionError * 100).toFixed(1)}% | ${(plannerCpu * 100).toFixed(0)}% | ${(hostBusy * 100).toFixed(0)}% | ${step.broken.join(', ') || 'within'} |`);
  }
  const firstBroken = steps.findIndex((s) => s.broken.length > 0);
  const knee = firstBroken < 0 ? steps.at(-1)! : firstBroken === 0 ? undefined : steps[firstBroken - 1]!;
  write('');
  write(`knee: ${knee ? `${(knee.fraction * 100).toFixed(0)}% of the computed capacity (${knee.offered.toFixed(1)} jobs/s offered)` : 'below the first step'}${firstBroken >= 0 ? `; ${(steps[firstBroken]!.fraction * 100).toFixed(0)}% breaks ${steps[firstBroken]!.broken.join(', ')}` : ''}`);
  const top = steps.at(-1)!;
  write(`at ${(top.fraction * 100).toFixed(0)}%: accepted jobs' p99 ${(top.p99 / unloaded).toFixed(2)}x unloaded, ${top.rejected} rejected at once, ${top.lost} lost`);
  const out = resolve(options.load.out ?? 'bench-results/load-sweep.html');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, sweepHtml(steps, { capacity, unloaded, model, compute: fleet.compute, knee: knee?.fraction }));
  write(`plot: ${out}`);
}

/** One step's figures; latencies over the cars' model, throughput and losses over every job (`staggerMs`: how much later the last stream started). */
export function summarize(fraction: number, all: readonly JobOutcome[], modelJobs: readonly JobOutcome[], stepMs: number, staggerMs: number, unloaded: number): SweepStep {
  const ok = modelJobs.filter(isOk).map((o) => o.latencyMs);
  const rejected = all.filter((o) => o.result.status === JobStatus.JOB_STATUS_REJECTED).length;
  const done = all.filter(isOk).length;
  const lost = all.length - done - rejected;
  const first = Math.min(...all.map((o) => o.submittedAtMs));
  const last = Math.max(...all.map((o) => o.submittedAtMs + o.latencyMs));
  const offered = all.length / (stepMs / 1000);
  // Completed over the time from the first submission to the last outcome, less the streams' stagger.
  const throughput = done / Math.max(stepMs / 1000, (last - first - staggerMs) / 1000);
  const step = {
    fraction, offered, submitted: all.length, ok: done, rejected, lost, throughput,
    p50: percentile(ok, 0.5), p95: percentile(ok, 0.95), p99: percentile(ok, 0.99), predictionError: predictionError(all),
  };
  const broken: string[] = [];
  if (lost > 0) broken.push('lost');
  if (step.throughput < BOUNDS.throughput * offered) broken.push(`throughput < ${BOUNDS.throughput}x offered`);
  if (!(step.p50 <= BOUNDS.p50 * unloaded)) broken.push(`p50 > ${BOUNDS.p50}x`);
  if (!(step.p99 <= BOUNDS.p99 * unloaded)) broken.push(`p99 > ${BOUNDS.p99}x`);
  return { ...step, broken };
}

/** A self-contained page (inline SVG, no script) with the latency and the throughput curves. */
export function sweepHtml(steps: readonly SweepStep[], about: { capacity: number; unloaded: number; model: string; compute: string; knee: number | undefined }): string {
  const W = 640;
  const H = 300;
  const pad = { l: 64, r: 16, t: 16, b: 40 };
  const maxX = Math.max(...steps.map((s) => s.fraction)) * 100;
  const x = (pct: number): number => pad.l + (pct / maxX) * (W - pad.l - pad.r);
  const chart = (title: string, unit: string, series: { name: string; color: string; values: number[] }[], marks: { y: number; label: string }[]): string => {
    const finite = series.flatMap((s) => s.values).concat(marks.map((m) => m.y)).filter(Number.isFinite);
    const maxY = Math.max(1, ...finite) * 1.1;
    const y = (v: number): number => H - pad.b - (v / maxY) * (H - pad.t - pad.b);
    const grid = [0, 0.25, 0.5, 0.75, 1].map((f) => `<line x1="${pad.l}" x2="${W - pad.r}" y1="${y(f * maxY)}" y2="${y(f * maxY)}" stroke="#ddd"/><text x="${pad.l - 6}" y="${y(f * maxY) + 4}" text-anchor="end">${(f * maxY).toFixed(0)}</text>`).join('');
    const ticks = steps.map((s) => `<text x="${x(s.fraction * 100)}" y="${H - pad.b + 16}" text-anchor="middle">${(s.fraction * 100).toFixed(0)}%</text>`).join('');
    const lines = series.map((s) => {
      const pts = steps.map((st, i) => [x(st.fraction * 100), s.values[i]!] as const).filter(([, v]) => Number.isFinite(v));
      return `<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${pts.map(([px, v]) => `${px.toFixed(1)},${y(v).toFixed(1)}`).join(' ')}"/>`
        + pts.map(([px, v]) => `<circle cx="${px.toFixed(1)}" cy="${y(v).toFixed(1)}" r="3" fill="${s.color}"><title>${s.name}: ${v.toFixed(1)} ${unit}</title></circle>`).join('');
    }).join('');
    const markLines = marks.map((m) => `<line x1="${pad.l}" x2="${W - pad.r}" y1="${y(m.y)}" y2="${y(m.y)}" stroke="#999" stroke-dasharray="4 4"/><text x="${W - pad.r}" y="${y(m.y) - 4}" text-anchor="end" fill="#666">${m.label}</text>`).join('');
    const knee = about.knee === undefined ? '' : `<line x1="${x(about.knee * 100)}" x2="${x(about.knee * 100)}" y1="${pad.t}" y2="${H - pad.b}" stroke="#c33" stroke-dasharray="2 3"/><text x="${x(about.knee * 100) + 4}" y="${pad.t + 12}" fill="#c33">knee</text>`;
    const legend = series.map((s, i) => `<text x="${pad.l + 8 + i * 110}" y="${pad.t + 12}" fill="${s.color}">■ ${s.name}</text>`).join('');
    return `<h2>${title}</h2><svg width="${W}" height="${H}" font-family="sans-serif" font-size="11">${grid}${ticks}${markLines}${knee}${lines}${legend}<text x="${(W + pad.l) / 2}" y="${H - 6}" text-anchor="middle">offered load, % of the computed capacity</text><text x="14" y="${H / 2}" transform="rotate(-90 14 ${H / 2})" text-anchor="middle">${unit}</text></svg>`;
  };
  const latency = chart(`${about.model} latency (OK jobs)`, 'ms', [
    { name: 'p50', color: '#1f77b4', values: steps.map((s) => s.p50) },
    { name: 'p95', color: '#ff7f0e', values: steps.map((s) => s.p95) },
    { name: 'p99', color: '#d62728', values: steps.map((s) => s.p99) },
  ], [{ y: about.unloaded, label: 'unloaded p50' }, { y: BOUNDS.p99 * about.unloaded, label: `${BOUNDS.p99}x unloaded` }]);
  const throughput = chart('Jobs per second', 'jobs / s', [
    { name: 'offered', color: '#7f7f7f', values: steps.map((s) => s.offered) },
    { name: 'completed', color: '#2ca02c', values: steps.map((s) => s.throughput) },
    { name: 'rejected', color: '#9467bd', values: steps.map((s) => s.rejected / Math.max(1e-9, s.submitted / s.offered)) },
  ], [{ y: about.capacity, label: 'computed capacity' }]);
  const rows = steps.map((s) => `<tr><td>${(s.fraction * 100).toFixed(0)}%</td><td>${s.offered.toFixed(1)}</td><td>${s.submitted}</td><td>${s.ok}</td><td>${s.rejected}</td><td>${s.lost}</td><td>${s.throughput.toFixed(1)}</td><td>${s.p50.toFixed(0)}</td><td>${s.p95.toFixed(0)}</td><td>${s.p99.toFixed(0)}</td><td>${(s.predictionError * 100).toFixed(1)}%</td><td>${s.broken.join(', ') || 'within'}</td></tr>`).join('');
  return `<!doctype html><html><head><meta charset="utf-8"><title>edgeweave load sweep</title><style>body{font-family:sans-serif;margin:24px}td,th{padding:2px 8px;text-align:right}</style></head><body>
<h1>Latency against load</h1><p>Capacity computed by the planner: ${about.capacity.toFixed(1)} jobs/s; ${about.model} unloaded p50 ${about.unloaded.toFixed(0)} ms; compute ${about.compute}.</p>
${latency}${throughput}
<table><tr><th>load</th><th>offered/s</th><th>submitted</th><th>ok</th><th>rejected</th><th>lost</th><th>done/s</th><th>p50</th><th>p95</th><th>p99</th><th>pred. err</th><th>bounds</th></tr>${rows}</table></body></html>\n`;
}
