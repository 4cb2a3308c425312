/**
 * Batching the same stage of different jobs into one `predict`, as plain data: which queued
 * items go together (the same compiled stage, up to a maximum), whether batching a stage pays
 * on this host (learned from its own runs), and how the items' inputs are stacked along the
 * batch axis and the outputs split back per item. An executor's run queue (run-queue.ts) takes
 * batches off with these; model-host.ts `runStageBatch` runs one, stage-runner.ts times it.
 *
 * When it pays: batching lowers the total time of the queued work when a batch of b takes less
 * than b runs of one. Per compiled stage, `BatchGains` keeps a moving average of the host time
 * of a run of one and of the per-item host time of a batched run; a stage is batched while the
 * second is at least `minGain` below the first. A figure not measured yet counts as "try it",
 * and every PROBE_EVERY-th decision of a stage goes the other way, so both figures stay current
 * (a stage that stopped paying, or started to, is noticed).
 */
import { EdgeweaveError } from '../schemas/errors.ts';
import type { TensorData, TensorValues } from '../schemas/tensor-codec.ts';

export interface BatchPolicy {
  /** Most items run in one batch (1: never batch). */
  maxBatch: number;
  /**
   * How long the executor may hold a batch that is not full for another input of the same
   * stage, ms; it waits only while such an input is on its way in (crossing the emulated
   * downlink, or its job data being fetched), never for inputs nobody has sent.
   */
  waitMs: number;
  /** Batch a stage while its batched per-item time is this fraction below its time alone. */
  minGain: number;
}

export const DEFAULT_BATCH_POLICY: Readonly<BatchPolicy> = Object.freeze({ maxBatch: 8, waitMs: 2, minGain: 0.05 });

/** Every this many decisions about a stage, one goes against the figures, to measure the other way again. */
export const PROBE_EVERY = 16;
/** Weight of a new measurement in the moving averages. */
const ALPHA = 0.3;

/**
 * Takes out of `queue` the items after the head whose key is `key`, in queue order, at most
 * `max`; the rest of the queue keeps its order.
 */
export function takeSameStage<T>(queue: T[], key: string, keyOf: (item: T) => string | undefined, max: number): T[] {
  const taken: T[] = [];
  if (max <= 0) return taken;
  let kept = 0;
  for (const item of queue) {
    if (taken.length < max && keyOf(item) === key) taken.push(item);
    else queue[kept++] = item;
  }
  queue.length = kept;
  return taken;
}

/** How many items of `queue` have key `key`. */
export function countSameStage<T>(queue: readonly T[], key: string, keyOf: (item: T) => string | undefined): number {
  let n = 0;
  for (const item of queue) if (keyOf(item) === key) n++;
  return n;
}

/** What is known of one compiled stage on this host. */
export interface StageGain {
  /** Moving average of a run of one, host ms (undefined: not measured yet). */
  aloneMs: number | undefined;
  /** Moving average of a batched run per item, host ms (Infinity: the last batch failed). */
  batchedPerItemMs: number | undefined;
  decisions: number;
}

/** Learns per compiled stage whether batching pays on this host (see the file's header). */
export class BatchGains {
  private readonly stages = new Map<string, StageGain>();

  constructor(private readonly minGain = DEFAULT_BATCH_POLICY.minGain) {}

  /** Records a run of `size` items of stage `key` that took `hostMs` on this host (before any emulated slowdown). */
  record(key: string, size: number, hostMs: number): void {
    if (!(size >= 1) || !(hostMs >= 0)) return;
    const g = this.gain(key);
    if (size === 1) g.aloneMs = average(g.aloneMs, hostMs);
    else g.batchedPerItemMs = average(g.batchedPerItemMs, hostMs / size);
  }

  /** A batched run of stage `key` failed (its items then ran one by one): batch it again only when probing. */
  failed(key: string): void {
    this.gain(key).batchedPerItemMs = Infinity;
  }

  /** Whether to batch stage `key` now; counts as a decision (every PROBE_EVERY-th one goes the other way). */
  decide(key: string): boolean {
    const g = this.gain(key);
    g.decisions++;
    const pays = this.pays(g);
    return g.decisions % PROBE_EVERY === 0 ? !pays : pays;
  }

  /** Whether batching stage `key` pays, by its figures alone (no probing). */
  paysFor(key: string): boolean {
    return this.pays(this.gain(key));
  }

  figures(key: string): Readonly<StageGain> | undefined {
    return this.stages.get(key);
  }

  private pays(g: StageGain): boolean {
    if (g.batchedPerItemMs === undefined || g.aloneMs === undefined) return g.batchedPerItemMs !== Infinity;
    return g.batchedPerItemMs <= g.aloneMs * (1 - this.minGain);
  }

  private gain(key: string): StageGain {
    let g = this.stages.get(key);
    if (!g) this.stages.set(key, (g = { aloneMs: undefined, batchedPerItemMs: undefined, decisions: 0 }));
    return g;
  }
}

/** A moving average; a first (or first finite) measurement is taken as it is. */
function average(was: number | undefined, sample: number): number {
  return was === undefined || !Number.isFinite(was) ? sample : was + ALPHA * (sample - was);
}

/** Inputs of several items stacked along the batch axis, and each item's rows of it. */
export interface StackedInputs {
  inputs: Map<string, TensorData>;
  /** Rows (batch entries) of each item, in order. */
  rows: number[];
}

/**
 * Stacks the items' tensors `names` along axis 0. Every item's tensors must agree on their batch
 * size, and every item on the per-sample shape of each tensor. Mixed dtypes of one tensor (an
 * 8-bit image beside a float one) are stacked as float32, the values the model sees either way.
 */
export function stackInputs(items: ReadonlyArray<ReadonlyMap<string, TensorData>>, names: readonly string[]): StackedInputs {
  const rows = items.map((item, k) => {
    let n: number | undefined;
    for (const name of names) {
      const t = item.get(name);
      if (!t) throw new EdgeweaveError('E_STAGE', `batch item ${k} is missing its input tensor ${name}`);
      const b = t.shape[0] ?? 1;
      if (n !== undefined && b !== n) throw new EdgeweaveError('E_TENSOR', `batch item ${k} has inputs of ${n} and ${b} rows`);
      n = b;
    }
    return n ?? 1;
  });
  const inputs = new Map<string, TensorData>();
  for (const name of names) {
    const parts = items.map((item) => item.get(name)!);
    const first = parts[0]!;
    const perSample = first.shape.slice(1);
    for (const p of parts) {
      if (p.shape.length !== first.shape.length || p.shape.some((d, i) => i > 0 && d !== first.shape[i])) {
        throw new EdgeweaveError('E_TENSOR', `input ${name} of a batch has shapes [${first.shape.join(', ')}] and [${p.shape.join(', ')}]`);
      }
    }
    const dtype = parts.every((p) => p.dtype === first.dtype) ? first.dtype : 'float32';
    const length = parts.reduce((s, p) => s + p.values.length, 0);
    const values = allocate(dtype, length);
    let at = 0;
    for (const p of parts) {
      values.set(p.values, at);
      at += p.values.length;
    }
    inputs.set(name, { dtype, shape: [rows.reduce((s, r) => s + r, 0), ...perSample], values });
  }
  return { inputs, rows };
}

/**
 * Splits a batch's outputs back per item (views of the batch's arrays, no copy): item k gets
 * rows[k] rows of each output. An output whose first dimension is not the batch's rows cannot
 * be split; that throws.
 */
export function splitOutputs(outputs: ReadonlyMap<string, TensorData>, rows: readonly number[]): Array<Map<string, TensorData>> {
  const total = rows.reduce((s, r) => s + r, 0);
  const out = rows.map(() => new Map<string, TensorData>());
  for (const [name, t] of outputs) {
    if (t.shape[0] !== total) throw new EdgeweaveError('E_TENSOR', `output ${name} has shape [${t.shape.join(', ')}]; a batch of ${total} rows cannot be split`);
    const perRow = total === 0 ? 0 : t.values.length / total;
    let row = 0;
    rows.forEach((r, k) => {
      out[k]!.set(name, { dtype: t.dtype, shape: [r, ...t.shape.slice(1)], values: t.values.subarray(row * perRow, (row + r) * perRow) });
      row += r;
    });
  }
  return out;
}

function allocate(dtype: TensorData['dtype'], length: number): TensorValues {
  switch (dtype) {
    case 'float32': return new Float32Array(length);
    case 'int32': return new Int32Array(length);
    case 'uint8': return new Uint8Array(length);
  }
}
