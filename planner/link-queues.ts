/**
 * The data a planner has put on each device's links: every transfer of the jobs it placed takes
 * time on the sender's uplink and then on the receiver's downlink, shared by every job (a real
 * bottleneck link, and the emulator's FIFO, carry one transfer at a time). A new job's transfers
 * go into the first gap that holds them — the core does the same (`arriveAt`), so what is placed
 * here is what the next plans see. A job's time comes off the links when it ends; otherwise it
 * drains as the clock passes it. Planner clock, plain arithmetic.
 */
import { firstGap } from './core/instance.ts';
import type { LinkInterval, LinkSpec } from './core/types.ts';

interface Use {
  job: string;
  startAtMs: number;
  endAtMs: number;
}

interface DeviceLinks {
  up: Use[];
  down: Use[];
}

/** Merged [start, end] pairs, flat and sorted, of the uses still running at `nowMs`. */
function merged(uses: readonly Use[], nowMs: number): number[] {
  const live = uses.filter((u) => u.endAtMs > nowMs).sort((a, b) => a.startAtMs - b.startAtMs);
  const out: number[] = [];
  for (const u of live) {
    const k = out.length;
    if (k > 0 && u.startAtMs <= out[k - 1]!) out[k - 1] = Math.max(out[k - 1]!, u.endAtMs);
    else out.push(u.startAtMs, u.endAtMs);
  }
  return out;
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
   * Places `bytes` that `job` sends from `from` at `sendAtMs` to `to`: the first gap on `from`'s
   * uplink that holds them, then the first gap on `to`'s downlink after they left it.
   */
  add(job: string, from: { id: string; link: LinkSpec }, to: { id: string; link: LinkSpec }, bytes: number, sendAtMs: number): void {
    if (from.id === to.id || !(bytes > 0)) return;
    const bits = bytes * 8;
    const a = this.of(from.id);
    const c = this.of(to.id);
    const upMs = (bits / from.link.upBps) * 1000;
    const upStart = firstGap(merged(a.up, sendAtMs), sendAtMs, upMs);
    a.up.push({ job, startAtMs: upStart, endAtMs: upStart + upMs });
    const downMs = (bits / to.link.downBps) * 1000;
    const reach = upStart + upMs + from.link.rttMs / 2;
    const downStart = firstGap(merged(c.down, reach), reach, downMs);
    c.down.push({ job, startAtMs: downStart, endAtMs: downStart + downMs });
  }

  /** The job is over (or planned anew): its transfers no longer hold the links. */
  clear(job: string): void {
    for (const d of this.devices.values()) {
      d.up = d.up.filter((u) => u.job !== job);
      d.down = d.down.filter((u) => u.job !== job);
    }
  }

  /** What holds the device's uplink and downlink from `nowMs` on, relative to it (for the core's DeviceSpec). */
  busy(deviceId: string, nowMs: number): { up: LinkInterval[]; down: LinkInterval[] } {
    const d = this.devices.get(deviceId);
    if (!d) return { up: [], down: [] };
    d.up = d.up.filter((u) => u.endAtMs > nowMs);
    d.down = d.down.filter((u) => u.endAtMs > nowMs);
    const rel = (flat: number[]): LinkInterval[] => {
      const out: LinkInterval[] = [];
      for (let i = 0; i < flat.length; i += 2) out.push({ startMs: Math.max(0, flat[i]! - nowMs), endMs: flat[i + 1]! - nowMs });
      return out;
    };
    return { up: rel(merged(d.up, nowMs)), down: rel(merged(d.down, nowMs)) };
  }

  /** Time still to go on the device's uplink and downlink (ms), for the planner's status. */
  backlogMs(deviceId: string, nowMs: number): { up: number; down: number } {
    const { up, down } = this.busy(deviceId, nowMs);
    const sum = (xs: LinkInterval[]): number => xs.reduce((s, x) => s + x.endMs - x.startMs, 0);
    return { up: sum(up), down: sum(down) };
  }
}
