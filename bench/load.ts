/**
 * Load: emulated IoT devices (Raspberry Pi 4 class, WiFi; 8 by default, `--cars`) each submit
 * jobs of one model (MobileNetV2, `--model`) at 2 per second (`--rate`) for 60 s (`--duration`),
 * plus one VGG16 stream at 0.2 jobs/s, over an edge server and a cloud VM — every device, the
 * planner and the broker a process of its own; `--compute virtual` has the devices take their
 * profiled time instead of running the model. Reports the offered rate, latency percentiles
 * under load beside the same jobs unloaded, throughput, lost jobs, the planner's bytes per job,
 * and the broker's and the planner's CPU (from /proc, in the same run).
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
import type { BenchOptions } from './options.ts';
import { ATTEMPTS_PER_SUBMISSION } from '../planner/request.ts';

const CARS = 8;
const RATE_PER_CAR = 2;
const MODEL = 'mobilenetv2';
const VGG_RATE = 0.2;

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat. */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks (100 Hz)
  } catch {
    return Number.NaN;
  }
}

/** What the planner said it received and sent, and the attempts it dispatched, in its latest status. */
function plannerTraffic(system: EmulatedSystem): { in: number; out: number; jobs: number } {
  const s = system.watcher.planners.get('load-planner');
  return { in: s?.bytesIn ?? 0, out: s?.bytesOut ?? 0, jobs: s?.jobsPlanned ?? 0 };
}

/** The job every stream submits. */
function job(model: string, inputs: JobInputInit[]): Omit<JobRequestInit, 'originDevice' | 'jobId'> {
  return { model: { name: model }, inputs, fused: true, algorithm: 'auto', timeoutMs: 180_000 };
}

export async function runBench(options: BenchOptions): Promise<void> {
  const o = options.load;
  const durationMs = (o.durationS ?? (options.quick ? 10 : 60)) * 1000;
  const carCount = o.cars ?? CARS;
  const rate = o.rate ?? RATE_PER_CAR;
  const model = o.model ?? MODEL;
  const compute = o.compute ?? 'real';
  const log = pino({ level: process.env['EDGEWEAVE_LOG_LEVEL'] ?? 'warn' }, pino.destination(2));
  const dataDir = process.env['EDGEWEAVE_DATA_DIR'] ?? mkdtempSync(join(tmpdir(), 'edgeweave-bench-load-'));
  const system = await EmulatedSystem.start({ dataDir, models: [...new Set([model, 'vgg16'])], plannerId: 'load-planner', log, planDag: false });
  try {
    const cars: DeviceLaunch[] = Array.from({ length: carCount }, (_, i) => ({
      id: `car${i + 1}`, role: 'iot', speed: 0.1, memoryMiB: 1024, power: 'raspberry-pi-4', radio: 'wifi', link: 'up=10,down=20,rtt=10', models: [model], compute,
    }));
    const vggCar: DeviceLaunch = { id: `car${carCount + 1}`, role: 'iot', speed: 0.1, memoryMiB: 1024, power: 'raspberry-pi-4', radio: 'wifi', link: 'up=10,down=20,rtt=10', models: ['vgg16'], compute };
    // One device first (it fills the profile cache), then the rest together.
    await system.startDevices([{ id: 'edge1', role: 'edge', speed: 0.5, link: 'up=200,down=200,rtt=2', workers: 2, compute }]);
    await system.startDevices([{ id: 'cloud1', role: 'cloud', speed: 1, link: 'up=50,down=50,rtt=40', workers: 2, compute }, vggCar, ...cars], 'the cars and the cloud');
    const mobilenet = await buildJobInputs(await getTaskGraph(model, { fused: true }), ['pixels:1']);
    const vgg = await buildJobInputs(await getTaskGraph('vgg16', { fused: true }), ['pixels:2']);
    const clients = await Promise.all([...cars, vggCar].map((c) => system.client(c.id)));

    // Unloaded: the same job from car1, one at a time.
    const unloaded: number[] = [];
    for (let i = 0; i < 12; i++) {
      const o = await clients[0]!.submit({ model: { name: model }, inputs: mobilenet, fused: true, algorithm: 'auto', timeoutMs: 60_000 });
      if (i >= 2 && o.result.status === JobStatus.JOB_STATUS_OK) unloaded.push(o.latencyMs);
    }

    // Loaded.
    const brokerPid = system.procs.pidOf('broker');
    const plannerPid = system.procs.pidOf('planner');
    const cpu0 = { broker: cpuSeconds(brokerPid), planner: cpuSeconds(plannerPid), at: Date.now() };
    const traffic0 = plannerTraffic(system);
    const started = Date.now();
    const [vggOutcomes, ...carOutcomes] = await Promise.all([
      streamJobs(clients[carCount]!, job('vgg16', vgg), { ratePerS: VGG_RATE, durationMs }),
      ...cars.map((_, i) => streamJobs(clients[i]!, job(model, mobilenet), { ratePerS: rate, durationMs })),
    ]);
    const wallS = (Date.now() - started) / 1000;
    const cpu1 = { broker: cpuSeconds(brokerPid), planner: cpuSeconds(plannerPid), at: Date.now() };
    // The planner republishes its counters every 2 s: wait for a status from after the last job.
    await system.watcher.waitFor(() => (system.watcher.planners.get('load-planner')?.sentAtMs ?? 0) > cpu1.at, 'a planner status after the run', 10_000).catch(() => undefined);
    const traffic1 = plannerTraffic(system);
    const mobile = carOutcomes.flat();
    const all = [...mobile, ...vggOutcomes!];
    const ok = mobile.filter((o) => o.result.status === JobStatus.JOB_STATUS_OK).map((o) => o.latencyMs);
    const lost = all.filter((o) => o.result.status !== JobStatus.JOB_STATUS_OK).length;
    const vggOk = vggOutcomes!.filter((o) => o.result.status === JobStatus.JOB_STATUS_OK).map((o) => o.latencyMs);
    const placements = new Map<string, number>();
    for (const o of mobile) {
      const where = [...new Set(Object.values(o.result.placement))].sort().join('+') || '-';
      const key = where.includes('edge') ? 'with edge1' : where.includes('cloud') ? 'with cloud1' : 'on the car';
      placements.set(key, (placements.get(key) ?? 0) + 1);
    }
    // Where the time went under load, per device: queueing (wait), transfer in, compute.
    const perDevice = new Map<string, { wait: number[]; transfer: number[]; compute: number[] }>();
    for (const o of mobile) {
      for (const t of o.result.trace) {
        const d = perDevice.get(t.deviceId) ?? { wait: [], transfer: [], compute: [] };
        d.wait.push(t.waitMs);
        d.transfer.push(t.transferInMs);
        d.compute.push(t.computeMs);
        perDevice.set(t.deviceId, d);
      }
    }
    const window = (cpu1.at - cpu0.at) / 1000;
    const line = (k: string, v: string): void => { process.stdout.write(`${k.padEnd(44)} ${v}\n`); };
    process.stdout.write(`${carCount} cars x ${rate} ${model} jobs/s for ${durationMs / 1000} s, plus VGG16 at ${VGG_RATE} jobs/s; edge1 (speed 0.5, 2 workers), cloud1 (speed 1, 2 workers); compute ${compute}\n\n`);
    line('offered (jobs / s)', (carCount * rate + VGG_RATE).toFixed(2));
    line('jobs submitted', String(all.length));
    line('jobs lost (not OK)', String(lost));
    // A result of an attempt past a submission's first means the planner planned the job again.
    const replanned = all.filter((o) => o.result.status === JobStatus.JOB_STATUS_OK && o.result.attempt % ATTEMPTS_PER_SUBMISSION !== 1).length;
    line('jobs re-planned / submitted again by origins', `${replanned} / ${clients.reduce((s, c) => s + c.resubmitted, 0)}`);
    line('throughput (jobs completed / s)', ((all.length - lost) / wallS).toFixed(2));
    line(`${model} unloaded p50 ms`, percentile(unloaded, 0.5).toFixed(0));
    line(`${model} loaded p50 / p95 / p99 ms`, `${percentile(ok, 0.5).toFixed(0)} / ${percentile(ok, 0.95).toFixed(0)} / ${percentile(ok, 0.99).toFixed(0)}`);
    line('latency ratio loaded / unloaded (p50)', (percentile(ok, 0.5) / percentile(unloaded, 0.5)).toFixed(2));
    line('VGG16 loaded p50 / p95 ms', `${percentile(vggOk, 0.5).toFixed(0)} / ${percentile(vggOk, 0.95).toFixed(0)}`);
    line(`${model} placements`, [...placements].map(([k, v]) => `${k}: ${v}`).join(', '));
    for (const group of ['car', 'edge1', 'cloud1']) {
      const entries = [...perDevice].filter(([id]) => id.startsWith(group));
      const all3 = { wait: entries.flatMap(([, d]) => d.wait), transfer: entries.flatMap(([, d]) => d.transfer), compute: entries.flatMap(([, d]) => d.compute) };
      if (all3.compute.length === 0) continue;
      line(`${group === 'car' ? 'cars' : group} stages: median wait / transfer in / compute ms`, `${percentile(all3.wait, 0.5).toFixed(0)} / ${percentile(all3.transfer, 0.5).toFixed(0)} / ${percentile(all3.compute, 0.5).toFixed(0)} (${all3.compute.length} stages)`);
    }
    const jobsPlanned = traffic1.jobs - traffic0.jobs;
    line('planner bytes per job in / out (KiB)', jobsPlanned > 0 ? `${((traffic1.in - traffic0.in) / jobsPlanned / 1024).toFixed(1)} / ${((traffic1.out - traffic0.out) / jobsPlanned / 1024).toFixed(1)}` : '-');
    line('job data over the origins\' local sockets', clients.every((c) => c.handsOverLocally) ? 'yes, every car' : `${clients.filter((c) => c.handsOverLocally).length} of ${clients.length} cars`);
    line('broker CPU (% of one core)', (((cpu1.broker - cpu0.broker) / window) * 100).toFixed(1));
    line('planner CPU (% of one core)', (((cpu1.planner - cpu0.planner) / window) * 100).toFixed(1));
  } finally {
    await system.close();
  }
}
