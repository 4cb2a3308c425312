/**
 * Collects the input messages of a stage until one has arrived from every producer the
 * stage lists (a join), then hands them over together. A stage's ready time is the
 * arrival of its last input. A producer's message that arrives again (a redelivery)
 * replaces the earlier copy; its acknowledgement is kept so that every delivery is
 * acknowledged once the stage has run. Partial joins expire after a deadline.
 */
import type { StageInput, StageSpec, Tensor } from '../schemas/generated/edgeweave.ts';

export interface ArrivedInput {
  message: StageInput;
  /** Local clock, when the message became usable here (after any emulated downlink delay). */
  arrivedAtMs: number;
  bytes: number;
  /** Time spent crossing this device's downlink (emulated), ms. */
  downMs: number;
  /** For a stage's trigger: the data the job's origin handed this device, by input task, fetched when it was admitted. */
  held?: ReadonlyMap<string, Tensor | undefined>;
  ack: () => void;
}

export interface CompleteJoin {
  key: string;
  parts: ArrivedInput[];
  firstArrivalMs: number;
  readyAtMs: number;
}

/** The producer a stage input comes from: a stage of the plan, or data sent by a device or a planner. */
export function producerOf(source: { fromStage: string; fromDevice: string }): string {
  return source.fromStage !== '' ? source.fromStage : `data@${source.fromDevice}`;
}

/** The producers a stage waits for (one message arrives from each). */
export function expectedProducers(stage: StageSpec): Set<string> {
  const set = new Set<string>();
  for (const input of stage.inputs) set.add(producerOf(input));
  return set;
}

/** Acknowledges every message of a join (its stage ran, failed, or was refused). */
export function ackJoin(join: CompleteJoin): void {
  for (const part of join.parts) part.ack();
}

interface Pending {
  expected: ReadonlySet<string>;
  parts: Map<string, ArrivedInput>;
  /** Acks of superseded copies, sent with the rest. */
  extraAcks: Array<() => void>;
  expiresAtMs: number;
}

export class JoinBuffer {
  private readonly pending = new Map<string, Pending>();

  /**
   * Adds an arrived input under `key` (job, attempt, stage) of a stage that waits for `expected`
   * producers (its spec, or the set `expectedProducers` made of it, computed once by the caller).
   * Returns the complete join when this was the last missing producer, else undefined.
   */
  add(key: string, expected: StageSpec | ReadonlySet<string>, input: ArrivedInput, expiresAtMs: number): CompleteJoin | undefined {
    let entry = this.pending.get(key);
    if (!entry) {
      const producers = 'stageId' in expected ? expectedProducers(expected) : expected;
      // One producer, nothing pending: complete at once, nothing to hold.
      if (producers.size === 1 && producers.has(producerOf(input.message))) {
        return { key, parts: [input], firstArrivalMs: input.arrivedAtMs, readyAtMs: input.arrivedAtMs };
      }
      entry = { expected: producers, parts: new Map(), extraAcks: [], expiresAtMs };
      this.pending.set(key, entry);
    }
    const producer = producerOf(input.message);
    const previous = entry.parts.get(producer);
    if (previous) entry.extraAcks.push(previous.ack);
    entry.parts.set(producer, input);
    for (const p of entry.expected) if (!entry.parts.has(p)) return undefined;
    this.pending.delete(key);
    const parts = [...entry.parts.values()];
    const extra = entry.extraAcks;
    if (extra.length > 0) {
      const first = parts[0]!;
      const ack = first.ack;
      first.ack = () => { ack(); for (const a of extra) a(); };
    }
    let firstArrivalMs = Infinity;
    let readyAtMs = -Infinity;
    for (const p of parts) {
      firstArrivalMs = Math.min(firstArrivalMs, p.arrivedAtMs);
      readyAtMs = Math.max(readyAtMs, p.arrivedAtMs);
    }
    return { key, parts, firstArrivalMs, readyAtMs };
  }

  /** Drops joins whose deadline passed; returns their keys and parts (to acknowledge and report). */
  expire(nowMs: number): Array<{ key: string; parts: ArrivedInput[] }> {
    const out: Array<{ key: string; parts: ArrivedInput[] }> = [];
    for (const [key, entry] of this.pending) {
      if (entry.expiresAtMs <= nowMs) {
        this.pending.delete(key);
        for (const a of entry.extraAcks) a();
        out.push({ key, parts: [...entry.parts.values()] });
      }
    }
    return out;
  }

  /** Drops every pending join of a job attempt (the attempt was superseded or cancelled). */
  dropJob(prefix: string): ArrivedInput[] {
    const dropped: ArrivedInput[] = [];
    for (const [key, entry] of this.pending) {
      if (key.startsWith(prefix)) {
        this.pending.delete(key);
        for (const a of entry.extraAcks) a();
        dropped.push(...entry.parts.values());
      }
    }
    return dropped;
  }

  get size(): number {
    return this.pending.size;
  }
}
