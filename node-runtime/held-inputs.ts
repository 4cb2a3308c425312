/**
 * Job input data a device holds for its origin: handed over by a program on the same host
 * (the local socket) or from another host (devices/{id}/hold), kept until the job's deadline
 * or until the origin says the job is over, and read by the job's input stage on this device
 * or sent on to the stage that takes it. Bounded in bytes: past the bound the oldest jobs'
 * data goes first (logged). Data never passes through a planner.
 */
import type { Logger } from 'pino';
import type { HeldInputs, Tensor } from '../schemas/generated/edgeweave.ts';
import { isValidId } from '../schemas/topics.ts';
import { decodeTensor } from '../schemas/tensor-codec.ts';
import { EdgeweaveError } from '../schemas/errors.ts';

export interface HeldLimits {
  /** Bytes of data held at most (default 256 MiB). */
  maxBytes?: number;
  /** Kept this long when the origin names no deadline (default 120 s), and never longer than `maxKeepMs` (default 1 h). */
  defaultKeepMs?: number;
  maxKeepMs?: number;
}

interface Entry {
  tensors: Map<string, Tensor>;
  bytes: number;
  expiresAtMs: number;
}

interface Waiter {
  key: string;
  taskId: string;
  resolve: (t: Tensor | undefined) => void;
  timer: NodeJS.Timeout;
}

/** How long a stage (or a send) waits for data handed over on another path (devices/{id}/hold). */
export const HELD_WAIT_MS = 10_000;

/** Extra time data is kept past the job's deadline: an origin's clock and a late re-plan. */
const KEEP_MARGIN_MS = 10_000;
const MAX_INPUT_ELEMENTS = 2 ** 27;

const keyOf = (origin: string, jobId: string): string => `${origin}\u0000${jobId}`;

/** The tensor for `taskId`: by its name, or the one unnamed tensor (the model's only input). */
function pick(tensors: ReadonlyMap<string, Tensor> | undefined, taskId: string): Tensor | undefined {
  return tensors?.get(taskId) ?? (tensors?.size === 1 ? tensors.get('') : undefined);
}

export class HeldStore {
  private readonly entries = new Map<string, Entry>();
  private readonly waiters = new Set<Waiter>();
  /** Jobs whose origin said they are over, newest last (bounded): a late stage of one does not wait for data. */
  private readonly released = new Set<string>();
  private bytes = 0;
  private readonly maxBytes: number;
  private readonly defaultKeepMs: number;
  private readonly maxKeepMs: number;

  constructor(private readonly deviceId: string, private readonly log: Logger, limits: HeldLimits = {}) {
    this.maxBytes = limits.maxBytes ?? 256 * 2 ** 20;
    this.defaultKeepMs = limits.defaultKeepMs ?? 120_000;
    this.maxKeepMs = limits.maxKeepMs ?? 3_600_000;
  }

  /** Bytes held now. */
  get heldBytes(): number {
    return this.bytes;
  }

  /** Jobs whose data is held now. */
  get jobs(): number {
    return this.entries.size;
  }

  /**
   * Keeps a job's data; throws E_INPUT / E_TENSOR (nothing kept) when the message is not this
   * device's to hold or a tensor is malformed. Data given again for a job replaces the old.
   */
  hold(message: HeldInputs, nowMs = Date.now()): void {
    if (message.originDevice !== this.deviceId) {
      throw new EdgeweaveError('E_INPUT', `device ${this.deviceId} holds data only for its own jobs, not for origin ${JSON.stringify(message.originDevice)}`);
    }
    if (!isValidId(message.jobId)) throw new EdgeweaveError('E_INPUT', `job id ${JSON.stringify(message.jobId.slice(0, 80))} is invalid`);
    if (message.tensors.length === 0) throw new EdgeweaveError('E_INPUT', `the data for job ${message.jobId} holds no tensor`);
    const tensors = new Map<string, Tensor>();
    let bytes = 0;
    for (const t of message.tensors) {
      // No name: the model's only input (as a JobInput with no task id).
      const unnamedOnly = t.name === '' && message.tensors.length === 1;
      if (!unnamedOnly && !isValidId(t.name)) throw new EdgeweaveError('E_INPUT', `a tensor for job ${message.jobId} names no input task (name ${JSON.stringify(t.name)})`);
      if (tensors.has(t.name)) throw new EdgeweaveError('E_INPUT', `input ${t.name} of job ${message.jobId} is given twice`);
      // Kept 4-byte aligned (a copy only when it is not): the stage that reads it views it, no copy then.
      const kept = t.data.byteOffset % 4 === 0 ? t : { ...t, data: new Uint8Array(t.data) };
      decodeTensor(kept, { maxElements: MAX_INPUT_ELEMENTS, requireFinite: true });
      tensors.set(t.name, kept);
      bytes += kept.data.byteLength;
    }
    if (bytes > this.maxBytes) throw new EdgeweaveError('E_INPUT', `the data for job ${message.jobId} (${bytes} bytes) is more than this device holds (${this.maxBytes})`);
    const keepMs = Math.min(this.maxKeepMs, message.keepMs > 0 ? message.keepMs : this.defaultKeepMs) + KEEP_MARGIN_MS;
    const key = keyOf(message.originDevice, message.jobId);
    this.released.delete(key);
    this.drop(key);
    this.entries.set(key, { tensors, bytes, expiresAtMs: nowMs + keepMs });
    this.bytes += bytes;
    this.evictOver(key);
    for (const w of [...this.waiters]) {
      if (w.key !== key) continue;
      const t = pick(tensors, w.taskId);
      if (t) this.settle(w, t);
    }
  }

  /** The tensor feeding `taskId` of the job, waiting up to `waitMs` for it to be handed over; undefined if it is not. */
  take(origin: string, jobId: string, taskId: string, waitMs: number): Promise<Tensor | undefined> {
    const key = keyOf(origin, jobId);
    const now = pick(this.entries.get(key)?.tensors, taskId);
    if (now || waitMs <= 0 || this.released.has(key)) return Promise.resolve(now);
    return new Promise((resolve) => {
      const w: Waiter = { key, taskId, resolve, timer: setTimeout(() => this.settle(w, undefined), waitMs) };
      this.waiters.add(w);
    });
  }

  /** The tensors held for a job, by input task (empty when none). */
  tensorsOf(origin: string, jobId: string): ReadonlyMap<string, Tensor> {
    return this.entries.get(keyOf(origin, jobId))?.tensors ?? new Map();
  }

  /** The job is over: its data goes. */
  release(origin: string, jobId: string): void {
    const key = keyOf(origin, jobId);
    this.drop(key);
    this.released.add(key);
    if (this.released.size > 4096) this.released.delete(this.released.values().next().value as string);
    for (const w of [...this.waiters]) if (w.key === key) this.settle(w, undefined);
  }

  /** Drops data past its time. */
  expire(nowMs = Date.now()): void {
    for (const [key, e] of this.entries) if (e.expiresAtMs <= nowMs) this.drop(key);
  }

  close(): void {
    for (const w of [...this.waiters]) this.settle(w, undefined);
    this.entries.clear();
    this.bytes = 0;
  }

  private settle(w: Waiter, t: Tensor | undefined): void {
    clearTimeout(w.timer);
    this.waiters.delete(w);
    w.resolve(t);
  }

  private drop(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    this.bytes -= e.bytes;
  }

  /** Oldest first (insertion order), never the job just handed over. */
  private evictOver(keep: string): void {
    for (const [key, e] of this.entries) {
      if (this.bytes <= this.maxBytes) return;
      if (key === keep) continue;
      this.log.warn({ job: key.split('\u0000')[1], bytes: e.bytes, maxBytes: this.maxBytes }, 'held job data dropped to make room (its job can no longer be planned again)');
      this.drop(key);
    }
  }
}
