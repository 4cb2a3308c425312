/**
 * Keeping a node's clock offset to the planner: pings on clock/{id}/ping, the planner's pongs
 * on clock/{id}/pong, each answered exchange one sample of a ClockOffsetEstimator. One class for
 * the device and the job client, with the two schedules they need: `keepSynced` (a device, for
 * as long as it runs) and `syncClock` (a client, a few rounds when it connects).
 */
import type { OnOptions, Received, Transport } from '../transport/mqtt-transport.ts';
import { ClockPing } from '../schemas/generated/edgeweave.ts';
import { topics } from '../schemas/topics.ts';
import { ClockOffsetEstimator, type ClockSample } from './clock.ts';

/** What clock sync needs of a transport. */
export type ClockTransport = Pick<Transport, 'connected' | 'publish' | 'on'>;

export interface ClockSyncOptions {
  /** The estimator to feed (default: a new one). */
  clock?: ClockOffsetEstimator;
  /** Called with each sample the estimator took. */
  onSample?: (sample: ClockSample) => void;
  /** For a pong that does not decode (default: the transport logs it). */
  onRefused?: OnOptions['onRefused'];
}

/** Pings awaiting their pong, at most; the oldest is forgotten first. */
const MAX_PENDING_PINGS = 64;
/** The device's schedule: one ping every period, and at start a burst of extra pings, this far apart. */
export const CLOCK_PING_PERIOD_MS = 5000;
const BURST_PINGS = 4;
const BURST_FIRST_MS = 300;
const BURST_GAP_MS = 200;

export class ClockSync {
  readonly clock: ClockOffsetEstimator;
  private seq = 0;
  /** seq -> t0 of the pings not answered yet. */
  private readonly pings = new Map<number, number>();
  /** Called on every pong taken (syncClock's waits). */
  private readonly answered = new Set<() => void>();
  private readonly onSample: ((sample: ClockSample) => void) | undefined;
  private periodic: NodeJS.Timeout | undefined;
  private stopped = false;

  private constructor(private readonly transport: ClockTransport, readonly id: string, options: ClockSyncOptions) {
    this.clock = options.clock ?? new ClockOffsetEstimator();
    this.onSample = options.onSample;
  }

  /** Subscribes to the pongs of node `id`; resolves once the broker granted it. */
  static async attach(transport: ClockTransport, id: string, options: ClockSyncOptions = {}): Promise<ClockSync> {
    const sync = new ClockSync(transport, id, options);
    await transport.on('clockPong', topics.clockPong(id), (m) => sync.onPong(m), { qos: 0, ...(options.onRefused ? { onRefused: options.onRefused } : {}) });
    return sync;
  }

  /**
   * The client's schedule: sends `rounds` pings and resolves when all are answered or after
   * `waitMs` (quiet if no planner answers). Rejects when a ping cannot be sent.
   */
  async syncClock(rounds = 4, waitMs = 300): Promise<void> {
    const sent: number[] = [];
    for (let i = 0; i < rounds; i++) sent.push(await this.ping());
    const allAnswered = (): boolean => sent.every((seq) => !this.pings.has(seq));
    if (allAnswered()) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.answered.delete(check);
        resolve();
      };
      const check = (): void => { if (allAnswered()) done(); };
      const timer = setTimeout(done, waitMs);
      this.answered.add(check);
    });
  }

  /**
   * The device's schedule, until `stop`: a ping now, one every CLOCK_PING_PERIOD_MS, and a short
   * burst in the first seconds for a good first estimate. Pings only while connected.
   */
  keepSynced(): void {
    if (this.stopped || this.periodic) return;
    let burst = BURST_PINGS;
    const ping = (): void => {
      if (this.stopped || !this.transport.connected) return;
      this.ping().catch(() => undefined);
    };
    const tick = (): void => {
      ping();
      if (burst > 0) {
        burst--;
        setTimeout(ping, BURST_GAP_MS).unref();
      }
    };
    ping();
    this.periodic = setInterval(tick, CLOCK_PING_PERIOD_MS);
    this.periodic.unref();
    setTimeout(tick, BURST_FIRST_MS).unref();
  }

  /** Stops `keepSynced`; pongs still coming are taken. */
  stop(): void {
    this.stopped = true;
    if (this.periodic) clearInterval(this.periodic);
  }

  /** Sends one ping; resolves with its seq once sent. */
  private async ping(): Promise<number> {
    const seq = ++this.seq;
    const t0 = Date.now();
    this.pings.set(seq, t0);
    if (this.pings.size > MAX_PENDING_PINGS) this.pings.delete(this.pings.keys().next().value as number);
    await this.transport.publish(topics.clockPing(this.id), ClockPing.encode({ deviceId: this.id, seq, t0Ms: t0 }), { qos: 0 });
    return seq;
  }

  private onPong({ message: pong }: Received<'clockPong'>): void {
    const t3 = Date.now();
    const t0 = this.pings.get(pong.seq);
    if (t0 === undefined || t0 !== pong.t0Ms) return;
    this.pings.delete(pong.seq);
    const sample = this.clock.addExchange(t0, pong.t1Ms, pong.t2Ms, t3);
    if (sample) this.onSample?.(sample);
    for (const check of this.answered) check();
  }
}
