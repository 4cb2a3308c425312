/**
 * Link emulation for one-machine experiments. A device's link to the broker has an
 * uplink and a downlink bandwidth and an RTT; the uplink can follow a bandwidth trace
 * (`time_seconds<TAB>throughput_mbps` per line, replayed in a loop). A transfer from
 * device A to device B crosses A's uplink, the broker, then B's downlink:
 *   time = bytes*8/upA + (rttA)/2 + bytes*8/downB + (rttB)/2.
 * Each direction of a link carries one transfer at a time (FIFO): a transfer waits
 * for the ones before it, as on a real bottleneck link.
 */
import { readFileSync } from 'node:fs';
import { EdgeweaveError } from '../schemas/errors.ts';

export interface LinkSpec {
  upBps: number;
  downBps: number;
  rttMs: number;
}

export interface BandwidthTrace {
  /** Sample start times in seconds, strictly increasing, from 0. */
  timesS: Float64Array;
  /** Throughput of each sample in bits per second. */
  bps: Float64Array;
  /** Length of one loop of the trace in seconds. */
  durationS: number;
  source: string;
}

/** Parses `up=<Mbps>,down=<Mbps>,rtt=<ms>` (any order; all three required). */
export function parseLinkSpec(text: string): LinkSpec {
  const parts = new Map<string, number>();
  for (const item of text.split(',')) {
    const [key, value, extra] = item.split('=').map((s) => s.trim());
    const n = Number(value);
    if (!key || value === undefined || value === '' || extra !== undefined || !Number.isFinite(n) || n < 0) {
      throw new EdgeweaveError('E_USAGE', `--link "${text}": expected up=<Mbps>,down=<Mbps>,rtt=<ms>, e.g. up=10,down=20,rtt=10`);
    }
    if (!['up', 'down', 'rtt'].includes(key)) throw new EdgeweaveError('E_USAGE', `--link "${text}": unknown key "${key}" (use up, down, rtt)`);
    parts.set(key, n);
  }
  const up = parts.get('up');
  const down = parts.get('down');
  const rtt = parts.get('rtt');
  if (up === undefined || down === undefined || rtt === undefined) {
    throw new EdgeweaveError('E_USAGE', `--link "${text}": give all of up=<Mbps>,down=<Mbps>,rtt=<ms>`);
  }
  if (up <= 0 || down <= 0) throw new EdgeweaveError('E_USAGE', `--link "${text}": bandwidths must be above 0`);
  return { upBps: up * 1e6, downBps: down * 1e6, rttMs: rtt };
}

/** Parses a bandwidth trace (`time_seconds<TAB>throughput_mbps` per line; blank lines and # comments ignored). */
export function parseTrace(text: string, source = 'trace'): BandwidthTrace {
  const times: number[] = [];
  const bps: number[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const cols = line.split(/\s+/);
    const t = Number(cols[0]);
    const mbps = Number(cols[1]);
    if (cols.length < 2 || !Number.isFinite(t) || !Number.isFinite(mbps) || t < 0 || mbps < 0) {
      throw new EdgeweaveError('E_CONFIG', `${source}:${i + 1}: expected "<seconds> <Mbps>", got "${line.slice(0, 60)}"`);
    }
    if (times.length > 0 && t <= times[times.length - 1]!) {
      throw new EdgeweaveError('E_CONFIG', `${source}:${i + 1}: times must increase (${t} after ${times[times.length - 1]})`);
    }
    times.push(t);
    bps.push(mbps * 1e6);
  }
  if (times.length === 0) throw new EdgeweaveError('E_CONFIG', `${source}: the trace has no samples`);
  if (!bps.some((b) => b > 0)) throw new EdgeweaveError('E_CONFIG', `${source}: every sample has zero bandwidth`);
  const first = times[0]!;
  const shifted = times.map((t) => t - first);
  // The last sample lasts as long as the average sample.
  const last = shifted[shifted.length - 1]!;
  const durationS = shifted.length > 1 ? last + last / (shifted.length - 1) : 1;
  return { timesS: Float64Array.from(shifted), bps: Float64Array.from(bps), durationS, source };
}

export function loadTrace(path: string): BandwidthTrace {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new EdgeweaveError('E_CONFIG', `cannot read trace file ${path}: ${(err as Error).message}`, { cause: err });
  }
  return parseTrace(text, path);
}

/** Bandwidth of the trace at `tS` seconds after its start (looping). */
export function traceBpsAt(trace: BandwidthTrace, tS: number): number {
  const t = ((tS % trace.durationS) + trace.durationS) % trace.durationS;
  const i = sampleIndex(trace, t);
  return trace.bps[i]!;
}

function sampleIndex(trace: BandwidthTrace, t: number): number {
  let lo = 0;
  let hi = trace.timesS.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (trace.timesS[mid]! <= t) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Seconds needed to move `bits` starting at `startS` over the trace (integrating its bandwidth). */
export function traceTransferS(trace: BandwidthTrace, startS: number, bits: number): number {
  let remaining = bits;
  let t = ((startS % trace.durationS) + trace.durationS) % trace.durationS;
  let elapsed = 0;
  let i = sampleIndex(trace, t);
  for (let guard = 0; guard < 10_000_000; guard++) {
    const end = i + 1 < trace.timesS.length ? trace.timesS[i + 1]! : trace.durationS;
    const span = end - t;
    const rate = trace.bps[i]!;
    if (rate > 0 && rate * span >= remaining) return elapsed + remaining / rate;
    remaining -= rate * span;
    elapsed += span;
    t = end;
    i++;
    if (i >= trace.timesS.length) {
      i = 0;
      t = 0;
    }
  }
  throw new EdgeweaveError('E_CONFIG', `${trace.source}: transfer of ${bits} bits does not finish`);
}

/** One direction of an emulated link: FIFO, fixed or trace-driven bandwidth. */
export class EmulatedPipe {
  private busyUntilMs = 0;

  constructor(
    private readonly bps: number,
    private readonly trace: BandwidthTrace | undefined,
    private readonly epochMs: number,
  ) {}

  /** Reserves the pipe for `bytes` from `nowMs` on; returns when the transfer ends (ms, same clock). */
  reserve(bytes: number, nowMs: number): { startMs: number; endMs: number } {
    const startMs = Math.max(nowMs, this.busyUntilMs);
    const bits = bytes * 8;
    const durationMs = this.trace
      ? traceTransferS(this.trace, (startMs - this.epochMs) / 1000, bits) * 1000
      : (bits / this.bps) * 1000;
    this.busyUntilMs = startMs + durationMs;
    return { startMs, endMs: this.busyUntilMs };
  }

  /** Current bandwidth (bits/s). */
  bpsAt(nowMs: number): number {
    return this.trace ? traceBpsAt(this.trace, (nowMs - this.epochMs) / 1000) : this.bps;
  }
}

/** A device's emulated link: the uplink (optionally trace-driven) and the downlink. */
export class LinkEmulator {
  readonly up: EmulatedPipe;
  readonly down: EmulatedPipe;

  constructor(readonly spec: LinkSpec, readonly trace?: BandwidthTrace, readonly epochMs = Date.now()) {
    this.up = new EmulatedPipe(spec.upBps, trace, epochMs);
    this.down = new EmulatedPipe(spec.downBps, undefined, epochMs);
  }

  /** Delay before a message of `bytes` leaves for the broker, sent at `nowMs`: queueing + serialisation + half the RTT. */
  sendDelayMs(bytes: number, nowMs: number): number {
    return this.up.reserve(bytes, nowMs).endMs + this.spec.rttMs / 2 - nowMs;
  }

  /** Delay before a message of `bytes` that reached the broker at `nowMs` is usable here. */
  receiveDelayMs(bytes: number, nowMs: number): number {
    return this.down.reserve(bytes, nowMs).endMs + this.spec.rttMs / 2 - nowMs;
  }
}
