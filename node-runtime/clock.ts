/**
 * Clock-offset estimation against the reference clock (a planner's), from ping/pong
 * exchanges: offset = ((t1 - t0) + (t2 - t3)) / 2, delay = (t3 - t0) - (t2 - t1).
 * Keeps the samples of the last window and trusts the one with the smallest round
 * trip (the least queueing), as NTP's clock filter does.
 *
 * The offset is off by at most half that round trip (the unknown asymmetry of the two
 * legs) plus the resolution of the timestamps (whole milliseconds from Date.now()).
 */

export interface ClockSample {
  offsetMs: number;
  delayMs: number;
  atMs: number;
}

export class ClockOffsetEstimator {
  private readonly samples: ClockSample[] = [];

  constructor(private readonly window = 8, private readonly resolutionMs = 1) {}

  /** Adds one exchange; times t0/t3 on the local clock, t1/t2 on the reference clock. */
  addExchange(t0: number, t1: number, t2: number, t3: number): ClockSample | undefined {
    const delayMs = (t3 - t0) - (t2 - t1);
    if (![t0, t1, t2, t3].every(Number.isFinite) || delayMs < 0 || t3 < t0) return undefined;
    const sample = { offsetMs: ((t1 - t0) + (t2 - t3)) / 2, delayMs, atMs: t3 };
    this.samples.push(sample);
    if (this.samples.length > this.window) this.samples.shift();
    return sample;
  }

  /** Reference time minus local time, in ms (0 before any exchange). */
  get offsetMs(): number {
    return this.best()?.offsetMs ?? 0;
  }

  /** Bound on the error of the offset: half the best round trip plus the timestamp resolution. */
  get uncertaintyMs(): number {
    const b = this.best();
    return b ? b.delayMs / 2 + this.resolutionMs : Infinity;
  }

  get sampleCount(): number {
    return this.samples.length;
  }

  /** Converts a local timestamp to the reference clock. */
  toReference(localMs: number): number {
    return localMs + this.offsetMs;
  }

  private best(): ClockSample | undefined {
    let best: ClockSample | undefined;
    for (const s of this.samples) if (!best || s.delayMs < best.delayMs) best = s;
    return best;
  }
}
