/**
 * What the fleet is asked to do, as this planner sees it: the streams of jobs submitted in the
 * last MIX_WINDOW_MS (an origin submitting one model, with the request of its latest job), the
 * rate offered, and the fleet's capacity for that mix (capacity.ts) over the live devices as
 * this planner knows them (learned speeds and links included). The capacity is computed again
 * when the mix or the fleet changes, at most every RECOMPUTE_MS, and published in the planner's
 * status beside the offered rate: how close the fleet is to what it can take.
 */
import { fleetCapacity, type Capacity } from './capacity.ts';
import { holdsModel, type DeviceRegistry } from './device-registry.ts';
import type { JobRecord } from './job-book.ts';
import { planRequestOf, type PlacementDefaults } from './placement.ts';

export const MIX_WINDOW_MS = 30_000;
const RECOMPUTE_MS = 10_000;

interface Stream {
  latest: JobRecord;
  arrivals: number[];
}

/**
 * A stream's rate (jobs / s) from its arrivals in the window: from the spacing of its arrivals
 * when there are three or more and it has not gone quiet since (exact for a camera's steady
 * stream, however few its jobs in the window); else its arrivals over the time it has been seen.
 */
export function rateOf(arrivals: readonly number[], nowMs: number): number {
  const n = arrivals.length;
  const first = arrivals[0]!;
  const last = arrivals[n - 1]!;
  if (n >= 3 && last > first) {
    const gapMs = (last - first) / (n - 1);
    if (nowMs - last <= 2 * gapMs) return 1000 / gapMs;
  }
  // Over the time the stream has been seen (a young one is not diluted by the whole window).
  return n / (Math.min(MIX_WINDOW_MS, Math.max(1000, nowMs - first)) / 1000);
}

export class FleetMix {
  private readonly streams = new Map<string, Stream>();
  private cached: { signature: string; atMs: number; capacity: Capacity | undefined } | undefined;

  /** A new submission (counted whether it is planned or refused). */
  record(job: JobRecord, atMs: number): void {
    const key = `${job.request.originDevice}\n${job.model.sha256 || job.model.id}\n${job.request.fused}`;
    const s = this.streams.get(key) ?? { latest: job, arrivals: [] };
    s.latest = job;
    s.arrivals.push(atMs);
    this.streams.set(key, s);
  }

  /** The streams of the last window, with their rates (jobs / s). */
  private live(nowMs: number): { job: JobRecord; rate: number }[] {
    const out: { job: JobRecord; rate: number }[] = [];
    for (const [key, s] of this.streams) {
      s.arrivals = s.arrivals.filter((t) => t > nowMs - MIX_WINDOW_MS);
      if (s.arrivals.length === 0) {
        this.streams.delete(key);
        continue;
      }
      out.push({ job: s.latest, rate: rateOf(s.arrivals, nowMs) });
    }
    return out;
  }

  /** Jobs per second submitted over the last window. */
  offered(nowMs: number): number {
    return this.live(nowMs).reduce((s, x) => s + x.rate, 0);
  }

  /**
   * The fleet's capacity for the current mix, in jobs per second (undefined: no mix, or a job of
   * it cannot be placed). Cached while the mix's streams, their shares (to within about 20%) and
   * the live devices stay the same.
   */
  capacity(registry: DeviceRegistry, defaults: PlacementDefaults, nowMs: number): Capacity | undefined {
    const streams = this.live(nowMs);
    if (streams.length === 0) return undefined;
    const total = streams.reduce((s, x) => s + x.rate, 0);
    const alive = registry.aliveIds(nowMs).sort();
    const signature = [...alive, ...streams.map((s) => `${s.job.request.originDevice}:${s.job.model.id}:${Math.round(Math.log(s.rate / total) / Math.log(1.2))}`).sort()].join(',');
    if (this.cached && (this.cached.signature === signature || nowMs - this.cached.atMs < RECOMPUTE_MS)) return this.cached.capacity;
    // Each stream over the live devices that hold its model, with their profiles of it.
    const capacity = fleetCapacity(streams.flatMap(({ job, rate }) => {
      const devices = alive.map((id) => registry.get(id)!).filter((r) => holdsModel(r.status, job.model))
        .map((r) => registry.spec(r, job.model, job.request.fused, nowMs));
      return devices.length === 0 ? [] : [{ request: planRequestOf(job, devices, defaults).planRequest, weight: rate }];
    }));
    this.cached = { signature, atMs: nowMs, capacity };
    return capacity;
  }
}
