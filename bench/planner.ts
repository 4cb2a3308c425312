/**
 * `npm run bench:planner` (or `npm run bench -- planner` once listed in bench/run.ts):
 * 1. Quality: every algorithm's predicted makespan over exact's (mean, p95, max) and its schedule
 *    length ratio, on random DAGs of 8-16 tasks over 3-4 devices (communication-to-computation
 *    ratio and heterogeneity varied) and on the zoo models over device/bandwidth scenarios.
 *    Targets: auto mean <= 1.01, max <= 1.05, never worse than HEFT.
 * 2. Speed: planning time for 50 / 500 / 2,000 tasks over 5 / 20 / 100 devices.
 *    Target: 500 tasks over 20 devices in <= 50 ms on auto's heuristic path.
 * Options: --quick (fewer instances and runs).
 */
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { buildInstance, planJob, type DeviceSpec, type Objective, type PlanRequest } from '../planner/core/index.ts';
import type { TaskGraph } from '../schemas/graph.ts';
import { randomRequest } from '../test/support/planner-fixtures.ts';
import type { BenchOptions } from './options.ts';

const ALGORITHMS = ['local', 'edge', 'cloud', 'neurosurgeon', 'chain-dp', 'dads', 'heft', 'auto-heuristic', 'auto'] as const;
type Row = (typeof ALGORITHMS)[number];

const write = (s: string): void => {
  process.stdout.write(s + '\n');
};

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => '| ' + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ') + ' |';
  return [line(header), '|' + widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|') + '|', ...rows.map(line)].join('\n');
}

/** Sum of the cheapest compute times along the heaviest path (the SLR denominator). */
function criticalPathMin(request: PlanRequest): number {
  const built = buildInstance(request);
  if (!built.ok) return NaN;
  const inst = built.inst;
  const longest = new Float64Array(inst.n);
  let best = 0;
  for (let k = 0; k < inst.n; k++) {
    const t = inst.order[k]!;
    let w = Infinity;
    for (let d = 0; d < inst.D; d++) if (inst.allowed[t * inst.D + d]) w = Math.min(w, inst.compute[t * inst.D + d]!);
    let before = 0;
    for (let e = inst.predStart[t]!; e < inst.predStart[t + 1]!; e++) before = Math.max(before, longest[inst.predTask[e]!]!);
    longest[t] = before + w;
    best = Math.max(best, longest[t]!);
  }
  return best;
}

interface Sample {
  ratio: Partial<Record<Row, number>>;
  slr: Partial<Record<Row, number>>;
  failed: Row[];
  proven: boolean;
}

function evaluateInstance(request: PlanRequest): Sample | null {
  const exact = planJob({ ...request, algorithm: 'exact' });
  if (!exact.ok) return null;
  const base = exact.plan.predictedLatencyMs;
  const cp = criticalPathMin(request);
  const sample: Sample = { ratio: {}, slr: {}, failed: [], proven: exact.plan.diagnostics.optimal === true };
  for (const row of ALGORITHMS) {
    const outcome = row === 'auto-heuristic'
      ? planJob({ ...request, algorithm: 'auto', limits: { autoExactMaxTasks: 0 } })
      : planJob({ ...request, algorithm: row });
    if (!outcome.ok) {
      sample.failed.push(row);
      continue;
    }
    sample.ratio[row] = outcome.plan.predictedLatencyMs / base;
    sample.slr[row] = outcome.plan.predictedLatencyMs / cp;
  }
  return sample;
}

function qualityTable(title: string, samples: Sample[]): { autoMean: number; autoMax: number; autoWorseThanHeft: number } {
  write(`### ${title}: ${samples.length} instances, ${samples.filter((s) => s.proven).length} with exact proven optimal\n`);
  const rows: string[][] = [];
  let autoMean = NaN;
  let autoMax = NaN;
  for (const row of ALGORITHMS) {
    const ratios = samples.map((s) => s.ratio[row]).filter((x): x is number => x !== undefined).sort((a, b) => a - b);
    const slrs = samples.map((s) => s.slr[row]).filter((x): x is number => x !== undefined);
    const failed = samples.filter((s) => s.failed.includes(row)).length;
    const mean = ratios.reduce((a, b) => a + b, 0) / ratios.length;
    const optimal = ratios.filter((r) => r <= 1 + 1e-9).length;
    if (row === 'auto') {
      autoMean = mean;
      autoMax = ratios[ratios.length - 1]!;
    }
    rows.push([
      row, String(ratios.length), mean.toFixed(4), quantile(ratios, 0.95).toFixed(4), (ratios[ratios.length - 1] ?? NaN).toFixed(4),
      `${((100 * optimal) / Math.max(1, ratios.length)).toFixed(1)}%`, (slrs.reduce((a, b) => a + b, 0) / slrs.length).toFixed(3), String(failed),
    ]);
  }
  write(table(['algorithm', 'plans', 'mean ratio', 'p95', 'max', 'at optimum', 'mean SLR', 'no plan'], rows));
  const autoWorseThanHeft = samples.filter((s) => s.ratio.auto !== undefined && s.ratio.heft !== undefined && s.ratio.auto > s.ratio.heft * (1 + 1e-9)).length;
  write('');
  return { autoMean, autoMax, autoWorseThanHeft };
}

function randomInstances(quick: boolean): PlanRequest[] {
  const out: PlanRequest[] = [];
  const sizes = [8, 10, 12, 14, 16];
  const ccrs = [0.1, 0.5, 1, 2, 5];
  const hets = [0.1, 0.5, 1];
  const seeds = quick ? 1 : 3;
  let seed = 1;
  for (let s = 0; s < seeds; s++) {
    for (const tasks of sizes) for (const ccr of ccrs) for (const heterogeneity of hets) {
      const devices = 3 + (seed % 2);
      out.push(randomRequest({ tasks, devices, ccr, heterogeneity, seed: 1000 + seed }));
      seed++;
      if (quick && out.length >= 60) return out;
    }
  }
  return out;
}

const MiB = 2 ** 20;

function scenarios(): Array<{ name: string; origin: string; devices: DeviceSpec[] }> {
  const car = (up: number, down: number, rtt: number, radio: 'wifi' | 'lte' | '3g'): DeviceSpec => ({ id: 'car1', role: 'iot', speed: 0.1, memoryBytes: 1024 * MiB, power: 'raspberry-pi-4', radio, link: { upBps: up * 1e6, downBps: down * 1e6, rttMs: rtt } });
  const edge = (id: string, speed: number, mbps: number): DeviceSpec => ({ id, role: 'edge', speed, memoryBytes: 8192 * MiB, link: { upBps: mbps * 1e6, downBps: mbps * 1e6, rttMs: 2 } });
  const cloud: DeviceSpec = { id: 'cloud1', role: 'cloud', speed: 1, memoryBytes: 65536 * MiB, link: { upBps: 50e6, downBps: 50e6, rttMs: 40 } };
  return [
    { name: 'issue example (wifi 10/20 Mbps)', origin: 'car1', devices: [car(10, 20, 10, 'wifi'), edge('edge1', 0.5, 200), cloud] },
    { name: 'fast wifi 50/100 Mbps', origin: 'car1', devices: [car(50, 100, 5, 'wifi'), edge('edge1', 0.5, 500), cloud] },
    { name: 'LTE 5/15 Mbps', origin: 'car1', devices: [car(5, 15, 40, 'lte'), edge('edge1', 0.5, 200), cloud] },
    { name: '3G 1/3 Mbps', origin: 'car1', devices: [car(1, 3, 80, '3g'), edge('edge1', 0.5, 200), cloud] },
    {
      name: 'Pi + 2 Jetsons + cloud', origin: 'car1', devices: [
        car(20, 40, 5, 'wifi'),
        { id: 'nano1', role: 'edge', speed: 0.3, memoryBytes: 4096 * MiB, power: 'jetson-nano-10w', radio: 'wifi', link: { upBps: 100e6, downBps: 100e6, rttMs: 3 } },
        { id: 'nano2', role: 'edge', speed: 0.2, memoryBytes: 4096 * MiB, power: 'jetson-nano-5w', radio: 'wifi', link: { upBps: 100e6, downBps: 100e6, rttMs: 3 } },
        cloud,
      ],
    },
  ];
}

async function zooGraphs(): Promise<{ graphs: Array<{ name: string; graph: TaskGraph }>; note?: string }> {
  let getTaskGraph: (ref: string, options: { fused?: boolean }) => Promise<TaskGraph>;
  try {
    ({ getTaskGraph } = await import('../models/task-graph.ts'));
  } catch (err) {
    return { graphs: [], note: `models/ is not available (${(err as Error).message.split('\n')[0]})` };
  }
  const graphs: Array<{ name: string; graph: TaskGraph }> = [];
  const skipped: string[] = [];
  for (const name of ['chain', 'fusion', 'mobilenetv2', 'resnet18', 'inception', 'vgg16']) {
    try {
      graphs.push({ name, graph: await getTaskGraph(name, { fused: true }) });
    } catch (err) {
      skipped.push(`${name} (${(err as Error).message.split('\n')[0]})`);
    }
  }
  return skipped.length > 0 ? { graphs, note: `skipped: ${skipped.join('; ')}` } : { graphs };
}

/** Energy objectives: cost over exact's cost for a few algorithms. */
function energyQuality(requests: PlanRequest[]): void {
  const objectives: Array<[string, Objective]> = [
    ['energy (origin)', { kind: 'energy' }],
    ['energy-total', { kind: 'energy-total' }],
    ['weighted 1/s + 1/J', { kind: 'weighted', latencyWeight: 1, energyWeight: 1 }],
  ];
  const rows: string[][] = [];
  for (const [label, objective] of objectives) {
    const ratios: Record<string, number[]> = { local: [], heft: [], neurosurgeon: [], 'chain-dp': [], dads: [], 'auto-heuristic': [], auto: [] };
    for (const base of requests) {
      const request = { ...base, objective };
      const exact = planJob({ ...request, algorithm: 'exact' });
      if (!exact.ok) continue;
      for (const name of Object.keys(ratios)) {
        const outcome = name === 'auto-heuristic'
          ? planJob({ ...request, algorithm: 'auto', limits: { autoExactMaxTasks: 0 } })
          : planJob({ ...request, algorithm: name });
        if (outcome.ok) ratios[name]!.push(outcome.plan.cost / exact.plan.cost);
      }
    }
    for (const [name, list] of Object.entries(ratios)) {
      list.sort((a, b) => a - b);
      rows.push([`${label}: ${name}`, String(list.length), (list.reduce((a, b) => a + b, 0) / list.length).toFixed(4), quantile(list, 0.95).toFixed(4), list[list.length - 1]!.toFixed(4)]);
    }
  }
  write(`### Energy objectives: objective value / exact's, on ${requests.length} of the random DAGs\n`);
  write(table(['objective: algorithm', 'plans', 'mean ratio', 'p95', 'max'], rows));
  write('');
}

function speed(quick: boolean): { target: number } {
  write('### Planning time (ms; median of repeated runs, whole planJob: validation, instance, algorithm, plan)\n');
  const sizes: Array<[number, number]> = [];
  for (const n of [50, 500, 2000]) for (const D of [5, 20, 100]) sizes.push([n, D]);
  const rows: string[][] = [];
  let target = NaN;
  for (const [n, D] of sizes) {
    const request = randomRequest({ tasks: n, devices: D, ccr: 1, heterogeneity: 0.5, seed: n + D });
    const runs = quick ? 3 : n >= 2000 && D >= 100 ? 3 : n >= 2000 || D >= 100 ? 5 : 9;
    const cells = [`${n} x ${D}`];
    for (const algorithm of ['auto', 'heft', 'neurosurgeon', 'dads', 'chain-dp']) {
      planJob({ ...request, algorithm }); // warm-up
      const times: number[] = [];
      for (let i = 0; i < runs; i++) {
        const started = performance.now();
        const outcome = planJob({ ...request, algorithm });
        times.push(performance.now() - started);
        if (!outcome.ok) throw new Error(`${algorithm} failed on ${n}x${D}: ${outcome.issues[0]!.message}`);
      }
      times.sort((a, b) => a - b);
      const median = quantile(times, 0.5);
      if (algorithm === 'auto' && n === 500 && D === 20) target = median;
      cells.push(median.toFixed(1));
    }
    rows.push(cells);
  }
  write(table(['tasks x devices', 'auto (heuristic path)', 'heft', 'neurosurgeon', 'dads', 'chain-dp'], rows));
  write('');
  return { target };
}

export async function runBench(options: BenchOptions): Promise<void> {
  const started = performance.now();
  write('## Planner quality (predicted makespan / exact\'s, latency objective)\n');
  const samples: Sample[] = [];
  const randoms = randomInstances(options.quick);
  for (const request of randoms) {
    const s = evaluateInstance(request);
    if (s) samples.push(s);
  }
  const random = qualityTable('Random DAGs, 8-16 tasks, 3-4 devices, CCR 0.1-5, heterogeneity 0.1-1', samples);

  const zoo = await zooGraphs();
  const zooSamples: Sample[] = [];
  if (zoo.note) write(`note: zoo models: ${zoo.note}\n`);
  if (zoo.graphs.length > 0) write(`zoo models (fused task graphs): ${zoo.graphs.map((z) => `${z.name} ${z.graph.tasks.length} tasks`).join(', ')}\n`);
  for (const { graph } of zoo.graphs) {
    for (const sc of scenarios()) {
      const s = evaluateInstance({ graph, devices: sc.devices, origin: sc.origin });
      if (s) zooSamples.push(s);
    }
  }
  const zooResult = zooSamples.length > 0 ? qualityTable(`Zoo models (fused) x ${scenarios().length} device/bandwidth scenarios`, zooSamples) : null;

  energyQuality(randoms.filter((_, i) => i % (options.quick ? 6 : 5) === 0));

  const all = [...samples, ...zooSamples];
  const allAuto = all.map((s) => s.ratio.auto).filter((x): x is number => x !== undefined);
  const mean = allAuto.reduce((a, b) => a + b, 0) / allAuto.length;
  const max = Math.max(...allAuto);
  const worse = random.autoWorseThanHeft + (zooResult?.autoWorseThanHeft ?? 0);
  const { target } = speed(options.quick);
  write('### Targets\n');
  write(`- auto mean ratio <= 1.01 over ${all.length} instances: ${mean.toFixed(4)} ${mean <= 1.01 ? 'MET' : 'MISSED'}`);
  write(`- auto max ratio <= 1.05: ${max.toFixed(4)} ${max <= 1.05 ? 'MET' : 'MISSED'}`);
  write(`- auto never worse than heft: ${worse} instance(s) worse ${worse === 0 ? 'MET' : 'MISSED'}`);
  write(`- 500 tasks x 20 devices with auto's heuristic path <= 50 ms: ${target.toFixed(1)} ms ${target <= 50 ? 'MET' : 'MISSED'}`);
  write(`\n(bench ran in ${((performance.now() - started) / 1000).toFixed(1)} s)`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
  await runBench({ quick: values.quick === true, load: {} });
}
