/**
 * Is a quiet job stuck, or only queued behind other work? The planner re-plans a job that
 * shows no progress, but a job waiting its turn on a live, busy device must be left alone:
 * re-planning it runs it twice and loads the fleet further. Pure rules over plain data, so
 * they are table-tested (test/unit/planner-progress.test.ts).
 *
 * A job waits on its frontier: the stages whose producers have all reported but which have
 * not reported themselves. For each, the device it waits on is judged:
 *
 * - offline: stuck;
 * - it has since completed several stages that were due there after this one (by when the
 *   planner saw them become ready plus their predicted transfer): a device takes its inputs in
 *   arrival order, so this one's input was lost (overtaken);
 * - it has work in hand (its status, or work placed on it) but completed nothing for the whole
 *   quiet limit, and at least HANG_MS: the device hangs (one long stage of another job is not a hang);
 * - a status it sent after this stage became ready says it holds nothing, and the stage has been
 *   ready for the whole quiet limit: the input never arrived;
 * - otherwise it is queued: wait.
 */

/** What the planner has seen a device complete (any job, any planner), from stage reports. */
export interface DeviceActivity {
  /** Stage reports from the device since the planner started. */
  reports: number;
  /** Planner clock of its latest report (-Infinity: none yet). */
  lastReportAtMs: number;
}

/** A busy device must be silent at least this long before it is taken to hang. */
export const HANG_MS = 10_000;
/** A status must be sent this long after a stage became ready to say whether its input arrived. */
export const STATUS_SETTLE_MS = 250;

/** A device as the watchdog needs it. */
export interface DeviceLoad {
  alive: boolean;
  /** Planner clock when its latest status arrived. */
  statusAtMs: number;
  /** Executors of the device. */
  workers: number;
  /** Stages the device says it holds (queued or running), from its latest status. */
  inHand: number;
  /** Stages of other jobs this planner placed on it that have not reported yet. */
  placedPending: number;
}

/** A stage of the job that could run (its producers reported) but has not reported itself. */
export interface WaitingStage {
  stageId: string;
  deviceId: string;
  /** Planner clock when it became ready to run (its last producer reported, or dispatch). */
  readyAtMs: number;
  /** When its input was due at the device: ready + the predicted transfer (planner clock). */
  dueAtMs: number;
}

/** `deviceId`: the device the job is stuck on, when one is to blame (not for a missing result). */
export type Verdict = { stuck: false; waitingOn: string } | { stuck: true; reason: string; deviceId?: string; resultLost?: boolean };

/** How many stages due later may finish on a device before a waiting one is presumed lost (executors run side by side). */
export function overtakeAllowance(workers: number): number {
  return 2 * Math.max(1, workers) + 2;
}

/** How much later than a stage another must have been due to count as overtaking it (arrivals jitter). */
export function overtakeSlackMs(stage: WaitingStage): number {
  return 250 + 0.25 * Math.max(0, stage.dueAtMs - stage.readyAtMs);
}

/**
 * Judges a job that has been quiet for at least `quietLimitMs`. `stages` is its frontier
 * (empty when every stage reported but no result came).
 */
export function judgeQuietJob(
  stages: readonly WaitingStage[],
  deviceOf: (id: string) => { load: DeviceLoad | undefined; activity: DeviceActivity | undefined },
  overtakenBy: (stage: WaitingStage) => number,
  nowMs: number,
  quietLimitMs: number,
): Verdict {
  if (stages.length === 0) return { stuck: true, reason: 'every stage reported, but no result arrived', resultLost: true };
  let waitingOn = '';
  for (const s of stages) {
    const { load, activity } = deviceOf(s.deviceId);
    if (!load || !load.alive) return { stuck: true, reason: `stage ${s.stageId} waits on ${s.deviceId}, which is offline`, deviceId: s.deviceId };
    const overtaken = overtakenBy(s);
    if (overtaken > overtakeAllowance(load.workers)) {
      return { stuck: true, reason: `stage ${s.stageId} on ${s.deviceId} was overtaken by ${overtaken} stages due there after it`, deviceId: s.deviceId };
    }
    const readyForMs = nowMs - s.readyAtMs;
    const busy = load.inHand > 0 || load.placedPending > 0;
    // Idle only by a status sent after the input should have arrived: an older one may predate it.
    const idleSince = !busy && load.statusAtMs >= s.readyAtMs + STATUS_SETTLE_MS;
    if (!idleSince) {
      const silentForMs = nowMs - Math.max(activity?.lastReportAtMs ?? -Infinity, s.readyAtMs);
      if (busy && silentForMs >= Math.max(quietLimitMs, HANG_MS)) return { stuck: true, reason: `${s.deviceId} has work in hand but reported nothing for ${Math.round(silentForMs)} ms`, deviceId: s.deviceId };
      waitingOn ||= `stage ${s.stageId} is queued on ${s.deviceId}`;
    } else if (readyForMs >= quietLimitMs) {
      return { stuck: true, reason: `the input of stage ${s.stageId} never reached ${s.deviceId} (idle for ${Math.round(readyForMs)} ms)`, deviceId: s.deviceId };
    } else {
      waitingOn ||= `stage ${s.stageId} is on its way to ${s.deviceId}`;
    }
  }
  return { stuck: false, waitingOn };
}

/** A stage of a plan as the frontier needs it. */
export interface PlannedStage {
  stageId: string;
  deviceId: string;
  /** Stages of the same plan it takes input from. */
  producers: readonly string[];
  /** Predicted transfer of its input (ms). */
  transferMs: number;
}

/** The stages of one attempt that reported, and those waiting to: its frontier. */
export class JobFrontier {
  private readonly done = new Set<string>();
  private readonly waitingStages = new Map<string, WaitingStage>();

  constructor(private readonly stages: readonly PlannedStage[], nowMs: number) {
    for (const s of stages) if (s.producers.length === 0) this.ready(s, nowMs);
  }

  private ready(s: PlannedStage, nowMs: number): void {
    this.waitingStages.set(s.stageId, { stageId: s.stageId, deviceId: s.deviceId, readyAtMs: nowMs, dueAtMs: nowMs + Math.max(0, s.transferMs) });
  }

  /**
   * A stage reported done; stages whose producers have now all reported become ready. Returns the
   * stage as it waited (undefined for a stage seen before or unknown).
   */
  reported(stageId: string, nowMs: number): WaitingStage | undefined {
    if (this.done.has(stageId) || !this.stages.some((s) => s.stageId === stageId)) return undefined;
    const was = this.waitingStages.get(stageId) ?? { stageId, deviceId: this.stages.find((s) => s.stageId === stageId)!.deviceId, readyAtMs: nowMs, dueAtMs: nowMs };
    this.done.add(stageId);
    this.waitingStages.delete(stageId);
    for (const s of this.stages) {
      if (this.done.has(s.stageId) || this.waitingStages.has(s.stageId)) continue;
      if (s.producers.includes(stageId) && s.producers.every((p) => this.done.has(p))) this.ready(s, nowMs);
    }
    return was;
  }

  isDone(stageId: string): boolean {
    return this.done.has(stageId);
  }

  /** Stages still to report, on `deviceId`. */
  pendingOn(deviceId: string): boolean {
    return this.stages.some((s) => s.deviceId === deviceId && !this.done.has(s.stageId));
  }

  waiting(): WaitingStage[] {
    return [...this.waitingStages.values()];
  }
}

/** Completions remembered per device, to tell which stages overtook which. */
const COMPLETIONS_KEPT = 4096;

/**
 * What the planner sees of every device's progress: reports per device (any job, any
 * planner's), when the stages of its own jobs that completed there were due, and the stages it
 * placed there that have not reported yet.
 */
export class FleetProgress {
  private readonly activity = new Map<string, DeviceActivity>();
  /** deviceId -> completions of this planner's stages: [due at, completed at] (planner clock), oldest first. */
  private readonly completions = new Map<string, Array<[number, number]>>();
  /** deviceId -> keys (job + stage) of placed stages not reported yet. */
  private readonly placedStages = new Map<string, Set<string>>();
  /** job -> where its stages were placed (device, key), to forget them at once. */
  private readonly byJob = new Map<string, Array<[string, string]>>();

  reported(deviceId: string, nowMs: number): void {
    const a = this.activity.get(deviceId) ?? { reports: 0, lastReportAtMs: -Infinity };
    a.reports++;
    a.lastReportAtMs = nowMs;
    this.activity.set(deviceId, a);
  }

  activityOf(deviceId: string): DeviceActivity | undefined {
    return this.activity.get(deviceId);
  }

  /** A stage of this planner's completed on `deviceId`; it had been due there at `dueAtMs`. */
  completed(deviceId: string, dueAtMs: number, nowMs: number): void {
    const list = this.completions.get(deviceId) ?? [];
    list.push([dueAtMs, nowMs]);
    if (list.length > COMPLETIONS_KEPT) list.splice(0, list.length - COMPLETIONS_KEPT);
    this.completions.set(deviceId, list);
  }

  /** Stages that completed on the stage's device since it became ready, though due there more than the slack after it. */
  overtaking(stage: WaitingStage): number {
    const after = stage.dueAtMs + overtakeSlackMs(stage);
    let n = 0;
    for (const [due, at] of this.completions.get(stage.deviceId) ?? []) if (at >= stage.readyAtMs && due > after) n++;
    return n;
  }

  placed(deviceId: string, job: string, stageId: string): void {
    const key = `${job}\u0000${stageId}`;
    const set = this.placedStages.get(deviceId) ?? new Set<string>();
    set.add(key);
    this.placedStages.set(deviceId, set);
    const mine = this.byJob.get(job) ?? [];
    mine.push([deviceId, key]);
    this.byJob.set(job, mine);
  }

  settled(deviceId: string, job: string, stageId: string): void {
    this.placedStages.get(deviceId)?.delete(`${job}\u0000${stageId}`);
  }

  /** The job ended or was planned anew: none of its stages is pending any more. */
  forgetJob(job: string): void {
    for (const [deviceId, key] of this.byJob.get(job) ?? []) this.placedStages.get(deviceId)?.delete(key);
    this.byJob.delete(job);
  }

  /** Stages placed on `deviceId` and not reported, other than `exceptJob`'s. */
  pendingOn(deviceId: string, exceptJob?: string): number {
    const set = this.placedStages.get(deviceId);
    if (!set) return 0;
    if (exceptJob === undefined) return set.size;
    const prefix = `${exceptJob}\u0000`;
    let n = 0;
    for (const k of set) if (!k.startsWith(prefix)) n++;
    return n;
  }
}
