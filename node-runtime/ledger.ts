/**
 * Which stages a device has run: the idempotency record behind "every stage runs once".
 * A stage is identified by (origin, job, attempt, stage). An executor claims a stage before
 * it runs it; a second claim of the same stage (a redelivery, a duplicate) is refused.
 * When an executor dies, its running claims are released, so the redelivered input can
 * run on another executor. Finished stages are remembered (bounded, oldest forgotten
 * first) long enough to recognise late duplicates.
 *
 * The ledger lives in the device process, never in a worker: it is the device's commit
 * point. A final stage's result is committed here (the stage marked done and the result
 * handed to the device's own connection in one step), so a worker killed after computing
 * cannot make a stage's result go out twice; see docs/RELIABILITY.md.
 */

export type ClaimOutcome = 'claimed' | 'running' | 'done';

/** A job across the fleet: job ids are unique per origin only. */
export function jobKey(originId: string, jobId: string): string {
  return `${originId}\u0000${jobId}`;
}

/** Prefix of every stage key of one attempt of a job. */
export function attemptPrefix(originId: string, jobId: string, attempt: number): string {
  return `${jobKey(originId, jobId)}\u0000${attempt}\u0000`;
}

export function stageKey(originId: string, jobId: string, attempt: number, stageId: string): string {
  return `${attemptPrefix(originId, jobId, attempt)}${stageId}`;
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

/**
 * The jobs whose result a device has sent, whatever the attempt: one result per job leaves a
 * device, even when two attempts of the job both end here. Bounded, oldest forgotten first.
 */
export class ResultLedger {
  private readonly sent = new Map<string, number>();

  constructor(private readonly remember = 200_000) {}

  /** Records that `attempt` sends the job's result; false when one was sent already. */
  claim(job: string, attempt: number): boolean {
    if (this.sent.has(job)) return false;
    this.sent.set(job, attempt);
    if (this.sent.size > this.remember) this.sent.delete(this.sent.keys().next().value as string);
    return true;
  }

  /** The attempt whose result went out, if any. */
  sentAttempt(job: string): number | undefined {
    return this.sent.get(job);
  }
}
