/**
 * Where a car is along its bandwidth trace. A device replays its trace from the moment its
 * runtime starts (the trace's epoch), which the experiment cannot observe directly; every
 * status the device publishes carries `sentAtMs` and the uplink rate at that moment
 * (`trace_up_bps`), so each status says "the epoch lies where the trace has this rate, this
 * long before". Intersecting those sets pins the epoch down, to within a few milliseconds
 * once the rate has changed a few times.
 *
 * The drive replayed is the trace cut to the scenario's duration and compressed by its time
 * scale, written to a file the cars read (`writeDriveTrace`).
 */
import { writeFileSync } from 'node:fs';
import { parseTrace, traceBpsAt, type BandwidthTrace } from '../../node-runtime/link.ts';

type Interval = [number, number];

/** Slack for the two clock reads of a status (its time and its rate), in ms. */
const SLACK_MS = 3;

/**
 * Writes the drive a car replays: the samples of `trace` before `durationS` (all of them when
 * the drive is as long as the trace or longer: the trace then loops), times divided by
 * `timeScale`. Returns the trace as the device will parse it.
 */
export function writeDriveTrace(trace: BandwidthTrace, durationS: number, timeScale: number, path: string): BandwidthTrace {
  const lines = [`# ${trace.source}, first ${durationS} s, time scaled 1/${timeScale}`];
  for (let i = 0; i < trace.timesS.length; i++) {
    const t = trace.timesS[i]!;
    if (i > 0 && t >= durationS) break;
    lines.push(`${t / timeScale}\t${trace.bps[i]! / 1e6}`);
  }
  const text = lines.join('\n') + '\n';
  writeFileSync(path, text);
  return parseTrace(text, path);
}

/** Bandwidth (bits/s) and position (seconds of the replayed trace) at `atMs`, for a trace started at `epochMs`. */
export function tracePositionAt(trace: BandwidthTrace, epochMs: number, atMs: number): { positionS: number; bps: number } {
  const t = (atMs - epochMs) / 1000;
  const positionS = ((t % trace.durationS) + trace.durationS) % trace.durationS;
  return { positionS, bps: traceBpsAt(trace, t) };
}

export class TraceEpochEstimator {
  private candidates: Interval[] = [];
  private observations = 0;
  private inconsistent = 0;

  /** The device started (and so its trace) at `notBeforeMs` or later, and before its first status. */
  constructor(private readonly trace: BandwidthTrace, private readonly notBeforeMs: number) {}

  /** Narrows the estimate with one status: at `sentAtMs` the uplink ran at `bps`. Statuses older than the start are ignored. */
  observe(sentAtMs: number, bps: number): void {
    if (!(bps > 0) || sentAtMs < this.notBeforeMs) return;
    if (this.candidates.length === 0) this.candidates = [[this.notBeforeMs, sentAtMs]];
    const allowed = this.epochsWhere(sentAtMs, bps);
    const next = intersect(this.candidates, allowed);
    this.observations++;
    if (next.length === 0) this.inconsistent++;
    else this.candidates = next;
  }

  /** Epochs e in the current candidates with trace(sentAt - e) = bps. */
  private epochsWhere(sentAtMs: number, bps: number): Interval[] {
    const { timesS, durationS } = this.trace;
    const loopMs = durationS * 1000;
    const lo = this.candidates[0]![0];
    const hi = this.candidates[this.candidates.length - 1]![1];
    const out: Interval[] = [];
    const kMin = Math.floor((sentAtMs - hi) / loopMs) - 1;
    const kMax = Math.ceil((sentAtMs - lo) / loopMs) + 1;
    for (let i = 0; i < timesS.length; i++) {
      if (this.trace.bps[i] !== bps) continue;
      const startMs = timesS[i]! * 1000;
      const endMs = (i + 1 < timesS.length ? timesS[i + 1]! : durationS) * 1000;
      for (let k = kMin; k <= kMax; k++) {
        // sentAt - e in [start + k*loop, end + k*loop)  <=>  e in (sentAt - end - k*loop, sentAt - start - k*loop]
        const a = sentAtMs - endMs - k * loopMs - SLACK_MS;
        const b = sentAtMs - startMs - k * loopMs + SLACK_MS;
        if (b >= lo && a <= hi) out.push([a, b]);
      }
    }
    return out.sort((x, y) => x[0] - y[0]);
  }

  /** Whether any status was seen (before that, nothing is known). */
  get observed(): boolean {
    return this.candidates.length > 0;
  }

  /** The best estimate of the epoch: the middle of the widest remaining candidate interval. */
  get epochMs(): number {
    if (this.candidates.length === 0) return this.notBeforeMs;
    const widest = this.candidates.reduce((a, b) => (b[1] - b[0] > a[1] - a[0] ? b : a));
    return (widest[0] + widest[1]) / 2;
  }

  /**
   * How far the estimate may be off (ms): half the arc the remaining candidates cover, taken
   * modulo one loop of the trace (starts a whole loop apart put every job at the same place).
   */
  get uncertaintyMs(): number {
    if (this.candidates.length === 0) return Infinity;
    const loopMs = this.trace.durationS * 1000;
    const base = this.candidates[0]![0];
    const folded = this.candidates
      .map(([a, b]): Interval => {
        const r = (((a - base) % loopMs) + loopMs) % loopMs;
        return [r, r + Math.min(loopMs, b - a)];
      })
      .sort((x, y) => x[0] - y[0]);
    // The covering arc is the loop minus the largest gap between folded candidates.
    let end = folded[0]![1];
    let largestGap = 0;
    for (const [a, b] of folded.slice(1)) {
      largestGap = Math.max(largestGap, a - end);
      end = Math.max(end, b);
    }
    largestGap = Math.max(largestGap, folded[0]![0] + loopMs - end);
    return Math.max(0, loopMs - largestGap) / 2;
  }

  get summary(): { epochMs: number; uncertaintyMs: number; observations: number; inconsistent: number } {
    return { epochMs: this.epochMs, uncertaintyMs: this.uncertaintyMs, observations: this.observations, inconsistent: this.inconsistent };
  }
}

function intersect(a: Interval[], b: Interval[]): Interval[] {
  const out: Interval[] = [];
  for (const x of a) {
    for (const y of b) {
      const lo = Math.max(x[0], y[0]);
      const hi = Math.min(x[1], y[1]);
      if (lo <= hi) out.push([lo, hi]);
    }
  }
  out.sort((p, q) => p[0] - q[0]);
  // Merge overlaps (b's intervals may overlap after the slack).
  const merged: Interval[] = [];
  for (const iv of out) {
    const last = merged[merged.length - 1];
    if (last && iv[0] <= last[1]) last[1] = Math.max(last[1], iv[1]);
    else merged.push([iv[0], iv[1]]);
  }
  return merged;
}
