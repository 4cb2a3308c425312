/**
 * Load: emulated IoT devices (Raspberry Pi 4 class, WiFi; 8 by default, `--cars`) each submit
 * jobs of one model (MobileNetV2, `--model`) at 2 per second (`--rate`) for 60 s (`--duration`),
 * plus one VGG16 stream at 0.2 jobs/s, over an edge server and a cloud VM — every device, the
 * planner and the broker a process of its own; `--compute virtual` has the devices take their
 * profiled time instead of running the model. Reports the offered rate, latency percentiles
 * under load beside the same jobs unloaded, throughput, lost jobs, the prediction error, the
 * planner's bytes per job, and the broker's and the planner's CPU (from /proc, in the same run).
 *
 * `--sweep`: the same mix from 10% to 150% of the fleet capacity the planner computes for it
 * (bench/load-sweep.ts), with a deadline on every job.
 */
import type { EmulatedSystem } from '../cli/demo/system.ts';
import type { PlannerStatus } from '../schemas/generated/edgeweave.ts';
import { percentile } from '../node-runtime/client-stream.ts';
import type { BenchOptions } from './options.ts';
import { PLANNER_ID, cpuSeconds, isOk, predictionError, runMix, startFleet, unloadedLatencies, type LoadFleet } from './load-fleet.ts';
import { ATTEMPTS_PER_SUBMISSION } from '../planner/request.ts';
import { runSweep } from './load-sweep.ts';

/** What the planner said it received and sent, and the attempts it dispatched, in its latest status. */
function plannerTraffic(system: EmulatedSystem): { in: number; out: number; jobs: number } {
  const s = system.watcher.planners.get(PLANNER_ID);
  return { in: s?.bytesIn ?? 0, out: s?.bytesOut ?? 0, jobs: s?.jobsPlanned ?? 0 };
}

export async function runBench(options: BenchOptions): Promise<void> {
  const fleet = await startFleet(options.load);
  try {
    if (options.load.sweep) await runSweep(fleet, options);
    else await runLoad(fleet, options);
  } finally {
    await fleet.system.close();
  }
}

async function runLoad(fleet: LoadFleet, options: BenchOptions): Promise<void> {
  const { system, clients, carCount, rate, model, compute, inputs } = fleet;
  const durationMs = (options.load.durationS ?? (options.quick ? 10 : 60)) * 1000;
  const unloaded = await unloadedLatencies(clients[0]!, model, inputs.model, 10);

  const brokerPid = system.procs.pidOf('broker');
  const plannerPid = system.procs.pidOf('planner');
  const cpu0 = { broker: cpuSeconds(brokerPid), planner: cpuSeconds(plannerPid), at: Date.now() };
  const traffic0 = plannerTraffic(system);
  // The capacity the planner computed for the mix while it ran (in the run's second half).
  const started = Date.now();
  let during: PlannerStatus | undefined;
  const watch = setInterval(() => {
    const s = system.watcher.planners.get(PLANNER_ID);
    if (s && s.sentAtMs > started + durationMs / 2 && s.sentAtMs < started + durationMs && s.capacityJobsPerS > 0) during = s;
  }, 100);
  const { mobile, vgg: vggOutcomes, wallS, staggerS } = await runMix(fleet, rate, fleet.vggRate, durationMs).finally(() => clearInterval(watch));
  const cpu1 = { broker: cpuSeconds(brokerPid), planner: cpuSeconds(plannerPid), at: Date.now() };
  // The planner republishes its counters every 2 s: wait for a status from after the last job.
  await system.watcher.waitFor(() => (system.watcher.planners.get(PLANNER_ID)?.sentAtMs ?? 0) > cpu1.at, 'a planner status after the run', 10_000).catch(() => undefined);
  const traffic1 = plannerTraffic(system);
  const all = [...mobile, ...vggOutcomes];
  const ok = mobile.filter(isOk).map((o) => o.latencyMs);
  const lost = all.filter((o) => !isOk(o)).length;
  const vggOk = vggOutcomes.filter(isOk).map((o) => o.latencyMs);
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
  process.stdout.write(`${carCount} cars x ${rate} ${model} jobs/s for ${durationMs / 1000} s, plus VGG16 at ${fleet.vggRate} jobs/s; edge1 (speed 0.5, 2 workers), cloud1 (speed 1, 2 workers); compute ${compute}\n\n`);
  line('offered (jobs / s)', (carCount * rate + fleet.vggRate).toFixed(2));
  line('fleet capacity for this mix (jobs / s)', during ? `${during.capacityJobsPerS.toFixed(1)} (planner; bottleneck ${during.capacityBottleneck.join(', ') || '-'})` : '-');
  line('jobs submitted', String(all.length));
  line('jobs lost (not OK)', String(lost));
  // A result of an attempt past a submission's first means the planner planned the job again.
  const replanned = all.filter((o) => isOk(o) && o.result.attempt % ATTEMPTS_PER_SUBMISSION !== 1).length;
  line('jobs re-planned / submitted again by origins', `${replanned} / ${clients.reduce((s, c) => s + c.resubmitted, 0)}`);
  line('throughput (jobs completed / s)', ((all.length - lost) / (wallS - staggerS)).toFixed(2));
  line(`${model} unloaded p50 ms`, percentile(unloaded, 0.5).toFixed(0));
  line(`${model} loaded p50 / p95 / p99 ms`, `${percentile(ok, 0.5).toFixed(0)} / ${percentile(ok, 0.95).toFixed(0)} / ${percentile(ok, 0.99).toFixed(0)}`);
  line('latency ratio loaded / unloaded (p50 / p99)', `${(percentile(ok, 0.5) / percentile(unloaded, 0.5)).toFixed(2)} / ${(percentile(ok, 0.99) / percentile(unloaded, 0.5)).toFixed(2)}`);
  line('prediction error under load (median)', `${(predictionError(all) * 100).toFixed(1)}%`);
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
}
