/**
 * An executor's run queue: complete joins, taken off one run at a time in the order the plans
 * placed them — the stage planned to start first goes first (reference clock: the job's
 * submission at its planner plus the stage's predicted start), whatever order they came in.
 * The planner fits a new job's stages into the gaps other jobs leave on a device; run in arrival
 * order instead, a stage fitted into a gap would queue behind work planned after it, and a job
 * whose stages the plan spreads over several gaps would queue once per stage. A stage with no
 * prediction goes by the time it became ready. The queue never idles: its first stage runs as
 * soon as it is ready, planned start or not.
 *
 * A run is that stage alone, or — when batching is on (edge and cloud devices, real compute) and
 * pays for its compiled stage on this host — that stage with the other queued stages of its
 * compiled stage, up to `maxBatch` (stage-batch.ts). A batch that is not full waits up to
 * `waitMs` for an input of its stage that is on its way in; with none on its way it does not
 * wait. What each run measured is learned here, per compiled stage.
 */
import type { Logger } from 'pino';
import { BatchGains, countSameStage, takeSameStage, type BatchPolicy } from './stage-batch.ts';
import type { RunnableStage } from './stage-prepare.ts';
import type { BatchRun, StageItem } from './stage-runner.ts';

export interface RunQueueOptions {
  /** `maxBatch` below 2: no batching. */
  policy: Readonly<BatchPolicy>;
  /**
   * Runs the stages of one run (claims them, computes, sends on); resolves when the next run may
   * start, with what the computation did (undefined when none of them ran, e.g. all duplicates).
   */
  run: (items: StageItem[]) => Promise<{ ran: readonly StageItem[]; result: BatchRun } | undefined>;
  /** Load accounting: stages queued (+n) and taken off after their run (-n). */
  queued: (delta: number) => void;
  /** Reference clock minus this host's (to compare ready times with planned starts). */
  clockOffsetMs: () => number;
  log: Logger;
}

/** When a stage was planned to start, on the reference clock; when it became ready if its plan does not say. */
export function plannedStartOf(item: StageItem, clockOffsetMs: number): number {
  const { plan, spec } = item.stage;
  if (plan.submittedAtMs > 0 && spec.predicted) return plan.submittedAtMs + spec.predicted.startMs;
  return item.join.readyAtMs + clockOffsetMs;
}

export class RunQueue {
  /** Queued stages with their planned starts (plannedStartOf). */
  private readonly queue: { item: StageItem; start: number }[] = [];
  /** The loop running the queue, while it runs. */
  private draining: Promise<void> | undefined;
  /** Ends a batch's bounded wait early: a stage was queued. */
  private wake: (() => void) | undefined;
  /** Inputs on their way in (emulated downlink, held data being fetched), by batch key. */
  private readonly inbound = new Map<string, number>();
  private readonly gains: BatchGains;
  private stopped = false;

  constructor(private readonly options: RunQueueOptions) {
    this.gains = new BatchGains(options.policy.minGain);
  }

  push(item: StageItem): void {
    this.options.queued(1);
    this.queue.push({ item, start: plannedStartOf(item, this.options.clockOffsetMs()) });
    this.wake?.();
    if (this.draining) return;
    this.draining = this.drain();
  }

  /** Counts an input of `stage` on its way in (a batch of its stage may wait for it); the returned call says it arrived. */
  onTheWay(stage: RunnableStage): () => void {
    const key = this.keyOf(stage);
    if (key === undefined) return () => undefined;
    this.inbound.set(key, (this.inbound.get(key) ?? 0) + 1);
    let counted = true;
    return () => {
      if (!counted) return;
      counted = false;
      const n = (this.inbound.get(key) ?? 1) - 1;
      if (n > 0) this.inbound.set(key, n);
      else this.inbound.delete(key);
    };
  }

  /** Ends any wait for a batch; resolves when the run under way and the queue behind it are done. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.draining;
  }

  /** Stages that may run in one batch share this key: the model and the compiled stage (its tasks, steps and graph options). */
  private keyOf(stage: RunnableStage): string | undefined {
    if (this.options.policy.maxBatch < 2 || !stage.compiled.ok) return undefined;
    return `${stage.compiled.model.modelHash}/${stage.compiled.stage.key}`;
  }

  /** Runs the queue until it is empty, one run (a stage, or a batch of one compiled stage) at a time. */
  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const items = await this.next();
        try {
          const done = await this.options.run(items);
          if (done) this.learn(done.ran, done.result);
        } catch (err) {
          this.options.log.error({ err, keys: items.map((w) => w.stage.key) }, 'stage failed unexpectedly');
        } finally {
          this.options.queued(-items.length);
        }
      }
    } finally {
      // Cleared in the same turn as the last emptiness check: a push after it starts a new loop.
      this.draining = undefined;
    }
  }

  /** The next run: the head, with the queued stages of its compiled stage when batching it pays. */
  private async next(): Promise<StageItem[]> {
    let head = 0;
    for (let i = 1; i < this.queue.length; i++) if (this.queue[i]!.start < this.queue[head]!.start) head = i;
    const first = this.queue.splice(head, 1)[0]!.item;
    const key = this.keyOf(first.stage);
    if (key === undefined) return [first];
    const { maxBatch, waitMs } = this.options.policy;
    const keyOf = (w: { item: StageItem }): string | undefined => this.keyOf(w.item.stage);
    const take = (max: number): StageItem[] => takeSameStage(this.queue, key, keyOf, max).map((w) => w.item);
    const coming = (): boolean => waitMs > 0 && (this.inbound.get(key) ?? 0) > 0 && !this.stopped;
    if (countSameStage(this.queue, key, keyOf) === 0 && !coming()) return [first];
    if (!this.gains.decide(key)) return [first];
    const batch = [first, ...take(maxBatch - 1)];
    const deadline = performance.now() + waitMs;
    while (batch.length < maxBatch && coming()) {
      const left = deadline - performance.now();
      if (left <= 0) break;
      await this.pushed(left);
      batch.push(...take(maxBatch - batch.length));
    }
    return batch;
  }

  /** Resolves when a stage is queued (or the queue stops), or after `ms`. */
  private pushed(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  /** What a run says of batching its stage here: its host time alone or batched, or that its batch failed. */
  private learn(items: readonly StageItem[], ran: BatchRun): void {
    const first = items[0];
    const key = first && this.keyOf(first.stage);
    if (key === undefined) return;
    const only = ran.items.length === 1 ? ran.items[0] : undefined;
    if (only?.ok) this.gains.record(key, 1, only.run.timing.hostComputeMs ?? 0);
    if (ran.batch) {
      this.gains.record(key, ran.batch.size, ran.batch.hostMs);
      this.options.log.debug({ stageKey: key, size: ran.batch.size, hostMs: ran.batch.hostMs }, 'stages batched');
    }
    // Run again one by one, every item ran: the batch itself failed, not a bad job in it.
    if (ran.fellBack && ran.items.every((r) => r.ok)) this.gains.failed(key);
  }
}
