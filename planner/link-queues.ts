/**
 * The data a planner has put on each device's links: every transfer of the jobs it placed takes
 * time on the sender's uplink and then on the receiver's downlink, shared by every job (a real
 * bottleneck link, and the emulator's FIFO, carry one transfer at a time). A new job's transfers
 * go into the first gap that holds them — the core does the same (`arriveAt`), so what is placed
 * here is what the next plans see.
 *
 * Data follows the report of the stage that produces it (`stageDone`), not only the plan's
 * clock. A stage reports once its outputs are with the broker: by then they have crossed its
 * uplink, and reach the receivers' downlinks from then on. Until its producer reports, a
 * transfer stands as `standing` says: as planned, then over (the report on its way), then late
 * — still to go from now as long as it is overdue, up to its whole. A link's transfers are laid
 * out in planned order, none before the one ahead of it ends, so late data pushes what follows
 * (as executor-work.ts does with executors' work). A job's end takes all of its data off.
 * Planner clock, plain arithmetic.
 */
import { firstGap } from './core/instance.ts';
import type { LinkInterval, LinkSpec } from './core/types.ts';

interface Use {
  job: string;
  /** The stage that sends the data. */
  from: string;
  startAtMs: number;
  endAtMs: number;
  /** The producer reported: the data left (startAtMs, endAtMs shifted by its lateness). */
  sent: boolean;
}

interface DeviceLinks {
  up: Use[];
  down: Use[];
}

/**
 * Where a piece of placed work (or data), planned for [startAtMs, endAtMs] and reported by
 * `dueAtMs` at the latest if on time, stands at `nowMs` with no report in: `planned` while its
 * planned end is ahead (as planned); `done` once past it but before its report is due (the work
 * is over and its report on its way: the report of a stage comes after its outputs crossed its
 * uplink); `late` once its report is overdue, still to take from now as long as it is overdue,
 * up to its whole (a report just overdue is most likely delayed; one long overdue is of work
 * that has not started). Shared by links' data and executors' work (executor-work.ts).
 */
export function standing(startAtMs: number, endAtMs: number, dueAtMs: number, nowMs: number): { kind: 'planned' } | { kind: 'done' } | { kind: 'late'; remainingMs: number } {
  if (endAtMs > nowMs) return { kind: 'planned' };
  if (dueAtMs > nowMs) return { kind: 'done' };
  return { kind: 'late', remainingMs: Math.min(endAtMs - startAtMs, nowMs - dueAtMs) };
}

/** Data whose producer's report never comes stops counting this long after its planned end. */
const UNREPORTED_KEEP_MS = 30_000;

/**
 * The uses still on the link at `nowMs`, laid out from then on (see the header) behind `aheadMs`
 * of other planners' data, merged: flat sorted [start, end] pairs.
 */
function laidOut(uses: Use[], nowMs: number, aheadMs = 0): number[] {
  const live = uses.filter((u) => stillOn(u, nowMs)).sort((a, b) => a.startAtMs - b.startAtMs);
  const out: number[] = aheadMs > 0 ? [nowMs, nowMs + aheadMs] : [];
  let free = aheadMs > 0 ? nowMs + aheadMs : Number.NEGATIVE_INFINITY;
  for (const u of live) {
    // Sent data is where the report put it; data not sent yet, as it stands (see standing; its
    // report is due when its planned time on the link ends).
    const st = u.sent ? { kind: 'planned' as const } : standing(u.startAtMs, u.endAtMs, u.endAtMs, nowMs);
    if (st.kind === 'done') continue;
    const start = Math.max(st.kind === 'late' ? nowMs : u.startAtMs, free);
    const end = start + (st.kind === 'late' ? st.remainingMs : u.endAtMs - u.startAtMs);
    free = end;
    const k = out.length;
    if (k > 0 && start <= out[k - 1]!) out[k - 1] = Math.max(out[k - 1]!, end);
    else out.push(start, end);
  }
  return out;
}

/** Sent data is on the link until its time has passed; data not sent yet until its producer reports (or it is long overdue). */
function stillOn(u: Use, nowMs: number): boolean {
  return u.sent ? u.endAtMs > nowMs : u.endAtMs + UNREPORTED_KEEP_MS > nowMs;
}

export class LinkQueues {
  private readonly devices = new Map<string, DeviceLinks>();

  private of(deviceId: string): DeviceLinks {
    let d = this.devices.get(deviceId);
    if (!d) {
      d = { up: [], down: [] };
      this.devices.set(deviceId, d);
    }
    return d;
  }

  /**
   * Places `bytes` that `job`'s stage `stage` sends from `from` at `sendAtMs` to `to`, planned at
   * `nowMs`: the first gap on `from`'s uplink that holds them, then the first gap on `to`'s
   * downlink after they left it. Returns when they are off the uplink (`sendAtMs` when no link is crossed).
   */
  add(job: string, stage: string, from: { id: string; link: LinkSpec }, to: { id: string; link: LinkSpec }, bytes: number, sendAtMs: number, nowMs: number): number {
    if (from.id === to.id || !(bytes > 0)) return sendAtMs;
    const bits = bytes * 8;
    const a = this.of(from.id);
    const c = this.of(to.id);
    const upMs = (bits / from.link.upBps) * 1000;
    const upStart = firstGap(laidOut(a.up, nowMs), sendAtMs, upMs);
    a.up.push({ job, from: stage, startAtMs: upStart, endAtMs: upStart + upMs, sent: false });
    const downMs = (bits / to.link.downBps) * 1000;
    const reach = upStart + upMs + from.link.rttMs / 2;
    const downStart = firstGap(laidOut(c.down, nowMs), reach, downMs);
    c.down.push({ job, from: stage, startAtMs: downStart, endAtMs: downStart + downMs, sent: false });
    return upStart + upMs;
  }

  /**
   * The stage `stage` of `job` reported at `atMs`. A stage reports once its outputs are with the
   * broker, past its uplink: their time on the sender's uplink is over, and they reach the
   * receivers' downlinks from then on, as late as the report.
   */
  stageDone(job: string, stage: string, atMs: number): void {
    for (const d of this.devices.values()) {
      d.up = d.up.filter((u) => u.job !== job || u.from !== stage);
      for (const u of d.down) {
        if (u.job !== job || u.from !== stage || u.sent) continue;
        const late = Math.max(0, atMs - u.startAtMs);
        u.startAtMs += late;
        u.endAtMs += late;
        u.sent = true;
      }
    }
  }

  /** The job is over (or planned anew): its transfers no longer hold the links. */
  clear(job: string): void {
    for (const d of this.devices.values()) {
      d.up = d.up.filter((u) => u.job !== job);
      d.down = d.down.filter((u) => u.job !== job);
    }
  }

  /**
   * What holds the device's uplink and downlink from `nowMs` on, relative to it (for the core's
   * DeviceSpec); `ahead`: other planners' data on them, which this planner's queues behind.
   */
  busy(deviceId: string, nowMs: number, ahead: { upMs: number; downMs: number } = { upMs: 0, downMs: 0 }): { up: LinkInterval[]; down: LinkInterval[] } {
    const d = this.devices.get(deviceId) ?? { up: [], down: [] };
    d.up = d.up.filter((u) => stillOn(u, nowMs));
    d.down = d.down.filter((u) => stillOn(u, nowMs));
    const rel = (flat: number[]): LinkInterval[] => {
      const out: LinkInterval[] = [];
      for (let i = 0; i < flat.length; i += 2) out.push({ startMs: Math.max(0, flat[i]! - nowMs), endMs: flat[i + 1]! - nowMs });
      return out;
    };
    return { up: rel(laidOut(d.up, nowMs, ahead.upMs)), down: rel(laidOut(d.down, nowMs, ahead.downMs)) };
  }

  /** Time still to go on the device's uplink and downlink (ms), for the planner's status. */
  backlogMs(deviceId: string, nowMs: number): { up: number; down: number } {
    const { up, down } = this.busy(deviceId, nowMs);
    const sum = (xs: LinkInterval[]): number => xs.reduce((s, x) => s + x.endMs - x.startMs, 0);
    return { up: sum(up), down: sum(down) };
  }
}
