/**
 * Literal graphs, device sets and random instances for the planner tests and benchmark.
 * Randomness is seeded (mulberry32), so every run sees the same instances.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { TaskGraph, TaskNode } from '../../schemas/graph.ts';
import type { DeviceSpec, PlanRequest } from '../../planner/core/index.ts';

export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface TaskInit {
  id: string;
  preds?: string[];
  outputBytes?: number;
  flops?: number;
  paramBytes?: number;
  activationBytes?: number;
  kind?: string;
  outputShape?: number[];
  pinned?: string;
}

/** A TaskGraph from tasks listing their predecessors; succs, inputs and outputs are derived. */
export function makeGraph(tasks: TaskInit[], modelId = 'test'): TaskGraph {
  const nodes: TaskNode[] = tasks.map((t) => ({
    id: t.id,
    kind: t.kind ?? ((t.preds ?? []).length === 0 ? 'InputLayer' : 'Dense'),
    preds: [...(t.preds ?? [])],
    succs: [],
    outputShape: t.outputShape ?? [Math.max(1, Math.round((t.outputBytes ?? 4) / 4))],
    outputBytes: t.outputBytes ?? 4000,
    flops: t.flops ?? 1e6,
    paramBytes: t.paramBytes ?? 0,
    activationBytes: t.activationBytes ?? 0,
    layers: [t.id],
    ...(t.pinned !== undefined ? { pinned: t.pinned } : {}),
  }));
  const byId = new Map(nodes.map((n) => [n.id, n]));
  for (const n of nodes) for (const p of n.preds) byId.get(p)?.succs.push(n.id);
  return {
    modelId,
    tasks: nodes,
    inputs: nodes.filter((n) => n.preds.length === 0).map((n) => n.id),
    outputs: nodes.filter((n) => n.succs.length === 0).map((n) => n.id),
  };
}

/** A chain input -> l1 -> ... -> l{k}. */
export function chainGraph(k: number, init: (i: number) => Partial<TaskInit> = () => ({})): TaskGraph {
  const tasks: TaskInit[] = [{ id: 'input', outputBytes: 150_528 * 4, flops: 0, outputShape: [224, 224, 3] }];
  for (let i = 1; i <= k; i++) tasks.push({ id: `l${i}`, preds: [i === 1 ? 'input' : `l${i - 1}`], ...init(i) });
  return makeGraph(tasks, 'chain');
}

interface HeftPaper {
  processors: string[];
  computation: Record<string, number[]>;
  edges: Array<[string, string, number]>;
  expected: { heftMakespan: number; heftSchedule: Record<string, Array<[string, number, number]>> };
}

export function loadHeftPaper(): HeftPaper {
  const file = fileURLToPath(new URL('../../data/heft-topcuoglu-2002.json', import.meta.url));
  return JSON.parse(readFileSync(file, 'utf8')) as HeftPaper;
}

/**
 * The paper's example as a request: computation costs as profiles, each edge's cost as bytes over
 * links of 16 kbit/s up and down (0.5 ms per byte each way, so c bytes take exactly c ms), no
 * RTT, no pins, no result trip: the paper's model.
 */
export function heftPaperRequest(paper: HeftPaper = loadHeftPaper()): PlanRequest {
  const tasks = Object.keys(paper.computation).map((id) => ({
    id,
    preds: paper.edges.filter(([, to]) => to === id).map(([from]) => from),
    outputBytes: 0,
    flops: 0,
  }));
  const edgeBytes: Record<string, number> = {};
  for (const [from, to, c] of paper.edges) edgeBytes[`${from}->${to}`] = c;
  const devices: DeviceSpec[] = paper.processors.map((id, p) => ({
    id,
    role: 'edge',
    speed: 1,
    memoryBytes: 2 ** 30,
    link: { upBps: 16_000, downBps: 16_000, rttMs: 0 },
    profileMs: Object.fromEntries(Object.entries(paper.computation).map(([task, costs]) => [task, costs[p]!])),
  }));
  return {
    graph: makeGraph(tasks, 'heft-topcuoglu-2002'),
    devices,
    origin: paper.processors[0]!,
    transport: { inputAsUint8: false },
    cost: { pinInputsToOrigin: false, returnResult: false, edgeBytes },
  };
}

const MiB = 2 ** 20;

/** The devices of the example file: a Pi on a car, an edge server, a cloud VM. */
export function carEdgeCloud(): DeviceSpec[] {
  return [
    { id: 'car1', role: 'iot', speed: 0.1, memoryBytes: 1024 * MiB, power: 'raspberry-pi-4', radio: 'wifi', link: { upBps: 10e6, downBps: 20e6, rttMs: 10 } },
    { id: 'edge1', role: 'edge', speed: 0.5, memoryBytes: 8192 * MiB, link: { upBps: 200e6, downBps: 200e6, rttMs: 2 } },
    { id: 'cloud1', role: 'cloud', speed: 1, memoryBytes: 65536 * MiB, link: { upBps: 50e6, downBps: 50e6, rttMs: 40 } },
  ];
}

export interface RandomDagOptions {
  tasks: number;
  devices: number;
  /** Communication-to-computation ratio: mean transfer time over mean compute time. */
  ccr: number;
  /** Heterogeneity: compute times vary by a factor in [1 - h/2, 1 + h/2] per device. */
  heterogeneity: number;
  seed: number;
  /** Probability of an edge to each of a few earlier tasks beyond the first. */
  density?: number;
}

/**
 * A random layered DAG over an IoT origin and servers, in the style of Topcuoglu et al.'s
 * generator: one input on the origin, per-device compute times from profiles (a device speed
 * times a heterogeneity factor), and output bytes scaled so transfers take `ccr` times the mean
 * compute time on the mean link.
 */
export function randomRequest(o: RandomDagOptions): PlanRequest {
  const r = rng(o.seed);
  const n = o.tasks;
  const density = o.density ?? 0.35;
  const tasks: TaskInit[] = [{ id: 't0', outputBytes: 1, flops: 0 }];
  for (let i = 1; i < n; i++) {
    const preds = new Set<string>();
    // Link to a recent task so the DAG stays connected, then a few random extra edges.
    preds.add(`t${Math.max(0, i - 1 - Math.floor(r() * Math.min(i, 3)))}`);
    for (let j = 0; j < i; j++) if (r() < density / Math.max(1, i - j)) preds.add(`t${j}`);
    tasks.push({ id: `t${i}`, preds: [...preds], outputBytes: 1, flops: 0 });
  }
  const speeds = [0.15, ...Array.from({ length: o.devices - 1 }, () => 0.4 + r() * 1.2)];
  const ups = [8e6 + r() * 12e6, ...Array.from({ length: o.devices - 1 }, () => 30e6 + r() * 170e6)];
  const base = tasks.map(() => 5 + r() * 45);
  const profile: Array<Record<string, number>> = speeds.map(() => ({}));
  for (let d = 0; d < o.devices; d++) {
    for (let i = 0; i < n; i++) {
      const factor = 1 - o.heterogeneity / 2 + r() * o.heterogeneity;
      profile[d]![`t${i}`] = i === 0 ? 0.01 : (base[i]! / speeds[d]!) * factor;
    }
  }
  // Mean compute of a task across devices, and ms per byte on a mean link.
  let meanCompute = 0;
  for (let d = 0; d < o.devices; d++) for (let i = 1; i < n; i++) meanCompute += profile[d]![`t${i}`]! / (o.devices * (n - 1));
  const meanUp = ups.reduce((a, b) => a + b, 0) / ups.length;
  const msPerByte = 2 * (8000 / meanUp);
  for (const t of tasks) t.outputBytes = Math.max(1, Math.round(((0.3 + r() * 1.4) * o.ccr * meanCompute) / msPerByte));
  const devices: DeviceSpec[] = speeds.map((speed, d) => ({
    id: d === 0 ? 'iot0' : `srv${d}`,
    role: d === 0 ? 'iot' : d === o.devices - 1 ? 'cloud' : 'edge',
    speed,
    memoryBytes: 2 ** 30,
    link: { upBps: ups[d]!, downBps: ups[d]! * 1.5, rttMs: d === 0 ? 4 : 1 + r() * 20 },
    profileMs: profile[d]!,
  }));
  return { graph: makeGraph(tasks, `random-${o.seed}`), devices, origin: 'iot0', transport: { inputAsUint8: false } };
}
