/**
 * The load bench's fleet (bench/load.ts, bench/load-sweep.ts): emulated cars (Raspberry Pi 4
 * class, WiFi) each submitting one model, one car submitting VGG16, an edge server and a cloud
 * VM, every device, the planner and the broker a process of its own; and the streams they run.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { EmulatedSystem, type DeviceLaunch } from '../cli/demo/system.ts';
import { getTaskGraph } from '../models/task-graph.ts';
import { buildJobInputs } from '../node-runtime/job-inputs.ts';
import { JobStatus, type JobInputInit, type JobRequestInit } from '../schemas/generated/edgeweave.ts';
import { percentile, streamJobs } from '../node-runtime/client-stream.ts';
import type { JobClient, JobOutcome } from '../node-runtime/client.ts';
import type { LoadOptions } from './options.ts';

const CARS = 8;
const RATE_PER_CAR = 2;
const MODEL = 'mobilenetv2';
const VGG_RATE = 0.2;
export const PLANNER_ID = 'load-planner';

/** The emulated fleet, its clients (the cars', then the VGG16 car's) and the jobs they submit. */
export interface LoadFleet {
  system: EmulatedSystem;
  model: string;
  compute: 'real' | 'virtual';
  carCount: number;
  /** Jobs / s of each car and of the VGG16 car, as asked. */
  rate: number;
  vggRate: number;
  clients: JobClient[];
  inputs: { model: JobInputInit[]; vgg: JobInputInit[] };
}

export async function startFleet(o: LoadOptions): Promise<LoadFleet> {
  const carCount = o.cars ?? CARS;
  const model = o.model ?? MODEL;
  const compute = o.compute ?? 'real';
  const log = pino({ level: process.env['EDGEWEAVE_LOG_LEVEL'] ?? 'warn' }, pino.destination(2));
  const dataDir = process.env['EDGEWEAVE_DATA_DIR'] ?? mkdtempSync(join(tmpdir(), 'edgeweave-bench-load-'));
  const system = await EmulatedSystem.start({ dataDir, models: [...new Set([model, 'vgg16'])], plannerId: PLANNER_ID, log, planDag: false });
  try {
    const car = (id: string, models: string[]): DeviceLaunch => ({ id, role: 'iot', speed: 0.1, memoryMiB: 1024, power: 'raspberry-pi-4', radio: 'wifi', link: 'up=10,down=20,rtt=10', models, compute });
    const cars = Array.from({ length: carCount }, (_, i) => car(`car${i + 1}`, [model]));
    const vggCar = car(`car${carCount + 1}`, ['vgg16']);
    // One device first (it fills the profile cache), then the rest together.
    await system.startDevices([{ id: 'edge1', role: 'edge', speed: 0.5, link: 'up=200,down=200,rtt=2', workers: 2, compute }]);
    await system.startDevices([{ id: 'cloud1', role: 'cloud', speed: 1, link: 'up=50,down=50,rtt=40', workers: 2, compute }, vggCar, ...cars], 'the cars and the cloud');
    return {
      system, model, compute, carCount, rate: o.rate ?? RATE_PER_CAR, vggRate: VGG_RATE,
      clients: await Promise.all([...cars, vggCar].map((c) => system.client(c.id))),
      inputs: {
        model: await buildJobInputs(await getTaskGraph(model, { fused: true }), ['pixels:1']),
        vgg: await buildJobInputs(await getTaskGraph('vgg16', { fused: true }), ['pixels:2']),
      },
    };
  } catch (err) {
    await system.close();
    throw err;
  }
}

/** The job a stream submits. */
export function jobOf(model: string, inputs: JobInputInit[], extra: Partial<JobRequestInit> = {}): Omit<JobRequestInit, 'originDevice' | 'jobId'> {
  return { model: { name: model }, inputs, fused: true, algorithm: 'auto', timeoutMs: 180_000, ...extra };
}

/** Latencies (ms) of `count` jobs of `model` from `client`, one at a time, the first two left out (warm-up). */
export async function unloadedLatencies(client: JobClient, model: string, inputs: JobInputInit[], count: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count + 2; i++) {
    const o = await client.submit(jobOf(model, inputs, { timeoutMs: 60_000 }));
    if (i >= 2 && o.result.status === JobStatus.JOB_STATUS_OK) out.push(o.latencyMs);
  }
  return out;
}

/** Every car at `carRate` and the VGG16 car at `vggRate` for `durationMs`, the streams out of step; the outcomes once all are in. */
export async function runMix(fleet: LoadFleet, carRate: number, vggRate: number, durationMs: number, extra: { model?: Partial<JobRequestInit>; vgg?: Partial<JobRequestInit> } = {}): Promise<{ mobile: JobOutcome[]; vgg: JobOutcome[]; wallS: number; staggerS: number }> {
  const started = Date.now();
  const { carCount, clients, inputs, model } = fleet;
  // The cars' cameras are not in step: each stream starts its own share of a period later.
  const periodMs = 1000 / carRate;
  const [vgg, ...cars] = await Promise.all([
    streamJobs(clients[carCount]!, jobOf('vgg16', inputs.vgg, extra.vgg), { ratePerS: vggRate, durationMs, phaseMs: periodMs / 2 / carCount }),
    ...clients.slice(0, carCount).map((c, i) => streamJobs(c, jobOf(model, inputs.model, extra.model), { ratePerS: carRate, durationMs, phaseMs: (i * periodMs) / carCount })),
  ]);
  // staggerS: how much later than the first the last stream started (rates are over the rest).
  return { mobile: cars.flat(), vgg: vgg!, wallS: (Date.now() - started) / 1000, staggerS: ((carCount - 1) * periodMs) / carCount / 1000 };
}

export const isOk = (o: JobOutcome): boolean => o.result.status === JobStatus.JOB_STATUS_OK;

/**
 * Median relative error of the planner's latency prediction over OK jobs: |measured - predicted|
 * / measured, over what the prediction covers — from the planner receiving the job (the plan's
 * submitted_at, reference clock) to the result reaching the origin. The time the submission took
 * to reach the planner is in the latencies, not here: no planner can predict a job it has not seen.
 */
export function predictionError(outcomes: readonly JobOutcome[]): number {
  const errors = outcomes.filter(isOk).filter((o) => o.plan && o.plan.submittedAtMs > 0 && o.result.predictedLatencyMs > 0)
    .map((o) => ({ measured: o.submittedAtMs + o.clockOffsetMs + o.latencyMs - o.plan!.submittedAtMs, predicted: o.result.predictedLatencyMs }))
    .filter((m) => m.measured > 0)
    .map((m) => Math.abs(m.measured - m.predicted) / m.measured);
  return percentile(errors, 0.5);
}

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks (100 Hz)
  } catch {
    return Number.NaN;
  }
}

/** This host's CPU time so far, busy and in all (clock ticks over every core), from /proc/stat. */
export function hostCpu(): { busy: number; total: number } {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    const total = f.reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return { busy: Number.NaN, total: Number.NaN };
  }
}
