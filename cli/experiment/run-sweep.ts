/**
 * A sweep: every speed setting x every link setting of the origin x every model x every
 * algorithm, `jobsPerCell` jobs each, one after another from the origin. A device is
 * restarted only when its flags change (a new link for the car, a new speed).
 */
import type { Logger } from 'pino';
import type { DeviceLaunch, EmulatedSystem } from '../demo/system.ts';
import { InputCache, runJob } from './jobs.ts';
import { fillSpeedups, type SweepRow } from './results.ts';
import { linkText, type ScenarioDevice, type SweepScenario, type LinkSetting, type SpeedSetting } from './scenario.ts';
import type { HistoryRecord } from '../../node-runtime/history.ts';

export interface RunContext {
  system: EmulatedSystem;
  log: Logger;
  progress?: (done: number, total: number, label: string) => void;
  /** True once the run should stop (SIGINT): no new job is submitted. */
  stopped: () => boolean;
  /** Where the trajectory writes its replayed trace. */
  outDir: string;
}

export function launchOf(d: ScenarioDevice, overrides: Partial<DeviceLaunch> = {}): DeviceLaunch {
  const l: DeviceLaunch = { id: d.id, role: d.role, speed: d.speed };
  if (d.memoryMiB !== undefined) l.memoryMiB = d.memoryMiB;
  if (d.power !== undefined) l.power = d.power;
  if (d.radio !== undefined) l.radio = d.radio;
  if (d.link !== undefined) l.link = linkText(d.link);
  if (d.workers !== undefined) l.workers = d.workers;
  return { ...l, ...overrides };
}

function launchesFor(s: SweepScenario, speed: SpeedSetting, link: LinkSetting): DeviceLaunch[] {
  return s.devices.map((d) => {
    const o: Partial<DeviceLaunch> = {};
    const v = speed.speeds[d.id];
    if (v !== undefined) o.speed = v;
    if (d.id === s.origin) {
      o.link = linkText(link);
      if (link.radio !== undefined) o.radio = link.radio;
    }
    return launchOf(d, o);
  });
}

export async function runSweep(s: SweepScenario, ctx: RunContext): Promise<{ rows: SweepRow[]; jobs: HistoryRecord[] }> {
  const { system, log } = ctx;
  const running = new Map<string, string>();
  const ensure = async (launches: DeviceLaunch[], what: string): Promise<void> => {
    const changed = launches.filter((l) => running.get(l.id) !== JSON.stringify(l));
    if (changed.length === 0) return;
    // On the first start the origin goes alone: it generates the models and profiles this host once.
    const first = running.size === 0 ? changed.filter((l) => l.id === s.origin) : [];
    const rest = changed.filter((l) => !first.includes(l));
    try {
      if (first.length > 0) await system.startDevices(first, `${s.origin} (${what})`);
      if (rest.length > 0) await system.startDevices(rest, `${rest.map((l) => l.id).join(', ')} (${what})`);
    } catch (err) {
      // Stopped while the devices (re)start: no more jobs; the rows so far are the result.
      if (ctx.stopped()) return;
      throw err;
    }
    for (const l of changed) running.set(l.id, JSON.stringify(l));
    log.info({ devices: changed.map((l) => l.id), setting: what }, 'devices (re)started');
  };
  const client = await system.client(s.origin);
  const inputs = new InputCache();
  const rows: SweepRow[] = [];
  const jobs: HistoryRecord[] = [];
  const total = s.speeds.length * s.links.length * s.models.length * s.algorithms.length * s.jobsPerCell;
  let done = 0;
  for (const speed of s.speeds) {
    for (const link of s.links) {
      if (ctx.stopped()) break;
      await ensure(launchesFor(s, speed, link), `${link.name}${s.speeds.length > 1 ? `, ${speed.name}` : ''}`);
      for (const model of s.models) {
        for (const algorithm of s.algorithms) {
          const label = `${model} ${link.name}${s.speeds.length > 1 ? ` ${speed.name}` : ''} ${algorithm}`;
          for (let k = 0; k < s.warmupJobs && !ctx.stopped(); k++) {
            ctx.progress?.(done, total, `${label} (warm-up)`);
            await runJob(client, await inputs.job(model), { inputs: await inputs.inputsFor(model, s.seed), algorithm, timeoutMs: s.timeoutMs }, { algorithm, job: -1 });
          }
          for (let k = 0; k < s.jobsPerCell && !ctx.stopped(); k++) {
            ctx.progress?.(done, total, label);
            const job = await runJob(client, await inputs.job(model), { inputs: await inputs.inputsFor(model, s.seed + k), algorithm, timeoutMs: s.timeoutMs }, { algorithm, job: k });
            if (job.row.status !== 'ok') log.warn({ model, algorithm, link: link.name, error: job.row.error }, 'experiment job failed');
            jobs.push(job.record);
            rows.push({
              ...job.row, model, speeds: speed.name, link: link.name, upMbps: link.upMbps, downMbps: link.downMbps, rttMs: link.rttMs,
              radio: link.radio ?? s.devices.find((d) => d.id === s.origin)?.radio ?? '',
            });
            done++;
          }
        }
      }
    }
  }
  ctx.progress?.(done, total, ctx.stopped() ? 'interrupted' : 'done');
  fillSpeedups(rows, (r) => `${r.model}\u0000${r.speeds}\u0000${r.link}`);
  return { rows, jobs };
}
