/**
 * A job's watchdog. A dispatched job that shows no progress for well past its prediction is
 * judged (planner/progress.ts): one merely queued behind other work on a live device is left
 * alone, so a busy fleet does not run its jobs twice; a lost message or a hung device gets it
 * planned again, without the device to blame. A job whose origin is away waits for it until
 * the job's deadline. A waiting job is tried again when its watchdog fires.
 */
import type { Logger } from 'pino';
import type { DeviceRegistry } from './device-registry.ts';
import type { JobRecord } from './job-book.ts';
import { judgeQuietJob, type DeviceLoad, type FleetProgress } from './progress.ts';
import { deadlineOf } from './options.ts';

/** What the watchdog does to a job it judged. */
export interface WatchdogActions {
  /** The waiting job's time came: plan it again. */
  retry(job: JobRecord): void;
  /** The attempt under way is stuck: plan the next. */
  replan(job: JobRecord, reason: string): void;
  /** The job's origin stayed away past the job's deadline. */
  timedOut(job: JobRecord, message: string): void;
}

/** Longest timer Node takes. */
const MAX_TIMER_MS = 2_147_000_000;

export class JobWatchdog {
  constructor(
    private readonly registry: DeviceRegistry,
    private readonly fleet: FleetProgress,
    private readonly overrunMs: number,
    private readonly actions: WatchdogActions,
    private readonly isStopped: () => boolean,
    private readonly log: Logger,
  ) {}

  /** (Re)arms the job's watchdog for a prediction of `predictedMs` (0 for a waiting job). */
  arm(job: JobRecord, predictedMs: number): void {
    this.disarm(job);
    const limit = Math.min(MAX_TIMER_MS, 2 * predictedMs + this.overrunMs);
    const again = (ms: number): void => {
      job.watchdog = setTimeout(() => {
        job.watchdog = undefined;
        if (!this.isStopped()) this.check(job, limit, again);
      }, ms);
      job.watchdog.unref();
    };
    again(limit);
  }

  disarm(job: JobRecord): void {
    if (job.watchdog) clearTimeout(job.watchdog);
    job.watchdog = undefined;
  }

  private check(job: JobRecord, limit: number, again: (ms: number) => void): void {
    const state = job.state;
    // Its devices are still gone: try again (the job fails at its deadline).
    if (state.phase === 'waiting') return this.actions.retry(job);
    if (state.phase !== 'dispatched') return;
    const now = Date.now();
    const quietMs = now - state.lastProgressAtMs;
    if (quietMs < limit) return again(limit - quietMs);
    if (this.originAway(job)) {
      if (now - job.firstSeenAtMs > deadlineOf(job.request)) return this.actions.timedOut(job, `its origin ${job.request.originDevice} was away past the job's deadline`);
      return again(Math.max(1000, limit / 2));
    }
    const verdict = judgeQuietJob(state.frontier.waiting(), (id) => ({ load: this.loadOf(id, job.key), activity: this.fleet.activityOf(id) }), (s) => this.fleet.overtaking(s), now, limit);
    if (!verdict.stuck) {
      this.log.debug({ jobId: job.request.jobId, quietMs, waitingOn: verdict.waitingOn }, 'quiet job is queued, not stuck');
      return again(Math.max(1000, limit / 2));
    }
    // A device that held the job up is left out of its next attempts (the origin and pins cannot be).
    const pinned = new Set(job.request.inputs.map((i) => i.sourceDevice ?? '').filter((d) => d !== ''));
    if (verdict.deviceId && verdict.deviceId !== job.request.originDevice && !pinned.has(verdict.deviceId)) job.avoid.add(verdict.deviceId);
    if (verdict.resultLost) job.resultMaybeLost = true;
    this.actions.replan(job, verdict.reason);
  }

  /** The origin of the job is away (same incarnation): its job waits for it rather than being judged. */
  private originAway(job: JobRecord): boolean {
    const rec = this.registry.get(job.request.originDevice);
    return rec !== undefined && !this.registry.isAlive(rec, Date.now()) && rec.status.incarnation === job.plan.stages.find((s) => s.deviceId === job.request.originDevice)?.deviceIncarnation;
  }

  /** A device as the watchdog sees it: alive, its executors, what it holds, what this planner placed there (other jobs than `exceptJob`). */
  private loadOf(deviceId: string, exceptJob: string): DeviceLoad | undefined {
    const rec = this.registry.get(deviceId);
    if (!rec) return undefined;
    const workers = Math.max(1, rec.status.workers.length);
    return {
      alive: this.registry.isAlive(rec, Date.now()), workers, statusAtMs: rec.seenAtMs,
      inHand: rec.status.queuedStages + Math.ceil(rec.status.load * workers),
      placedPending: this.fleet.pendingOn(deviceId, exceptJob),
    };
  }
}
