/**
 * Which stages a device has run: the idempotency record behind "every stage runs once".
 * A stage is identified by (job, attempt, stage). An executor claims a stage before it
 * runs it; a second claim of the same stage (a redelivery, a duplicate) is refused.
 * When an executor dies, its running claims are released, so the redelivered input can
 * run on another executor. Finished stages are remembered (bounded, oldest forgotten
 * first) long enough to recognise late duplicates.
 */

export type ClaimOutcome = 'claimed' | 'running' | 'done';

export function stageKey(jobId: string, attempt: number, stageId: string): string {
  return `${jobId}\u0000${attempt}\u0000${stageId}`;
}

export class StageLedger {
  private readonly running = new Map<string, string>();
  private readonly done = new Map<string, true>();

  constructor(private readonly rememberDone = 200_000) {}

  /** Claims `key` for `owner` unless someone runs it or it ran already. */
  claim(key: string, owner: string): ClaimOutcome {
    if (this.done.has(key)) return 'done';
    const holder = this.running.get(key);
    if (holder !== undefined) return holder === owner ? 'claimed' : 'running';
    this.running.set(key, owner);
    return 'claimed';
  }

  /** Marks a claimed stage finished. */
  complete(key: string): void {
    this.running.delete(key);
    this.done.set(key, true);
    if (this.done.size > this.rememberDone) {
      const oldest = this.done.keys().next();
      if (!oldest.done) this.done.delete(oldest.value);
    }
  }

  /** Gives a claim back without finishing (the stage failed or was abandoned). */
  release(key: string): void {
    this.running.delete(key);
  }

  /** Releases every running claim of `owner` (an executor that died). Returns how many. */
  releaseOwner(owner: string): number {
    let n = 0;
    for (const [key, holder] of this.running) {
      if (holder === owner) {
        this.running.delete(key);
        n++;
      }
    }
    return n;
  }

  isDone(key: string): boolean {
    return this.done.has(key);
  }
}
