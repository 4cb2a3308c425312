/**
 * The other planners of a group as this one sees them: from each one's status, the work and
 * data its own placements put on each device, which this planner's placements then queue
 * behind. Kept by DeviceRegistry; at most a status period (2 s) old, drained by the time since.
 * Plain data and arithmetic, no I/O.
 */
import { PlannerState, type PlannerStatus } from '../schemas/generated/edgeweave.ts';

/** Another planner's view of the devices, from its status: what its own placements hold. */
interface OtherPlanner {
  atMs: number;
  /** device id -> queued ms (all executors), uplink and downlink backlog ms, as it published them. */
  load: Map<string, { queuedMs: number; upMs: number; downMs: number }>;
}

/** Another planner's published queues count this long after its status (it republishes every 2 s). */
export const OTHER_PLANNER_FRESH_MS = 6_000;

/** The other planners of the group, by id: their jobs' work on the same devices. */
export class OtherPlanners {
  private readonly others = new Map<string, OtherPlanner>();

  /**
   * Another planner's status (`ownId`: this planner's, ignored): the work and data its own
   * placements put on each device, which this planner's placements then queue behind. Planners
   * that share a fleet so see one another's load, at most a status period (2 s) old, drained by
   * the time since.
   */
  note(ownId: string, status: PlannerStatus, nowMs: number): void {
    if (status.plannerId === ownId) return;
    if (status.state !== PlannerState.PLANNER_STATE_ONLINE) {
      this.others.delete(status.plannerId);
      return;
    }
    this.others.set(status.plannerId, {
      atMs: nowMs,
      load: new Map(status.estimates.map((e) => [e.deviceId, { queuedMs: e.queuedMs, upMs: e.uplinkBacklogMs, downMs: e.downlinkBacklogMs }])),
    });
  }

  /** What the other planners' jobs still hold on a device, from now: per executor, uplink and downlink (ms). */
  load(deviceId: string, workers: number, nowMs: number): { perWorkerMs: number; upMs: number; downMs: number } {
    let perWorkerMs = 0;
    let upMs = 0;
    let downMs = 0;
    for (const [id, o] of this.others) {
      const age = nowMs - o.atMs;
      if (age > OTHER_PLANNER_FRESH_MS) {
        this.others.delete(id);
        continue;
      }
      const l = o.load.get(deviceId);
      if (!l) continue;
      perWorkerMs += Math.max(0, l.queuedMs / workers - age);
      upMs += Math.max(0, l.upMs - age);
      downMs += Math.max(0, l.downMs - age);
    }
    return { perWorkerMs, upMs, downMs };
  }
}
