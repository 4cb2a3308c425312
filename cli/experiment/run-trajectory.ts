/**
 * A trajectory: the car drives along a bandwidth trace while it submits jobs at a fixed rate,
 * once per strategy. Each strategy has a car of its own (`<origin>-<strategy>`, the origin's
 * flags, the same replayed trace, started together); with `schedule: parallel` the cars drive
 * side by side, so the whole experiment takes one drive; with `sequential` one after another.
 * Each car's jobs exclude the other cars, so strategies share only the edge and the cloud.
 *
 * `fixed` plans its first job with `auto` and pins every later job's tasks where that plan
 * put them; the others name their algorithm on every job (`auto` re-plans each time with the
 * bandwidth the car last announced).
 */
import { join } from 'node:path';
import type { DeviceLaunch } from '../demo/system.ts';
import { InputCache, pinnedTasks, runJob, type SubmittedJob } from './jobs.ts';
import { fillSpeedups, type TraceClock, type TrajectoryRow } from './results.ts';
import { launchOf, type RunContext } from './run-sweep.ts';
import { FIXED, strategyDeviceId, type TrajectoryScenario } from './scenario.ts';
import { TraceEpochEstimator, tracePositionAt, writeDriveTrace } from './trace-clock.ts';
import { loadTrace, type BandwidthTrace } from '../../node-runtime/link.ts';
import type { HistoryRecord } from '../../node-runtime/history.ts';
import type { JobClient } from '../../node-runtime/client.ts';

export interface TrajectoryOutput {
  rows: TrajectoryRow[];
  jobs: HistoryRecord[];
  traceClocks: TraceClock[];
  /** One loop of the replayed trace, seconds of drive. */
  driveS: number;
  driveTrace: Array<[number, number]>;
}

interface Submission {
  job: number;
  submittedAtMs: number;
  announcedBps: number;
  result: Promise<SubmittedJob>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** Status heartbeat of the cars: twice per trace sample (replayed), within 0.2-2 s. */
function heartbeatFor(drive: BandwidthTrace): number {
  const sampleMs = (drive.durationS * 1000) / drive.timesS.length;
  return Math.round(Math.min(2000, Math.max(200, sampleMs / 2)));
}

export async function runTrajectory(s: TrajectoryScenario, ctx: RunContext): Promise<TrajectoryOutput> {
  const { system, log } = ctx;
  const drive = writeDriveTrace(loadTrace(s.trace), s.durationS, s.timeScale, join(ctx.outDir, 'drive.tsv'));
  const origin = s.devices.find((d) => d.id === s.origin)!;
  const helpers = s.devices.filter((d) => d.id !== s.origin).map((d) => launchOf(d));
  // The first helper alone generates the model and profiles this host; the rest reuse the cache.
  if (helpers.length > 0) await system.startDevices(helpers.slice(0, 1), `${helpers[0]!.id}`);
  if (helpers.length > 1) await system.startDevices(helpers.slice(1), helpers.slice(1).map((h) => h.id).join(', '));

  const cars = s.strategies.map((strategy) => strategyDeviceId(s.origin, strategy));
  const carLink = `up=${drive.bps[0]! / 1e6},down=${s.link.downMbps},rtt=${s.link.rttMs}`;
  const radio = s.link.radio ?? origin.radio;
  const launches: DeviceLaunch[] = cars.map((id) => launchOf(origin, {
    id, link: carLink, trace: join(ctx.outDir, 'drive.tsv'), heartbeatMs: heartbeatFor(drive), ...(radio ? { radio } : {}),
  }));
  const clocks = new Map(cars.map((id) => [id, new TraceEpochEstimator(drive, Date.now())]));
  const onStatus = (st: { deviceId: string; sentAtMs: number; traceUpBps: number }): void => clocks.get(st.deviceId)?.observe(st.sentAtMs, st.traceUpBps);
  system.watcher.statusListeners.add(onStatus);
  try {
    await system.startDevices(launches, `the cars ${cars.join(', ')}`);
    log.info({ cars, driveS: drive.durationS * s.timeScale, timeScale: s.timeScale }, 'cars ready; the drive starts');
    const clients = await Promise.all(cars.map((id) => system.client(id)));
    const inputs = new InputCache();
    const graph = await inputs.graph(s.model);
    const request = (strategy: string, car: string): { algorithm: string; timeoutMs: number; excludeDevices: string[] } => ({
      algorithm: strategy === FIXED ? 'auto' : strategy, timeoutMs: s.timeoutMs, excludeDevices: cars.filter((c) => c !== car),
    });
    // Warm-up: each car runs its strategy's algorithm before the drive (not recorded).
    for (let k = 0; k < s.warmupJobs && !ctx.stopped(); k++) {
      await Promise.all(s.strategies.map(async (strategy, i) => {
        await runJob(clients[i]!, await inputs.job(s.model), { ...request(strategy, cars[i]!), inputs: await inputs.inputsFor(s.model, s.seed) }, { algorithm: strategy, job: -1 });
      }));
    }

    const count = Math.floor(s.durationS * s.jobsPerSecond);
    const intervalMs = 1000 / (s.jobsPerSecond * s.timeScale);
    const total = count * s.strategies.length;
    let done = 0;
    const submissions = new Map<string, Submission[]>(cars.map((c) => [c, []]));
    const driveStart = new Map<string, number>();

    const driveOne = async (strategy: string, i: number): Promise<void> => {
      const car = cars[i]!;
      const client: JobClient = clients[i]!;
      const list = submissions.get(car)!;
      const t0 = Date.now();
      driveStart.set(car, t0);
      let fixed: Record<string, string> | undefined;
      for (let k = 0; k < count && !ctx.stopped(); k++) {
        await sleep(t0 + k * intervalMs - Date.now());
        if (ctx.stopped()) break;
        const base = request(strategy, car);
        const jobInputs = await inputs.inputsFor(s.model, s.seed + k);
        const model = await inputs.job(s.model);
        const pinned = strategy === FIXED && fixed ? { tasks: pinnedTasks(graph, fixed) } : {};
        const submittedAtMs = Date.now();
        const result = runJob(client, model, { ...base, inputs: jobInputs, ...pinned }, { algorithm: strategy, job: k }).then((j) => {
          done++;
          ctx.progress?.(done, total, `${strategy} job ${k + 1}/${count}`);
          return j;
        });
        list.push({ job: k, submittedAtMs, announcedBps: system.watcher.devices.get(car)?.traceUpBps ?? 0, result });
        if (strategy === FIXED && !fixed) {
          // Plan once: the first job that succeeds gives the placement every later job keeps.
          const first = await result;
          const placement = first.outcome?.plan?.placement ?? first.outcome?.result.placement;
          if (first.row.status === 'ok' && placement && Object.keys(placement).length > 0) {
            fixed = { ...placement };
            log.info({ car, placement: first.row.placement }, 'fixed plan chosen');
          }
        }
      }
      await Promise.all(list.map((x) => x.result));
    };

    ctx.progress?.(0, total, 'driving');
    if (s.schedule === 'parallel') await Promise.all(s.strategies.map((strategy, i) => driveOne(strategy, i)));
    else for (const [i, strategy] of s.strategies.entries()) await driveOne(strategy, i);
    ctx.progress?.(done, total, ctx.stopped() ? 'interrupted' : 'done');

    const rows: TrajectoryRow[] = [];
    const jobs: HistoryRecord[] = [];
    const traceClocks: TraceClock[] = [];
    for (const [i, car] of cars.entries()) {
      const clock = clocks.get(car)!;
      traceClocks.push({ device: car, ...clock.summary });
      if (!clock.observed) log.warn({ car }, 'no trace rate announced by the car: positions along the drive are guesses');
      for (const sub of submissions.get(car)!) {
        const j = await sub.result;
        const submittedAtMs = j.outcome?.submittedAtMs ?? sub.submittedAtMs;
        const at = tracePositionAt(drive, clock.epochMs, submittedAtMs);
        jobs.push(j.record);
        rows.push({
          ...j.row, model: s.model, device: car, driveTimeS: ((submittedAtMs - driveStart.get(car)!) / 1000) * s.timeScale,
          tracePositionS: at.positionS * s.timeScale, uplinkMbps: at.bps / 1e6, announcedUplinkMbps: sub.announcedBps / 1e6,
        });
      }
      log.info({ car, strategy: s.strategies[i], jobs: submissions.get(car)!.length }, 'car done');
    }
    fillSpeedups(rows, () => 'drive');
    const driveTrace = Array.from(drive.timesS, (t, k) => [t * s.timeScale, drive.bps[k]! / 1e6] as [number, number]);
    return { rows, jobs, traceClocks, driveS: drive.durationS * s.timeScale, driveTrace };
  } finally {
    system.watcher.statusListeners.delete(onStatus);
  }
}
